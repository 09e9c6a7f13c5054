/**
 * The conventions of the built `model-rollout` bin: --help on every command, exit codes (0 ok,
 * 1 error, 2 usage), errors on one line (a stack only with --debug), the store from --store or
 * MODEL_ROLLOUT_STORE with file:./models as the default, and bad store URLs or an unreachable
 * database refused without writing anything.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStoreUrl } from '../../src/cli/store-url.js';
import { irisClassifier } from '../fixtures/onnx-models.js';
import { cli, dumpStorage, ensureBuilt, openFileStore, type TestStore } from './cli-helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'model-rollout-cli-conv-'));
const MODEL = path.join(work, 'iris.onnx');
writeFileSync(MODEL, irisClassifier());
let store: TestStore;

beforeAll(async () => {
  await ensureBuilt();
  store = await openFileStore();
  expect((await cli(['register', 'iris', MODEL, '--store', store.url])).code).toBe(0);
}, 120_000);
afterAll(async () => {
  await store?.dispose();
  rmSync(work, { recursive: true, force: true });
});

/** Every command the main help lists, with its words (`alias set`). */
async function commands(): Promise<string[]> {
  const { stdout } = await cli(['--help']);
  const block = stdout.slice(stdout.indexOf('Commands:'), stdout.indexOf('Options of every command:'));
  return block
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/).filter((w) => /^[a-z]+$/.test(w)).slice(0, l.trim().startsWith('alias') ? 2 : 1).join(' '));
}

describe('help', () => {
  it('lists every command; no command is a usage error (exit 2), help is not', async () => {
    const names = await commands();
    expect(names).toEqual(['models', 'versions', 'show', 'register', 'alias set', 'alias rm', 'alias history', 'verify', 'deployments', 'status', 'promote', 'abort', 'rollback', 'pause', 'resume', 'history']);
    expect(await cli([])).toMatchObject({ code: 2, stdout: expect.stringMatching(/^Usage: model-rollout <command>/) });
    expect(await cli(['help'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: model-rollout <command>/) });
  });

  it('answers --help (and -h) on every command with its usage and options, exit 0, nothing opened', async () => {
    for (const name of await commands()) {
      // A store URL that would fail proves --help never opens it.
      const help = await cli([...name.split(' '), '--help', '--store', 'postgres://nobody@127.0.0.1:1/x']);
      expect(help, name).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout, name).toMatch(new RegExp(`^Usage: model-rollout ${name}\\b`));
      expect(help.stdout, name).toMatch(/--store URL/);
      expect(help.stdout, name).toMatch(/--json/);
    }
    expect((await cli(['register', '-h'])).stdout).toMatch(/--lineage k=v/);
    expect((await cli(['status', '--help'])).stdout).toMatch(/-w, --watch/);
    expect((await cli(['promote', '--help'])).stdout).toMatch(/--full/);
  });
});

describe('usage errors exit 2 with one line', () => {
  it.each([
    [['bogus'], /unknown command 'bogus'; expected one of: models, versions/],
    [['alias'], /'alias' needs a sub-command \(set, rm, history\), got none/],
    [['alias', 'move'], /'alias' needs a sub-command \(set, rm, history\), got 'move'/],
    [['models', '--colour'], /Unknown option '--colour'/],
    [['versions'], /versions takes <model>, got none/],
    [['show', 'iris', '1', '2'], /show takes <model> <ref>, got 'iris' '1' '2'/],
    [['register', 'iris', MODEL, '--tag', 'team'], /--tag must be key=value, got 'team'/],
    [['register', 'iris', MODEL, '--lineage', 'owner=me'], /--lineage key must be data, code, parent, params.<name> or environment.<name>, got 'owner'/],
    [['status', 'iris', '--watch', '--interval', 'soon'], /--interval must be a whole number of ms >= 50, got 'soon'/],
    [['status', '--store'], /Option '--store <value>' argument missing/],
  ])('%j', async (args, message) => {
    const before = await dumpStorage(store.storage);
    const result = await cli([...args, '--store', store.url].slice(0, args.at(-1) === '--store' ? args.length : undefined));
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(/^model-rollout: UsageError: [^\n]+\n$/);
    expect(result.stderr).toMatch(message);
    expect(await dumpStorage(store.storage)).toEqual(before);
  });
});

