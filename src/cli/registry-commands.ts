/** `models`, `versions`, `show`, `register`, `alias set|rm|history`, `verify`: the registry from a shell. */
import { stat } from 'node:fs/promises';
import { IntegrityError, NotFoundError } from '../errors.js';
import { ModelRegistry } from '../registry/model-registry.js';
import type { Lineage, ModelVersion, VersionRef } from '../registry/model-version.js';
import { hasLocalFiles } from '../storage/storage-adapter.js';
import type { Command, CommandContext } from './command.js';
import { operatorName } from './operator.js';
import { fields, formatBytes, formatPairs, table } from './output.js';
import { PROGRESS_MIN_BYTES, readWithProgress } from './progress.js';
import { UsageError } from './usage-error.js';

async function registryOf(ctx: CommandContext, forWrites = false): Promise<ModelRegistry> {
  const open = await ctx.store();
  if (forWrites) await open.prepareWrites();
  return new ModelRegistry({ storage: open.storage });
}

/** The model's records (archived too), or a NotFoundError naming the models there are. */
async function versionsOf(registry: ModelRegistry, model: string): Promise<ModelVersion[]> {
  const versions = await registry.listVersions(model, { includeArchived: true });
  if (versions.length > 0) return versions;
  const models = await registry.listModels();
  throw new NotFoundError(`model '${model}' has no versions in this store (models: ${models.length > 0 ? models.join(', ') : 'none'})`);
}

/** version → the aliases pointing at it. */
function aliasesByVersion(aliases: Record<string, number>): Map<number, string[]> {
  const map = new Map<number, string[]>();
  for (const [alias, version] of Object.entries(aliases).sort()) map.set(version, [...(map.get(version) ?? []), alias]);
  return map;
}

/** `k=v` pairs of a repeated option. */
function pairs(option: string, given: unknown): Array<[string, string]> {
  const list = Array.isArray(given) ? (given as string[]) : [];
  return list.map((item) => {
    const at = item.indexOf('=');
    if (at <= 0) throw new UsageError(`--${option} must be key=value, got '${item}'`);
    return [item.slice(0, at), item.slice(at + 1)];
  });
}

/** `--lineage data=… code=… parent=iris:2 params.C=1 environment.sklearn=1.5.2` → a Lineage. */
export function parseLineage(given: Array<[string, string]>): Lineage {
  const lineage: Lineage = {};
  for (const [key, value] of given) {
    if (key === 'data' || key === 'code') lineage[key] = value;
    else if (key === 'parent') {
      const match = /^([^:@]+)[:@]([1-9][0-9]*)$/.exec(value);
      if (!match) throw new UsageError(`--lineage parent must be <model>:<version>, e.g. parent=iris:2, got '${value}'`);
      lineage.parent = { name: match[1] as string, version: Number(match[2]) };
    } else if (key.startsWith('params.') && key.length > 'params.'.length) {
      // A param is JSON when it parses (C=1 is the number 1, fit_intercept=true a boolean), else text.
      let parsed: unknown = value;
      try {
        parsed = JSON.parse(value);
      } catch {
        /* text */
      }
      lineage.params = { ...lineage.params, [key.slice('params.'.length)]: parsed };
    } else if (key.startsWith('environment.') && key.length > 'environment.'.length) {
      lineage.environment = { ...lineage.environment, [key.slice('environment.'.length)]: value };
    } else {
      throw new UsageError(`--lineage key must be data, code, parent, params.<name> or environment.<name>, got '${key}'`);
    }
  }
  return lineage;
}

const models: Command = {
  name: 'models',
  usage: '',
  summary: 'list the models, their latest version and aliases',
  positionals: { required: 0 },
  options: {},
  async run(ctx) {
    const registry = await registryOf(ctx);
    const names = await registry.listModels();
    const rows = await Promise.all(
      names.map(async (name) => {
        const versions = await registry.listVersions(name, { includeArchived: true });
        const latest = versions.filter((v) => v.status === 'active').at(-1);
        return { name, versions: versions.length, latest: latest?.version ?? null, aliases: await registry.getAliases(name) };
      }),
    );
    if (ctx.out.json) return ctx.out.writeJson(rows);
    ctx.out.write(
      table(
        ['MODEL', 'VERSIONS', 'LATEST', 'ALIASES'],
        rows.map((r) => [ctx.style.cyan(r.name), String(r.versions), r.latest === null ? '-' : String(r.latest), formatPairs(r.aliases)]),
        ctx.style,
      ),
    );
  },
};

