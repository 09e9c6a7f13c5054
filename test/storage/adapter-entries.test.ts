import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Loads the adapter subpaths by the package's own name in a plain Node process. */
async function load(kind: 'import' | 'require') {
  const get = kind === 'import' ? (s: string) => `await import('${s}')` : (s: string) => `require('${s}')`;
  const script = `
    const pgEntry = ${get('model-rollout/postgres')};
    const s3Entry = ${get('model-rollout/s3')};
    const sdkLoaded = typeof require === 'function' && Object.keys(require.cache).some((k) => k.includes('@aws-sdk'));
    let code;
    try { new s3Entry.S3Storage({ client: {}, bucket: 'b-1' }); } catch (e) { code = e.code; }
    console.log(JSON.stringify({ pg: Object.keys(pgEntry), s3: Object.keys(s3Entry), sdkLoaded, code }));`;
  const args = kind === 'import' ? ['--input-type=module', '-e', script] : ['-e', script];
  const { stdout } = await run(process.execPath, args, { cwd: ROOT });
  return JSON.parse(stdout) as { pg: string[]; s3: string[]; sdkLoaded: boolean; code: string };
}

describe('the model-rollout/postgres and model-rollout/s3 entries', () => {
  beforeAll(async () => {
    if (!existsSync(path.join(ROOT, 'dist', 's3', 'index.js'))) {
      await run(process.execPath, [path.join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js')], { cwd: ROOT });
    }
  }, 120_000);

  it.each(['import', 'require'] as const)('load through %s with their classes, and the S3 SDK is not loaded until used', async (kind) => {
    const got = await load(kind);
    expect(got.pg).toEqual(expect.arrayContaining(['PostgresStorage', 'PostgresChangeFeed']));
    expect(got.s3).toEqual(expect.arrayContaining(['S3Storage']));
    expect(got.sdkLoaded).toBe(false);
    expect(got.code).toBe('VALIDATION');
  });

  it('never import a backend client at load time: pg not at all, @aws-sdk/client-s3 only by a lazy import()', () => {
    // An entry and the chunks it loads statically (the build shares chunks between entries).
    const loaded = (file: string, seen = new Set<string>()): Set<string> => {
      if (seen.has(file)) return seen;
      seen.add(file);
      const code = readFileSync(file, 'utf8');
      for (const m of code.matchAll(/(?:from\s+|import\s+|require\()["'](\.{1,2}\/[^"']+)["']/g)) loaded(path.resolve(path.dirname(file), m[1]!), seen);
      return seen;
    };
    for (const entry of ['postgres/index.js', 'postgres/index.cjs', 's3/index.js', 's3/index.cjs']) {
      for (const file of loaded(path.join(ROOT, 'dist', entry))) {
        const code = readFileSync(file, 'utf8');
        expect(code, `${entry}: ${file}`).not.toMatch(/(from\s+|require\()["']pg["']/);
        expect(code, `${entry}: ${file}`).not.toMatch(/(from\s+|require\()["']@aws-sdk/);
      }
    }
    const s3 = [...loaded(path.join(ROOT, 'dist', 's3/index.js'))].map((file) => readFileSync(file, 'utf8')).join('\n');
    expect(s3).toMatch(/import\(["']@aws-sdk\/client-s3["']\)/);
  });

  it('declares the clients as optional peer dependencies', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    expect(pkg.peerDependencies.pg).toBe('^8');
    expect(pkg.peerDependencies['@aws-sdk/client-s3']).toBe('>=3.700.0 <4');
    expect(pkg.peerDependenciesMeta.pg?.optional).toBe(true);
    expect(pkg.peerDependenciesMeta['@aws-sdk/client-s3']?.optional).toBe(true);
  });
});