describe('errors exit 1 with one line; --debug adds the stack', () => {
  it('prints the named error only, or with --debug its stack too', async () => {
    const plain = await cli(['show', 'iris', '7', '--store', store.url]);
    expect(plain).toMatchObject({ code: 1, stdout: '', stderr: "model-rollout: NotFoundError: model 'iris' has no version 7\n" });
    const debug = await cli(['show', 'iris', '7', '--store', store.url, '--debug']);
    expect(debug.code).toBe(1);
    const lines = debug.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(plain.stderr.trimEnd());
    expect(lines[1]).toMatch(/^NotFoundError: model 'iris' has no version 7$/);
    expect(lines.slice(2).every((l) => /^\s+at /.test(l))).toBe(true);
  });

  it.each([
    ['a word', 'models'],
    ['an unknown scheme', 'mysql://db/x'],
    ['an empty file: path', 'file:'],
    ['a postgres URL without a host', 'postgres:///test'],
    ['an s3 URL without a bucket', 's3:///prefix'],
    ['an unknown s3 option', 's3://bucket/p?acl=public'],
    ['an s3 endpoint that is not http(s)', 's3://bucket/p?endpoint=ftp://x'],
  ])('refuses %s as a store URL, from --store or MODEL_ROLLOUT_STORE', async (_what, url) => {
    for (const result of [await cli(['models', '--store', url]), await cli(['models'], { env: { MODEL_ROLLOUT_STORE: url } })]) {
      expect(result).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr).toMatch(/^model-rollout: ValidationError: store URL must be file:<directory>, postgres:\/\/.* or s3:\/\/.*; [^\n]+, got string "[^\n]*"\n$/);
    }
  });

  it('reports an unreachable database or gateway in one line, exit 1, and writes nothing anywhere', async () => {
    const before = await dumpStorage(store.storage);
    const cwd = mkdtempSync(path.join(work, 'cwd-'));
    const unreachable = [
      'postgres://postgres@127.0.0.1:1/test',
      's3://bucket/prefix?endpoint=http://127.0.0.1:1',
    ];
    for (const url of unreachable) {
      for (const args of [['models'], ['register', 'iris', MODEL], ['rollback', 'iris'], ['alias', 'set', 'iris', 'production', '1']]) {
        const result = await cli([...args, '--store', url], { cwd, env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_MAX_ATTEMPTS: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
        expect(result, `${args.join(' ')} on ${url}`).toMatchObject({ code: 1, stdout: '' });
        expect(result.stderr, `${args.join(' ')} on ${url}`).toMatch(/^model-rollout: StorageError: [^\n]*(ECONNREFUSED|connect)[^\n]*\n$/);
      }
    }
    // Nothing appeared in the working directory (no default ./models), the file store is as it was.
    expect(readdirSync(cwd)).toEqual([]);
    expect(await dumpStorage(store.storage)).toEqual(before);
  }, 120_000);
});

describe('the store', () => {
  it('defaults to file:./models in the working directory and reads MODEL_ROLLOUT_STORE', async () => {
    const cwd = mkdtempSync(path.join(work, 'default-'));
    expect((await cli(['register', 'iris', MODEL], { cwd })).code).toBe(0);
    expect(readdirSync(path.join(cwd, 'models'))).toEqual(expect.arrayContaining(['blobs', 'models']));
    expect(JSON.parse((await cli(['models', '--json'], { cwd: work, env: { MODEL_ROLLOUT_STORE: `file:${cwd}/models` } })).stdout)).toEqual([{ name: 'iris', versions: 1, latest: 1, aliases: {} }]);
    // --store wins over the environment.
    expect(JSON.parse((await cli(['models', '--json', '--store', `file:${work}/empty`], { env: { MODEL_ROLLOUT_STORE: `file:${cwd}/models` } })).stdout)).toEqual([]);
  });

  it('parses every URL form', () => {
    expect(parseStoreUrl('file:./models', '/srv/app')).toEqual({ kind: 'file', directory: '/srv/app/models' });
    expect(parseStoreUrl('file:///var/lib/models', '/srv')).toEqual({ kind: 'file', directory: '/var/lib/models' });
    expect(parseStoreUrl('postgres://u:p@db:5433/ml?table=rollout&sslmode=require', '/')).toEqual({ kind: 'postgres', connectionString: 'postgres://u:p@db:5433/ml?sslmode=require', table: 'rollout' });
    expect(parseStoreUrl('postgresql://db/ml', '/')).toEqual({ kind: 'postgres', connectionString: 'postgresql://db/ml', table: undefined });
    expect(parseStoreUrl('s3://models', '/')).toEqual({ kind: 's3', bucket: 'models', prefix: '', endpoint: undefined, region: undefined });
    expect(parseStoreUrl('s3://models/fleet/iris?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1', '/')).toEqual({ kind: 's3', bucket: 'models', prefix: 'fleet/iris/', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1' });
  });
});
