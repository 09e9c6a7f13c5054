/**
 * What every command is: its options for `node:util`'s parseArgs, its positional arguments, its
 * help, and what it does. The dispatcher in `run.ts` parses with parseArgs only (no hand parsing).
 */
import type { ParseArgsConfig } from 'node:util';
import type { OpenStore } from './store-url.js';
import type { Output, Styles } from './output.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/** What a command gets when it runs. */
export interface CommandContext {
  /** Positional arguments after the command name (and sub-command). */
  args: string[];
  values: ParsedValues;
  out: Output;
  style: Styles;
  /** Where progress and warnings go (stderr), and whether it is a terminal. */
  err: { write(text: string): void; isTTY: boolean };
  env: NodeJS.ProcessEnv;
  /** Opens the store given by `--store` / `MODEL_ROLLOUT_STORE` (once; closed by the dispatcher). */
  store(): Promise<OpenStore>;
  /**
   * Resolves when the user interrupts (Ctrl-C / SIGINT / SIGTERM). Only a command that asks
   * catches the signal; any other command is stopped by it as usual.
   */
  interrupted(): Promise<void>;
}

export interface Command {
  /** `versions`, `alias set` … */
  name: string;
  /** `<model> [ref]` */
  usage: string;
  summary: string;
  /** More lines for `--help`. */
  details?: string;
  /** Required positionals, then optional ones. */
  positionals: { required: number; optional?: number; variadic?: boolean };
  options: OptionSpecs;
  /** `[flag, what it does]` for each of `options`, shown by `--help`. */
  optionHelp?: ReadonlyArray<readonly [string, string]>;
  /** A read command takes `--json` (writes take it too, printing what they wrote). */
  run(ctx: CommandContext): Promise<number | void>;
}

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  store: { type: 'string' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const GLOBAL_HELP = [
  ['--store URL', 'file:<dir> (default file:./models), postgres://…, s3://bucket/prefix?endpoint=…; or MODEL_ROLLOUT_STORE'],
  ['--json', 'machine-readable output'],
  ['--debug', 'print the stack of an error'],
  ['-h, --help', 'this help'],
] as const;