const versions: Command = {
  name: 'versions',
  usage: '<model>',
  summary: 'list the versions of a model (created, sha256, size, aliases, tags, status)',
  positionals: { required: 1 },
  options: {},
  async run(ctx) {
    const registry = await registryOf(ctx);
    const model = ctx.args[0] as string;
    const list = await versionsOf(registry, model);
    const byVersion = aliasesByVersion(await registry.getAliases(model));
    if (ctx.out.json) return ctx.out.writeJson(list.map((v) => ({ ...v, aliases: byVersion.get(v.version) ?? [] })));
    ctx.out.write(
      table(
        ['VERSION', 'CREATED', 'SHA256', 'SIZE', 'ALIASES', 'TAGS', 'STATUS'],
        list.map((v) => [
          String(v.version),
          v.createdAt.replace(/\.\d+Z$/, 'Z'),
          v.sha256.slice(0, 12),
          formatBytes(v.size),
          (byVersion.get(v.version) ?? []).map((a) => ctx.style.green(`@${a}`)).join(' ') || '-',
          formatPairs(v.tags),
          v.status === 'active' ? v.status : ctx.style.dim(v.status),
        ]),
        ctx.style,
      ),
    );
  },
};

const show: Command = {
  name: 'show',
  usage: '<model> <ref>',
  summary: 'one version: signature, lineage, ONNX facts (ref: 3, latest or @alias)',
  positionals: { required: 2 },
  options: {},
  async run(ctx) {
    const registry = await registryOf(ctx);
    const [model, ref] = ctx.args as [string, string];
    const v = await registry.resolve(model, ref as VersionRef);
    const aliases = aliasesByVersion(await registry.getAliases(model)).get(v.version) ?? [];
    if (ctx.out.json) return ctx.out.writeJson({ ...v, aliases });
    const { lineage, onnx } = v;
    const s = ctx.style;
    ctx.out.write(
      fields(
        [
          ['model', s.cyan(v.name)],
          ['version', String(v.version)],
          ['created', v.createdAt],
          ['status', v.status],
          ['aliases', aliases.map((a) => `@${a}`).join(' ') || '-'],
          ['format', v.format],
          ['sha256', v.sha256],
          ['size', `${formatBytes(v.size)} (${v.size} bytes)`],
          ['description', v.description || '-'],
          ['tags', formatPairs(v.tags)],
          ['lineage.data', lineage.data ?? '-'],
          ['lineage.code', lineage.code ?? '-'],
          ['lineage.parent', lineage.parent ? `${lineage.parent.name}:${lineage.parent.version}` : '-'],
          ['lineage.params', formatPairs(lineage.params)],
          ['lineage.environment', formatPairs(lineage.environment)],
          ['onnx.irVersion', onnx ? String(onnx.irVersion) : '-'],
          ['onnx.producer', onnx ? `${onnx.producerName} ${onnx.producerVersion}`.trim() || '-' : '-'],
          ['onnx.opsets', onnx ? onnx.opsetImports.map((o) => `${o.domain || 'ai.onnx'}:${o.version}`).join(' ') : '-'],
          ['onnx.metadata', formatPairs(onnx?.metadata)],
          ['validatedBy', v.validatedBy ? `${v.validatedBy.runtime} ${v.validatedBy.version}` : '-'],
        ],
        s,
      ),
    );
    if (v.signature) {
      const rows = [
        ...v.signature.inputs.map((t) => ['input', t.name, t.type, `[${t.shape.join(', ')}]`]),
        ...v.signature.outputs.map((t) => ['output', t.name, t.type, `[${t.shape.join(', ')}]`]),
      ];
      ctx.out.write(`\n${table(['SIGNATURE', 'NAME', 'TYPE', 'SHAPE'], rows, s)}`);
    }
  },
};

const register: Command = {
  name: 'register',
  usage: '<model> <file.onnx>',
  summary: 'register a file as the next version (validated with onnxruntime first)',
  details: 'Lineage keys: data, code, parent=<model>:<version>, params.<name> (a JSON value or text), environment.<name>.',
  positionals: { required: 2 },
  options: { description: { type: 'string' }, tag: { type: 'string', multiple: true }, lineage: { type: 'string', multiple: true } },
  optionHelp: [
    ['--description TEXT', 'what this version is'],
    ['--tag k=v', 'a tag (repeat for more)'],
    ['--lineage k=v', 'where it came from: data=…, code=git:…, parent=iris:2, params.C=1 (repeat)'],
  ],
  async run(ctx) {
    const [model, file] = ctx.args as [string, string];
    const tags = Object.fromEntries(pairs('tag', ctx.values.tag));
    const lineage = parseLineage(pairs('lineage', ctx.values.lineage));
    const size = await stat(file).then(
      (s) => (s.isFile() ? s.size : undefined),
      () => undefined,
    );
    if (size === undefined) throw new NotFoundError(`artifact file must be a readable file, got '${file}' (no such file)`);
    const registry = await registryOf(ctx, true);
    const artifact = ctx.err.isTTY && size >= PROGRESS_MIN_BYTES ? readWithProgress(file, size, ctx.err) : file;
    const description = ctx.values.description as string | undefined;
    const v = await registry.register(model, artifact, { tags, lineage, ...(description === undefined ? {} : { description }) });
    if (ctx.out.json) return ctx.out.writeJson(v);
    ctx.out.write(`registered ${ctx.style.cyan(v.name)} version ${ctx.style.bold(String(v.version))} (sha256 ${v.sha256.slice(0, 12)}, ${formatBytes(v.size)})\n`);
  },
};

