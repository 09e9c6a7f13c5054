import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  IntegrityError,
  InvalidStateError,
  ModelLoadError,
  NotFoundError,
  ValidationError,
} from '../../src/errors.js';
import { ModelRegistry, type AliasChangedEvent, type ModelVersion, type VersionDeletedEvent } from '../../src/index.js';
import { FileSystemStorage, MemoryStorage, type StorageAdapter } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { brokenModel, irisClassifier, regression, twoInput } from '../fixtures/onnx-models.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mr-reg-'));
  dirs.push(dir);
  return dir;
}

const adapters: Array<[string, () => Promise<StorageAdapter>]> = [
  ['MemoryStorage', async () => new MemoryStorage()],
  ['FileSystemStorage', async () => new FileSystemStorage(await freshDir())],
];

/** Distinct small artifacts without onnxruntime in the loop. */
const blob = (i: number) => new TextEncoder().encode(`artifact ${i}`);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.each(adapters)('ModelRegistry on %s', (_name, makeStorage) => {
  it('registers an ONNX model with its signature, ONNX header and the runtime that validated it', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 2, 3, 4, 5));
    const registry = new ModelRegistry({ storage: await makeStorage(), clock: clock.now });
    const bytes = irisClassifier({ producerVersion: '1.4.2' });
    const seen: ModelVersion[] = [];
    registry.on('registered', (v) => seen.push(v));
    const v = await registry.register('iris', bytes, {
      description: 'logistic regression',
      tags: { team: 'search' },
      lineage: { data: 's3://bucket/iris.csv', code: 'git:3f2c1e', params: { C: 1 }, environment: { sklearn: '1.5' } },
    });
    expect(v).toMatchObject({
      name: 'iris',
      version: 1,
      createdAt: '2026-01-02T03:04:05.000Z',
      sha256: sha256(bytes),
      size: bytes.length,
      format: 'onnx',
      description: 'logistic regression',
      tags: { team: 'search' },
      lineage: { data: 's3://bucket/iris.csv', code: 'git:3f2c1e', params: { C: 1 }, environment: { sklearn: '1.5' } },
      status: 'active',
      signature: {
        inputs: [{ name: 'input', type: 'float32', shape: ['N', 4] }],
        outputs: [
          { name: 'label', type: 'int64', shape: ['N'] },
          { name: 'probabilities', type: 'float32', shape: ['N', 3] },
        ],
      },
      onnx: { producerName: 'model-rollout-fixtures', producerVersion: '1.4.2', irVersion: 8 },
      validatedBy: { runtime: 'onnxruntime-node', version: '1.30.0' },
    });
    expect(v.onnx?.opsetImports).toContainEqual({ domain: 'ai.onnx.ml', version: expect.any(Number) });
    expect(seen).toEqual([v]);
    expect(await registry.getVersion('iris', 1)).toEqual(v);
    expect(await registry.loadArtifact('iris', 1)).toEqual(new Uint8Array(bytes));
  });

  it('hands out versions 1..12 and lists them in numeric order; latest is 12, not 9', async () => {
    const registry = new ModelRegistry({ storage: await makeStorage() });
    for (let i = 1; i <= 12; i++) {
      expect((await registry.register('iris', blob(i), { format: 'bin' })).version).toBe(i);
    }
    expect((await registry.listVersions('iris')).map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect((await registry.resolve('iris', 'latest')).version).toBe(12);
    expect((await registry.resolve('iris', '12')).version).toBe(12); // decimal digits: the same rule as a number
    expect(new TextDecoder().decode(await registry.loadArtifact('iris', '10'))).toBe('artifact 10');
    expect(new TextDecoder().decode(await registry.loadArtifact('iris', 'latest'))).toBe('artifact 12');
    expect(await registry.listModels()).toEqual(['iris']);
  });

  it('stores identical bytes once and names are case-insensitive', async () => {
    const storage = await makeStorage();
    const registry = new ModelRegistry({ storage });
    const bytes = regression();
    await registry.register('Iris', bytes);
    await registry.register('iris', bytes);
    await registry.register('other', bytes);
    expect(await storage.list('blobs/')).toEqual([`blobs/sha256/${sha256(bytes)}`]);
    expect((await registry.listVersions('IRIS')).map((v) => [v.name, v.version])).toEqual([['iris', 1], ['iris', 2]]);
    expect(await registry.listModels()).toEqual(['iris', 'other']);
  });

  it('reads an artifact from a file path, and a missing path is NotFoundError', async () => {
    const registry = new ModelRegistry({ storage: await makeStorage() });
    const file = path.join(await freshDir(), 'model.onnx');
    await writeFile(file, twoInput());
    const v = await registry.register('two', file);
    expect(v.signature?.inputs.map((i) => i.name)).toEqual(['a', 'b']);
    await expect(registry.register('two', path.join(path.dirname(file), 'nope.onnx'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('flipping one byte of a stored blob makes loadArtifact throw IntegrityError naming the version', async () => {
    const storage = await makeStorage();
    const registry = new ModelRegistry({ storage });
    const v = await registry.register('iris', irisClassifier());
    const key = `blobs/sha256/${v.sha256}`;
    const stored = (await storage.get(key))!;
    const flipped = stored.data.slice();
    flipped[100] = flipped[100]! ^ 0x01;
    await storage.put(key, flipped);
    const error = await registry.loadArtifact('iris', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/model 'iris' version 1 is corrupt/);
    await storage.delete(key);
    await expect(registry.loadArtifact('iris', 1)).rejects.toThrow(/model 'iris' version 1 is missing/);
  });

  it('re-registering identical bytes repairs a damaged blob', async () => {
    const storage = await makeStorage();
    const registry = new ModelRegistry({ storage });
    const bytes = blob(1);
    const v = await registry.register('m', bytes, { format: 'bin' });
    await storage.put(`blobs/sha256/${v.sha256}`, blob(2));
    await registry.register('m', bytes, { format: 'bin' });
    expect(await registry.loadArtifact('m', 1)).toEqual(bytes);
  });

  it('rejects bad names with ValidationError and leaves the storage listing unchanged', async () => {
    const storage = await makeStorage();
    const registry = new ModelRegistry({ storage });
    await registry.register('iris', blob(1), { format: 'bin' });
    await registry.setAlias('iris', 'production', 1);
    const before = await storage.list('');
    const badNames: unknown[] = ['../x', 'a/b', '', 'x'.repeat(300), '@production', '.hidden', '-dash', 'a b', 'a\\b', 42, undefined];
    for (const bad of badNames) {
      await expect(registry.register(bad as string, blob(2), { format: 'bin' }), String(bad)).rejects.toBeInstanceOf(ValidationError);
      await expect(registry.setAlias('iris', bad as string, 1), String(bad)).rejects.toBeInstanceOf(ValidationError);
      await expect(registry.resolve(bad as string, 1), String(bad)).rejects.toBeInstanceOf(ValidationError);
      await expect(registry.deleteAlias('iris', bad as string), String(bad)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(registry.register('@production', blob(2), { format: 'bin' })).rejects.toThrow(/'@' prefix belongs in a version ref/);
    expect(await storage.list('')).toEqual(before);
  });

  it('rejects bad options with a ValidationError naming the option, storing nothing', async () => {
    const storage = await makeStorage();
    const registry = new ModelRegistry({ storage });
    const cases: Array<[unknown, RegExp]> = [
      [{ tags: { team: 3 } }, /tags must be an object of string values/],
      [{ lineage: { parent: { name: 'p', version: 0 } } }, /lineage.parent.version must be an integer >= 1/],
      [{ lineage: { dataset: 'x' } }, /lineage has unknown field\(s\) 'dataset'/],
      [{ lineage: { params: { n: 1n } } }, /lineage.params must be JSON-serializable/],
      [{ format: 'ONNX!' }, /format must match/],
      [{ validate: 'yes' }, /validate must be a boolean/],
      [{ descripton: 'typo' }, /register options has unknown field\(s\) 'descripton'/],
    ];
    for (const [options, message] of cases) {
      await expect(registry.register('m', blob(1), options as never)).rejects.toThrow(message);
    }
    await expect(registry.register('m', 123 as never)).rejects.toThrow(/artifact must be a Uint8Array, a file path or an async iterable of Uint8Array chunks, got number 123/);
    await expect(registry.resolve('m', 'newest' as never)).rejects.toThrow(/version ref must be a version number .*'latest' or '@alias'/);
    await expect(registry.resolve('m', 0)).rejects.toThrow(/version ref must be an integer >= 1/);
    for (const ref of ['0', '01', '-1', '+1', '1.0', '1e0', ' 1', '9007199254740993']) {
      await expect(registry.resolve('m', ref as never), ref).rejects.toBeInstanceOf(ValidationError);
    }
    expect(() => new ModelRegistry({ storage, clock: 5 as never })).toThrow(/clock must be a function/);
    expect(() => new ModelRegistry({ storage: {} as never })).toThrow(/storage must implement StorageAdapter/);
    expect(await storage.list('')).toEqual([]);
  });

  it('invalid ONNX bytes are ModelLoadError and store nothing', async () => {
    const storage = await makeStorage();
    const registry = new ModelRegistry({ storage });
    for (const bad of [brokenModel(), new TextEncoder().encode('not a model'), new Uint8Array(0)]) {
      await expect(registry.register('iris', bad)).rejects.toBeInstanceOf(ModelLoadError);
    }
    expect(await storage.list('')).toEqual([]);
    // validate: false stores what it is given, without opening it.
    const v = await registry.register('iris', brokenModel(), { validate: false });
    expect([v.version, v.signature, v.onnx, v.validatedBy]).toEqual([1, null, null, null]);
  });

  it('resolves aliases, keeps their history and emits aliasChanged', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const registry = new ModelRegistry({ storage: await makeStorage(), clock: clock.now });
    for (let i = 1; i <= 3; i++) await registry.register('iris', blob(i), { format: 'bin' });
    const events: AliasChangedEvent[] = [];
    registry.on('aliasChanged', (e) => events.push(e));
    await registry.setAlias('iris', 'production', 1, { by: 'alice' });
    clock.advance(86_400_000);
    await registry.setAlias('iris', 'Production', 3, { by: 'ci', reason: 'canary passed' });
    await registry.setAlias('iris', 'production', 3);
    clock.advance(86_400_000);
    await registry.setAlias('iris', 'production', 1, { reason: 'rollback' });
    await registry.setAlias('iris', 'staging', 2);
    expect((await registry.resolve('iris', '@production')).version).toBe(1);
    expect(await registry.getAliases('iris')).toEqual({ production: 1, staging: 2 });
    const history = await registry.aliasHistory('iris', 'production');
    expect(history).toEqual([
      { alias: 'production', version: 1, previous: null, at: '2026-01-01T00:00:00.000Z', by: 'alice' },
      { alias: 'production', version: 3, previous: 1, at: '2026-01-02T00:00:00.000Z', by: 'ci', reason: 'canary passed' },
      { alias: 'production', version: 1, previous: 3, at: '2026-01-03T00:00:00.000Z', reason: 'rollback' },
    ]);
    // "Which version was production at noon on 2 January?"
    const noon = '2026-01-02T12:00:00.000Z';
    expect(history.filter((e) => e.at <= noon).at(-1)?.version).toBe(3);
    await registry.deleteAlias('iris', 'staging', { by: 'bob' });
    expect(await registry.getAliases('iris')).toEqual({ production: 1 });
    expect(events.map((e) => [e.alias, e.previous, e.version])).toEqual([
      ['production', null, 1],
      ['production', 1, 3],
      ['production', 3, 1],
      ['staging', null, 2],
      ['staging', 2, null],
    ]);
    await expect(registry.resolve('iris', '@staging')).rejects.toThrow(/has no alias 'staging' \(aliases: production\)/);
    await expect(registry.deleteAlias('iris', 'staging')).rejects.toBeInstanceOf(NotFoundError);
    await expect(registry.setAlias('iris', 'production', 9)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('setAlias is a compare-and-swap: 30 concurrent moves of different aliases all land', async () => {
    const registry = new ModelRegistry({ storage: await makeStorage() });
    for (let i = 1; i <= 3; i++) await registry.register('iris', blob(i), { format: 'bin' });
    await Promise.all(Array.from({ length: 30 }, (_, i) => registry.setAlias('iris', `a${i}`, (i % 3) + 1)));
    const aliases = await registry.getAliases('iris');
    expect(Object.keys(aliases).length).toBe(30);
    for (let i = 0; i < 30; i++) {
      expect(aliases[`a${i}`]).toBe((i % 3) + 1);
      expect(await registry.aliasHistory('iris', `a${i}`)).toHaveLength(1);
    }
  });

  it('archives: latest skips archived versions, listVersions hides them unless asked, numbers still resolve', async () => {
    const registry = new ModelRegistry({ storage: await makeStorage() });
    for (let i = 1; i <= 3; i++) await registry.register('m', blob(i), { format: 'bin' });
    const archived: number[] = [];
    registry.on('archived', (v) => archived.push(v.version));
    expect((await registry.archiveVersion('m', 3)).status).toBe('archived');
    await registry.archiveVersion('m', 3);
    expect(archived).toEqual([3]);
    expect((await registry.resolve('m', 'latest')).version).toBe(2);
    expect((await registry.listVersions('m')).map((v) => v.version)).toEqual([1, 2]);
    expect((await registry.listVersions('m', { includeArchived: true })).map((v) => v.version)).toEqual([1, 2, 3]);
    expect((await registry.resolve('m', 3)).status).toBe('archived');
    await registry.archiveVersion('m', 1);
    await registry.archiveVersion('m', 2);
    await expect(registry.resolve('m', 'latest')).rejects.toThrow(/model 'm' has no active version/);
    await expect(registry.resolve('nothing', 'latest')).rejects.toThrow(/nothing registered under this name/);
  });

  it('setTags replaces the tags and keeps everything else', async () => {
    const registry = new ModelRegistry({ storage: await makeStorage() });
    const v = await registry.register('m', blob(1), { format: 'bin', tags: { a: '1' } });
    const updated = await registry.setTags('m', 1, { stage: 'prod' });
    expect(updated).toEqual({ ...v, tags: { stage: 'prod' } });
    expect(await registry.getVersion('m', 1)).toEqual(updated);
    await expect(registry.setTags('m', 2, {})).rejects.toBeInstanceOf(NotFoundError);
    await expect(registry.setTags('m', 1, { n: 1 } as never)).rejects.toBeInstanceOf(ValidationError);
  });

  it('deleteVersion refuses an aliased version, never reuses the number, and removes the blob only when unused', async () => {
    const storage = await makeStorage();
    const registry = new ModelRegistry({ storage });
    const shared = blob(1);
    await registry.register('m', shared, { format: 'bin' }); // 1
    await registry.register('other', shared, { format: 'bin' }); // other 1, same blob
    const v2 = await registry.register('m', blob(2), { format: 'bin' }); // 2
    await registry.setAlias('m', 'production', 2);
    const deleted: VersionDeletedEvent[] = [];
    registry.on('deleted', (e) => deleted.push(e));

    const refused = await registry.deleteVersion('m', 2).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidStateError);
    expect((refused as Error).message).toMatch(/alias 'production' points to it/);
    expect((await registry.getVersion('m', 2)).version).toBe(2);

    await registry.setAlias('m', 'production', 1);
    await registry.deleteVersion('m', 2);
    expect(await storage.list(`blobs/sha256/${v2.sha256}`)).toEqual([]);
    await registry.deleteAlias('m', 'production');
    await registry.deleteVersion('m', 1);
    expect(await storage.list(`blobs/sha256/${sha256(shared)}`)).toHaveLength(1); // still used by other@1
    expect(deleted.map((e) => [e.version, e.blobRemoved])).toEqual([[2, true], [1, false]]);

    await expect(registry.getVersion('m', 2)).rejects.toThrow(/version 2 was deleted/);
    await expect(registry.setAlias('m', 'staging', 2)).rejects.toBeInstanceOf(NotFoundError);
    expect((await registry.register('m', blob(3), { format: 'bin' })).version).toBe(3);
    expect((await registry.listVersions('m')).map((v) => v.version)).toEqual([3]);
    await expect(registry.deleteVersion('m', 2)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('ModelRegistry races between setAlias and deleteVersion', () => {
  it.each(adapters)('on %s exactly one of the two wins, and an alias never points at a deleted version', async (_name, makeStorage) => {
    const registry = new ModelRegistry({ storage: await makeStorage() });
    for (let round = 1; round <= 10; round++) {
      const { version } = await registry.register('m', blob(round), { format: 'bin' });
      const [alias, deletion] = await Promise.allSettled([
        registry.setAlias('m', 'production', version),
        registry.deleteVersion('m', version),
      ]);
      expect([alias.status, deletion.status].filter((s) => s === 'fulfilled')).toHaveLength(1);
      const aliases = await registry.getAliases('m');
      if (alias.status === 'fulfilled') {
        expect((deletion as PromiseRejectedResult).reason).toBeInstanceOf(InvalidStateError);
        expect(aliases.production).toBe(version);
        expect((await registry.resolve('m', '@production')).version).toBe(version);
        await registry.deleteAlias('m', 'production');
      } else {
        expect(alias.reason).toBeInstanceOf(NotFoundError);
        await expect(registry.getVersion('m', version)).rejects.toBeInstanceOf(NotFoundError);
      }
    }
  });
});

describe('ModelRegistry defaults', () => {
  it("defaults to FileSystemStorage('./models') without touching the disk until used", async () => {
    const registry = new ModelRegistry();
    expect(registry.storage).toBeInstanceOf(FileSystemStorage);
    expect((registry.storage as FileSystemStorage).dir).toBe(path.resolve('models'));
  });

  it('a registry sees versions written by another instance on the same directory', async () => {
    const dir = await freshDir();
    const a = new ModelRegistry({ storage: new FileSystemStorage(dir) });
    const b = new ModelRegistry({ storage: new FileSystemStorage(dir) });
    await a.register('m', blob(1), { format: 'bin' });
    expect((await b.register('m', blob(2), { format: 'bin' })).version).toBe(2);
    expect(JSON.parse(await readFile(path.join(dir, 'models/m/versions/2.json'), 'utf8'))).toMatchObject({ version: 2 });
  });
});
