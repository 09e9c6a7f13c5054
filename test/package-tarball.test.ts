/**
 * The package as a user installs it: `npm pack`, unpacked into a consumer project's node_modules
 * (the consumer sits inside the repository, so the package's own dependencies resolve from the
 * repository's node_modules without a registry). Checks what the tarball holds, that every
 * relative link in its markdown opens a file it holds, that both entries load in ESM and CJS, and
 * that a strict TypeScript consumer sees every subpath under each moduleResolution mode.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
  typesVersions?: Record<string, Record<string, string[]>>;
};
/** 'model-rollout', 'model-rollout/testing', … : every subpath package.json exports, except package.json. */
const SPECIFIERS = Object.keys(manifest.exports)
  .filter((key) => !key.endsWith('.json'))
  .map((key) => (key === '.' ? 'model-rollout' : `model-rollout/${key.slice(2)}`));

let consumer: string;
let files: string[];

/** Parsed declaration files shared by the four programs (@types/node alone is most of the work). */
const parsed = new Map<string, ts.SourceFile | undefined>();
function cachingHost(options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError) => {
    if (!fileName.endsWith('.d.ts') && !fileName.endsWith('.d.cts') && !fileName.endsWith('.d.mts')) return getSourceFile(fileName, languageVersion, onError);
    const key = `${fileName}\0${typeof languageVersion === 'object' ? `${languageVersion.languageVersion}:${languageVersion.impliedNodeFormat}` : languageVersion}`;
    if (!parsed.has(key)) parsed.set(key, getSourceFile(fileName, languageVersion, onError));
    return parsed.get(key);
  };
  return host;
}

beforeAll(async () => {
  // `npm test` builds before vitest; a lone run builds here.
  if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) {
    await run(process.execPath, [path.join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js')], { cwd: ROOT });
  }
  consumer = mkdtempSync(path.join(ROOT, '.tarball-test-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', consumer], {
    cwd: ROOT,
    env: { ...process.env, npm_config_loglevel: 'error' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = packed!.files.map((f) => f.path).sort();
  const installed = path.join(consumer, 'node_modules', 'model-rollout');
  mkdirSync(installed, { recursive: true });
  await run('tar', ['-xzf', path.join(consumer, packed!.filename), '-C', installed, '--strip-components=1']);
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
}, 180_000);

afterAll(() => {
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds the licence, the readme, the guides and the builds, and no sourcemaps or generated API site', () => {
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.cjs', 'docs/canary.md']));
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('docs/api/') || f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
    expect(readFileSync(path.join(consumer, 'node_modules/model-rollout/LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  it('has a target for every relative link in its markdown', () => {
    const broken: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(path.join(consumer, 'node_modules/model-rollout', file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!) || target!.startsWith('#')) continue;
        const relative = path.posix.normalize(path.posix.join(path.posix.dirname(file), target!.split('#')[0]!));
        if (!files.includes(relative)) broken.push(`${file} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(['import', 'require'] as const)('loads every entry by its import path (%s)', async (kind) => {
    const load = (s: string) => (kind === 'import' ? `await import('${s}')` : `require('${s}')`);
    const script = `const names = {}; ${SPECIFIERS.map((s) => `names['${s}'] = Object.keys(${load(s)}).length;`).join(' ')} console.log(JSON.stringify(names));`;
    const args = kind === 'import' ? ['--input-type=module', '-e', script] : ['-e', script];
    const { stdout } = await run(process.execPath, args, { cwd: consumer });
    const counts = JSON.parse(stdout) as Record<string, number>;
    for (const specifier of SPECIFIERS) expect(counts[specifier], specifier).toBeGreaterThan(0);
  });

  it('maps every exported subpath in typesVersions, for resolvers that ignore exports', () => {
    const mapped = Object.keys(manifest.typesVersions?.['*'] ?? {});
    expect(mapped.sort()).toEqual(SPECIFIERS.filter((s) => s !== 'model-rollout').map((s) => s.slice('model-rollout/'.length)).sort());
  });

  // Node16 resolves as NodeNext does; Bundler differs in resolution only, so its declarations
  // (already checked twice) are not checked a third time.
  it.each([
    ['Node10', 'CommonJS', false],
    ['NodeNext', 'NodeNext', false],
    ['Bundler', 'ESNext', true],
  ] as const)('type-checks a strict consumer of every subpath under moduleResolution %s', (resolution, module, skipLibCheck) => {
    const dir = path.join(consumer, resolution.toLowerCase());
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'consumer.ts');
    const imports = SPECIFIERS.map((s, i) => `import * as entry${i} from '${s}';\nexport const names${i}: string[] = Object.keys(entry${i});`);
    writeFileSync(file, `${imports.join('\n')}\nimport { ModelRouter } from 'model-rollout';\nimport { FakeClock } from 'model-rollout/testing';\nexport type Used = [ModelRouter, FakeClock];\n`);
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind[module],
      moduleResolution: ts.ModuleResolutionKind[resolution],
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules/@types')],
      skipLibCheck,
    };
    const program = ts.createProgram({ rootNames: [file], options, host: cachingHost(options) });
    const messages = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(messages).toEqual([]);
  });
});
