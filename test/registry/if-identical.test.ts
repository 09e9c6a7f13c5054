import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSystemStorage, MemoryStorage, ModelRegistry, ValidationError, type ModelVersion, type StorageAdapter } from '../../src/index.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const artifact = (n: number) => Uint8Array.from([1, 2, 3, n]);

describe.each([
  ['MemoryStorage', async () => new MemoryStorage()],
  [
    'FileSystemStorage',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'mr-if-identical-'));
      dirs.push(dir);
      return new FileSystemStorage(dir);
    },
  ],
] as const)("register with ifIdentical: 'reuse' on %s", (_name, makeStorage) => {
  it('returns the existing version with the same bytes and metadata, and creates one when anything differs', async () => {
    const registry = new ModelRegistry({ storage: await makeStorage() });
    const registered: ModelVersion[] = [];
    registry.on('registered', (v) => registered.push(v));
    const options = { format: 'bin', description: 'd', tags: { team: 'a', stage: 'x' }, lineage: { data: 's3://d' } };
    const first = await registry.register('m', artifact(1), options);
    const again = await registry.register('m', artifact(1), { ...options, tags: { stage: 'x', team: 'a' }, ifIdentical: 'reuse' });
    expect(again).toEqual(first);
    expect(registered).toHaveLength(1);
    for (const changed of [
      { ...options, description: 'other' },
      { ...options, tags: { team: 'b' } },
      { ...options, lineage: { data: 's3://other' } },
      { ...options, format: 'pt' },
    ]) {
      expect((await registry.register('m', artifact(1), { ...changed, ifIdentical: 'reuse' })).version).toBeGreaterThan(first.version);
    }
    expect((await registry.register('m', artifact(2), { ...options, ifIdentical: 'reuse' })).version).toBe(6);
    // The default still creates; another model never shares a version.
    expect((await registry.register('m', artifact(1), options)).version).toBe(7);
    expect((await registry.register('other', artifact(1), { ...options, ifIdentical: 'reuse' })).version).toBe(1);
  });

  it('never reuses a deleted version; reuses an archived one as it is', async () => {
    const registry = new ModelRegistry({ storage: await makeStorage() });
    await registry.register('m', artifact(1), { format: 'bin' });
    await registry.deleteVersion('m', 1);
    const second = await registry.register('m', artifact(1), { format: 'bin', ifIdentical: 'reuse' });
    expect(second.version).toBe(2);
    await registry.archiveVersion('m', 2);
    expect(await registry.register('m', artifact(1), { format: 'bin', ifIdentical: 'reuse' })).toMatchObject({ version: 2, status: 'archived' });
  });

  it('identical registrations racing from several registry instances end with one version, returned to all', async () => {
    const storage: StorageAdapter = await makeStorage();
    const registries = Array.from({ length: 4 }, () => new ModelRegistry({ storage: storage instanceof FileSystemStorage ? new FileSystemStorage(storage.dir) : storage }));
    await registries[0]!.register('m', artifact(9), { format: 'bin' }); // v1: other bytes
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => registries[i % 4]!.register('m', artifact(1), { format: 'bin', tags: { t: '1' }, ifIdentical: 'reuse' })),
    );
    expect(new Set(results.map((r) => r.version))).toEqual(new Set([2]));
    expect((await registries[0]!.listVersions('m')).map((v) => v.version)).toEqual([1, 2]);
  });

  it('names a bad ifIdentical', async () => {
    const registry = new ModelRegistry({ storage: await makeStorage() });
    await expect(registry.register('m', artifact(1), { format: 'bin', ifIdentical: 'yes' as never })).rejects.toThrow(
      new ValidationError(`ifIdentical must be 'create' or 'reuse', got string "yes"`),
    );
  });
});
