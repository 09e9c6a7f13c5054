/**
 * The dispatcher: finds the command, parses its arguments with `node:util` parseArgs, opens the
 * store, runs it, and turns every failure into one line and an exit code (0 ok, 1 error, 2 usage).
 */
import { parseArgs } from 'node:util';
import { GLOBAL_HELP, GLOBAL_OPTIONS, type Command, type OptionSpecs, type ParsedValues } from './command.js';
import { createOutput, fields, styles, useColor } from './output.js';
import { registryCommands } from './registry-commands.js';
import { rolloutCommands } from './rollout-commands.js';
import { DEFAULT_STORE, openStore, parseStoreUrl, type OpenStore } from './store-url.js';
import { UsageError } from './usage-error.js';

/** The streams and environment the command runs with (the process's, or a test's). */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Starts catching Ctrl-C; resolves on it. */
  interrupted(): Promise<void>;
}

const COMMANDS: readonly Command[] = [...registryCommands, ...rolloutCommands];
/** Commands with sub-commands (`alias set`): the group's name and its members. */
const GROUPS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0] as string));

function find(positionals: readonly string[]): { command: Command; words: number } | undefined {
  const [first, second] = positionals;
  if (first !== undefined && GROUPS.has(first)) {
    const command = COMMANDS.find((c) => c.name === `${first} ${second ?? ''}`);
    return command && { command, words: 2 };
  }
  const command = COMMANDS.find((c) => c.name === first);
  return command && { command, words: 1 };
}

/** Every option of every command, so a first pass can tell option values from the command name. */
function allOptions(): OptionSpecs {
  const all: OptionSpecs = { ...GLOBAL_OPTIONS };
  for (const c of COMMANDS) Object.assign(all, c.options);
  return all;
}

function mainHelp(color: boolean): string {
  const s = styles(color);
  const width = Math.max(...COMMANDS.map((c) => `${c.name} ${c.usage}`.length));
  const lines = COMMANDS.map((c) => `  ${`${c.name} ${c.usage}`.padEnd(width)}  ${c.summary}`);
  return [
    `${s.bold('Usage:')} model-rollout <command> [arguments] [options]`,
    '',
    'Inspect and steer the model registry and the rollouts kept in a store.',
    '',
    s.bold('Commands:'),
    ...lines,
    '',
    s.bold('Options of every command:'),
    fields(GLOBAL_HELP.map(([k, v]) => [`  ${k}`, v] as const), s).trimEnd(),
    '',
    "Run 'model-rollout <command> --help' for a command's arguments and options.",
    '',
  ].join('\n');
}

function commandHelp(command: Command, color: boolean): string {
  const s = styles(color);
  const options = [...(command.optionHelp ?? []), ...GLOBAL_HELP];
  return [
    `${s.bold('Usage:')} model-rollout ${command.name} ${command.usage}`.trimEnd(),
    '',
    command.summary,
    ...(command.details === undefined ? [] : ['', command.details]),
    '',
    s.bold('Options:'),
    fields(options.map(([k, v]) => [`  ${k}`, v] as const), s).trimEnd(),
    '',
  ].join('\n');
}

function parse(argv: string[], options: OptionSpecs, strict: boolean): { values: ParsedValues; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict });
    return { values: parsed.values as ParsedValues, positionals: parsed.positionals };
  } catch (err) {
    // parseArgs' messages name the option and what it wanted; keep the first sentence.
    throw new UsageError((err as Error).message.split('\n')[0] as string, { cause: err });
  }
}

/** One line: the error's class and message, newlines folded (the stack only with --debug). */
export function errorLine(err: unknown): string {
  const name = err instanceof Error ? err.name : 'Error';
  const message = err instanceof Error ? err.message : String(err);
  return `model-rollout: ${name}: ${message.replace(/\s*\n\s*/g, ' ')}`;
}

/** Runs one command line; resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const debug = argv.includes('--debug');
  const opened: { store?: OpenStore } = {};
  try {
    const first = parse(argv, allOptions(), false);
    const found = find(first.positionals);
    const json = first.values.json === true;
    if (found === undefined) {
      const [word] = first.positionals;
      if (word === undefined || word === 'help') {
        io.stdout.write(mainHelp(!json && useColor(io.stdout, io.env)));
        return word === undefined && first.values.help !== true ? 2 : 0;
      }
      if (GROUPS.has(word)) {
        const subs = COMMANDS.filter((c) => c.name.startsWith(`${word} `)).map((c) => c.name.split(' ')[1]);
        throw new UsageError(`'${word}' needs a sub-command (${subs.join(', ')}), got ${first.positionals[1] === undefined ? 'none' : `'${first.positionals[1]}'`}`);
      }
      throw new UsageError(`unknown command '${word}'; expected one of: ${[...new Set(COMMANDS.map((c) => c.name.split(' ')[0]))].join(', ')}`);
    }
    const { command, words } = found;
    if (first.values.help === true) {
      io.stdout.write(commandHelp(command, useColor(io.stdout, io.env)));
      return 0;
    }
    const { values, positionals } = parse(argv, { ...GLOBAL_OPTIONS, ...command.options }, true);
    const args = positionals.slice(words);
    const { required, optional = 0, variadic = false } = command.positionals;
    if (args.length < required || (!variadic && args.length > required + optional)) {
      throw new UsageError(`${command.name} takes ${command.usage || 'no arguments'}, got ${args.length === 0 ? 'none' : args.map((a) => `'${a}'`).join(' ')}; see model-rollout ${command.name} --help`);
    }
    const url = (values.store as string | undefined) ?? io.env.MODEL_ROLLOUT_STORE ?? DEFAULT_STORE;
    const location = parseStoreUrl(url, io.cwd);
    const out = createOutput(io.stdout as never, { json: values.json === true, env: io.env });
    const code = await command.run({
      args,
      values,
      out,
      style: styles(out.color),
      err: { write: (text) => void io.stderr.write(text), isTTY: io.stderr.isTTY === true },
      env: io.env,
      store: async () => (opened.store ??= await openStore(location, io.env)),
      interrupted: io.interrupted,
    });
    return code ?? 0;
  } catch (err) {
    io.stderr.write(`${errorLine(err)}\n`);
    if (debug && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    if (err instanceof UsageError) return 2;
    return 1;
  } finally {
    await opened.store?.close().catch(() => {});
  }
}