const whoOptions = {
  by: { type: 'string' },
  reason: { type: 'string' },
} as const;
const whoHelp = [
  ['--by NAME', 'who makes the change (default operator:<user>@<host>)'],
  ['--reason TEXT', 'why, kept in the history'],
] as const;

const aliasSet: Command = {
  name: 'alias set',
  usage: '<model> <alias> <ref>',
  summary: 'point an alias at a version (compare-and-swap; kept in its history)',
  positionals: { required: 3 },
  options: whoOptions,
  optionHelp: whoHelp,
  async run(ctx) {
    const [model, alias, ref] = ctx.args as [string, string, string];
    const registry = await registryOf(ctx, true);
    const v = await registry.resolve(model, ref as VersionRef);
    const by = operatorName(ctx);
    const reason = ctx.values.reason as string | undefined;
    await registry.setAlias(model, alias, v.version, { by, ...(reason === undefined ? {} : { reason }) });
    if (ctx.out.json) return ctx.out.writeJson({ model: v.name, alias: alias.toLowerCase(), version: v.version, by });
    ctx.out.write(`${ctx.style.cyan(v.name)}@${alias.toLowerCase()} → version ${v.version}\n`);
  },
};

const aliasRm: Command = {
  name: 'alias rm',
  usage: '<model> <alias>',
  summary: 'remove an alias (kept in its history)',
  positionals: { required: 2 },
  options: whoOptions,
  optionHelp: whoHelp,
  async run(ctx) {
    const [model, alias] = ctx.args as [string, string];
    const registry = await registryOf(ctx, true);
    const by = operatorName(ctx);
    const reason = ctx.values.reason as string | undefined;
    await registry.deleteAlias(model, alias, { by, ...(reason === undefined ? {} : { reason }) });
    if (ctx.out.json) return ctx.out.writeJson({ model: model.toLowerCase(), alias: alias.toLowerCase(), version: null, by });
    ctx.out.write(`${ctx.style.cyan(model.toLowerCase())}@${alias.toLowerCase()} removed\n`);
  },
};

const aliasHistory: Command = {
  name: 'alias history',
  usage: '<model> <alias>',
  summary: 'every move of an alias, oldest first',
  positionals: { required: 2 },
  options: {},
  async run(ctx) {
    const [model, alias] = ctx.args as [string, string];
    const registry = await registryOf(ctx);
    await versionsOf(registry, model);
    const history = await registry.aliasHistory(model, alias);
    if (history.length === 0) throw new NotFoundError(`model '${model.toLowerCase()}' alias '${alias.toLowerCase()}' was never set`);
    if (ctx.out.json) return ctx.out.writeJson(history);
    ctx.out.write(
      table(
        ['AT', 'VERSION', 'PREVIOUS', 'BY', 'REASON'],
        history.map((e) => [e.at, e.version === null ? ctx.style.red('removed') : String(e.version), e.previous === null ? '-' : String(e.previous), e.by ?? '-', e.reason ?? '-']),
        ctx.style,
      ),
    );
  },
};

const verify: Command = {
  name: 'verify',
  usage: '<model> [ref]',
  summary: 're-hash the artifacts of a model (or one version) and list the corrupt ones; exit 1 if any',
  positionals: { required: 1, optional: 1 },
  options: {},
  async run(ctx) {
    const [model, ref] = ctx.args as [string, string | undefined];
    const registry = await registryOf(ctx);
    const list = ref === undefined ? await versionsOf(registry, model) : [await registry.resolve(model, ref as VersionRef)];
    const local = hasLocalFiles(registry.storage);
    const results = [];
    for (const v of list) {
      try {
        // A local blob is streamed; other stores' bytes are fetched and hashed (never a cached copy).
        if (local) await registry.loadArtifactFile(v.name, v.version);
        else await registry.loadArtifact(v.name, v.version);
        results.push({ version: v.version, sha256: v.sha256, ok: true, problem: null });
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
        results.push({ version: v.version, sha256: v.sha256, ok: false, problem: err.message });
      }
    }
    const corrupt = results.filter((r) => !r.ok);
    if (ctx.out.json) ctx.out.writeJson({ model: list[0]?.name ?? model, checked: results.length, corrupt: corrupt.length, results });
    else {
      const s = ctx.style;
      ctx.out.write(table(['VERSION', 'SHA256', 'RESULT'], results.map((r) => [String(r.version), r.sha256.slice(0, 12), r.ok ? s.green('ok') : s.red(`corrupt: ${r.problem}`)]), s));
      ctx.out.write(`${corrupt.length === 0 ? s.green(`all ${results.length} verified`) : s.red(`${corrupt.length} of ${results.length} corrupt`)}\n`);
    }
    return corrupt.length === 0 ? 0 : 1;
  },
};

export const registryCommands: readonly Command[] = [models, versions, show, register, aliasSet, aliasRm, aliasHistory, verify];
