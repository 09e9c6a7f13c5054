/**
 * The registry commands of the built `model-rollout` bin, human and --json output, on every store
 * (file system; PostgreSQL and S3 where their test servers run).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/index.js';
import { irisClassifier, linearClassifier } from '../fixtures/onnx-models.js';
import { cli, dumpStorage, ensureBuilt, storeKinds, type TestStore } from './cli-helpers.js';

const files = mkdtempSync(path.join(tmpdir(), 'model-rollout-cli-models-'));
const V1 = path.join(files, 'iris-v1.onnx');
const V2 = path.join(files, 'iris-v2.onnx');
writeFileSync(V1, irisClassifier());
writeFileSync(V2, linearClassifier({ coefficients: [-0.4, 1, -2.5, -1.1, 0.5, -0.3, -0.2, -0.9, -0.1, -0.7, 2.7, 2], intercepts: [9.8, 2.2, -12], classes: [0, 1, 2] }));

beforeAll(ensureBuilt, 120_000);
afterAll(() => rmSync(files, { recursive: true, force: true }));

describe.each(storeKinds('registry-commands.test.ts'))('registry commands on the $kind store', ({ open }) => {
  let store: TestStore;
  const run = (...args: string[]) => cli([...args, '--store', store.url], { env: { ...store.env, USER: 'ana' } });

  beforeAll(async () => {
    store = await open();
  }, 60_000);
  afterAll(() => store?.dispose());

  it('registers two versions with description, tags and lineage, human and --json', async () => {
    const first = await run('register', 'iris', V1, '--description', 'logistic regression', '--tag', 'team=search', '--tag', 'stage=dev');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^registered iris version 1 \(sha256 [0-9a-f]{12}, \d+(\.\d)? k?B\)\n$/);
    const second = await run('register', 'iris', V2, '--json', '--lineage', 'data=s3://bucket/iris.csv', '--lineage', 'code=git:3f2c1e', '--lineage', 'params.C=1', '--lineage', 'parent=iris:1', '--lineage', 'environment.sklearn=1.5.2');
    expect(second.code).toBe(0);
    const record = JSON.parse(second.stdout);
    expect(record).toMatchObject({ name: 'iris', version: 2, format: 'onnx', status: 'active', lineage: { data: 's3://bucket/iris.csv', code: 'git:3f2c1e', params: { C: 1 }, parent: { name: 'iris', version: 1 }, environment: { sklearn: '1.5.2' } } });
    // The command wrote what the library reads.
    const registry = new ModelRegistry({ storage: store.storage });
    expect((await registry.resolve('iris', 'latest')).sha256).toBe(record.sha256);
    expect((await registry.getVersion('iris', 1)).tags).toEqual({ team: 'search', stage: 'dev' });
  }, 60_000);

  it('moves, lists and removes aliases, with history naming the operator', async () => {
    expect((await run('alias', 'set', 'iris', 'production', '1', '--reason', 'offline eval passed')).stdout).toBe('iris@production → version 1\n');
    const moved = await run('alias', 'set', 'iris', 'production', 'latest', '--json', '--by', 'ci');
    expect(JSON.parse(moved.stdout)).toEqual({ model: 'iris', alias: 'production', version: 2, by: 'ci' });
    expect((await run('alias', 'set', 'iris', 'staging', '@production')).code).toBe(0);
    expect((await run('alias', 'rm', 'iris', 'staging')).stdout).toBe('iris@staging removed\n');

    const human = await run('alias', 'history', 'iris', 'production');
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AT\s+VERSION\s+PREVIOUS\s+BY\s+REASON$/);
    expect(lines[1]).toMatch(/^\S+Z\s+1\s+-\s+operator:ana@\S+\s+offline eval passed$/);
    expect(lines[2]).toMatch(/^\S+Z\s+2\s+1\s+ci\s+-$/);
    const json = JSON.parse((await run('alias', 'history', 'iris', 'staging', '--json')).stdout);
    expect(json.map((e: { version: number | null }) => e.version)).toEqual([2, null]);
  }, 60_000);

  it('lists models and versions', async () => {
    const models = await run('models');
    expect(models.stdout).toMatch(/^MODEL\s+VERSIONS\s+LATEST\s+ALIASES\niris\s+2\s+2\s+production=2\n$/);
    expect(JSON.parse((await run('models', '--json')).stdout)).toEqual([{ name: 'iris', versions: 2, latest: 2, aliases: { production: 2 } }]);

    const versions = await run('versions', 'iris');
    const [header, one, two] = versions.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^VERSION\s+CREATED\s+SHA256\s+SIZE\s+ALIASES\s+TAGS\s+STATUS$/);
    expect(one).toMatch(/^1\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+[0-9a-f]{12}\s+\d+(\.\d)? k?B\s+-\s+team=search stage=dev\s+active$/);
    expect(two).toMatch(/^2\s+\S+\s+[0-9a-f]{12}\s+\S+ k?B\s+@production\s+-\s+active$/);
    const json = JSON.parse((await run('versions', 'iris', '--json')).stdout);
    expect(json.map((v: { version: number; aliases: string[] }) => [v.version, v.aliases])).toEqual([[1, []], [2, ['production']]]);
    expect(json[0].sha256).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);

  it('shows one version by number, latest or alias: signature, lineage, ONNX facts', async () => {
    const human = (await run('show', 'iris', '@production')).stdout;
    expect(human).toMatch(/^model\s+iris$/m);
    expect(human).toMatch(/^version\s+2$/m);
    expect(human).toMatch(/^aliases\s+@production$/m);
    expect(human).toMatch(/^lineage\.code\s+git:3f2c1e$/m);
    expect(human).toMatch(/^lineage\.parent\s+iris:1$/m);
    expect(human).toMatch(/^lineage\.params\s+C=1$/m);
    expect(human).toMatch(/^onnx\.producer\s+model-rollout-fixtures 1$/m);
    expect(human).toMatch(/^onnx\.opsets\s+.*ai\.onnx\.ml:\d+/m);
    expect(human).toMatch(/^validatedBy\s+onnxruntime-node \d+\.\d+/m);
    expect(human).toMatch(/^SIGNATURE\s+NAME\s+TYPE\s+SHAPE\ninput\s+input\s+float32\s+\[N, 4\]\noutput\s+label\s+int64\s+\[N\]\noutput\s+probabilities\s+float32\s+\[N, 3\]$/m);
    const json = JSON.parse((await run('show', 'iris', '1', '--json')).stdout);
    expect(json).toMatchObject({ version: 1, description: 'logistic regression', aliases: [], signature: { inputs: [{ name: 'input', type: 'float32', shape: ['N', 4] }] }, onnx: { irVersion: 8 } });
  }, 60_000);

  it('verifies artifacts and lists a corrupt one, exit 1, without changing anything', async () => {
    const ok = await run('verify', 'iris');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^VERSION\s+SHA256\s+RESULT\n1\s+[0-9a-f]{12}\s+ok\n2\s+[0-9a-f]{12}\s+ok\nall 2 verified\n$/);
    // Flip one byte of version 1's blob, through the store itself.
    const registry = new ModelRegistry({ storage: store.storage });
    const v1 = await registry.getVersion('iris', 1);
    const blob = (await store.storage.get(`blobs/sha256/${v1.sha256}`))!;
    const damaged = Uint8Array.from(blob.data);
    damaged[damaged.length >> 1]! ^= 0xff;
    await store.storage.put(`blobs/sha256/${v1.sha256}`, damaged);
    const before = await dumpStorage(store.storage);

    const bad = await run('verify', 'iris');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^1\s+[0-9a-f]{12}\s+corrupt: .*model 'iris' version 1.*$/m);
    expect(bad.stdout).toMatch(/^2\s+[0-9a-f]{12}\s+ok$/m);
    expect(bad.stdout).toMatch(/1 of 2 corrupt\n$/);
    const json = JSON.parse((await run('verify', 'iris', '--json')).stdout);
    expect(json).toMatchObject({ model: 'iris', checked: 2, corrupt: 1, results: [{ version: 1, ok: false }, { version: 2, ok: true, problem: null }] });
    expect((await run('verify', 'iris', '2')).code).toBe(0);
    expect(await dumpStorage(store.storage)).toEqual(before);
    // Registering the same bytes again repairs the blob (the registry's documented repair).
    await registry.register('iris', irisClassifier());
    expect((await run('verify', 'iris', '1')).code).toBe(0);
  }, 60_000);

  it('refuses an unknown model, version or alias in one line, exit 1, nothing written', async () => {
    const before = await dumpStorage(store.storage);
    for (const args of [['versions', 'nope'], ['show', 'iris', '9'], ['show', 'iris', '@nope'], ['show', 'nope', 'latest'], ['alias', 'set', 'iris', 'x', '9'], ['alias', 'rm', 'iris', 'nope'], ['alias', 'history', 'nope', 'production'], ['verify', 'nope'], ['register', 'iris', path.join(files, 'missing.onnx')], ['register', 'Bad/Name', V1]]) {
      const result = await run(...args);
      expect(result, args.join(' ')).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr, args.join(" ")).toMatch(/^model-rollout: (NotFoundError|ValidationError): [^\n]+\n$/);
    }
    expect((await run('versions', 'nope')).stderr).toBe("model-rollout: NotFoundError: model 'nope' has no versions in this store (models: iris)\n");
    expect(await dumpStorage(store.storage)).toEqual(before);
  }, 120_000);
});
