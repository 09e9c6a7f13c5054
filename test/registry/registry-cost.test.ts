import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { ModelRegistry, MemoryStorage, type PutCondition, type StorageAdapter } from '../../src/index.js';

/** Counts every storage call by kind, so a test can assert round trips, not milliseconds. */
class CountingStorage implements StorageAdapter {
  readonly inner = new MemoryStorage();
  calls = { get: 0, put: 0, delete: 0, list: 0 };
  reset() {
    this.calls = { get: 0, put: 0, delete: 0, list: 0 };
  }
  get(key: string) {
    this.calls.get++;
    return this.inner.get(key);
  }
  put(key: string, data: Uint8Array, cond?: PutCondition) {
    this.calls.put++;
    return this.inner.put(key, data, cond);
  }
  delete(key: string, cond?: { ifMatch: string }) {
    this.calls.delete++;
    return this.inner.delete(key, cond);
  }
  list(prefix: string) {
    this.calls.list++;
    return this.inner.list(prefix);
  }
}

async function registryWith(versions: number) {
  const storage = new CountingStorage();
  const registry = new ModelRegistry({ storage });
  for (let i = 1; i <= versions; i++) await registry.register('m', new Uint8Array([i & 0xff, i >> 8]), { format: 'bin' });
  await registry.setAlias('m', 'production', Math.ceil(versions / 2));
  return { storage, registry };
}

async function cost(storage: CountingStorage, op: () => Promise<unknown>) {
  storage.reset();
  await op();
  return { ...storage.calls };
}

describe('ModelRegistry round trips do not grow with the number of versions', () => {
  it('resolve latest and @alias, register and a page of listVersionsPage cost the same at 10 and 1 000 versions, with no full listing', async () => {
    const small = await registryWith(10);
    const large = await registryWith(1000);
    for (const [name, op] of [
      ['resolve latest', (r: ModelRegistry) => r.resolve('m', 'latest')],
      ['resolve @alias', (r: ModelRegistry) => r.resolve('m', '@production')],
      ['listVersionsPage limit 5', (r: ModelRegistry) => r.listVersionsPage('m', { limit: 5 })],
      ['register', (r: ModelRegistry) => r.register('m', new Uint8Array([9, 9, 9, 9]), { format: 'bin' })],
    ] as const) {
      const a = await cost(small.storage, () => op(small.registry));
      const b = await cost(large.storage, () => op(large.registry));
      expect([name, b]).toEqual([name, a]);
      // The only listing: register's one-key check that its blob is still there.
      expect([name, b.list]).toEqual([name, name === 'register' ? 1 : 0]);
    }
    expect(await cost(large.storage, () => large.registry.resolve('m', 'latest'))).toEqual({ get: 3, put: 0, delete: 0, list: 0 });
    expect(await cost(large.storage, () => large.registry.resolve('m', '@production'))).toEqual({ get: 2, put: 0, delete: 0, list: 0 });
  });

  it('listVersionsPage walks every version newest first by cursor, skipping archived ones unless asked', async () => {
    const { registry } = await registryWith(25);
    await registry.archiveVersion('m', 24);
    await registry.deleteVersion('m', 3);
    const seen: number[] = [];
    let page = await registry.listVersionsPage('m', { limit: 10 });
    seen.push(...page.versions.map((v) => v.version));
    expect(page.versions).toHaveLength(10);
    while (page.cursor) {
      page = await registry.listVersionsPage('m', { limit: 10, cursor: page.cursor });
      seen.push(...page.versions.map((v) => v.version));
    }
    const expected = Array.from({ length: 25 }, (_, i) => 25 - i).filter((v) => v !== 24 && v !== 3);
    expect(seen).toEqual(expected);
    expect((await registry.listVersionsPage('m', { limit: 2, includeArchived: true })).versions.map((v) => v.version)).toEqual([25, 24]);
    expect(await registry.listVersionsPage('unknown')).toEqual({ versions: [] });
  });

  it('listVersionsPage checks limit and cursor', async () => {
    const { registry } = await registryWith(1);
    await expect(registry.listVersionsPage('m', { limit: 0 })).rejects.toThrow(/limit must be an integer from 1 to 1000, got .*0/);
    await expect(registry.listVersionsPage('m', { cursor: '12' })).rejects.toThrow(ValidationError);
    await expect(registry.listVersionsPage('m', { cursor: 'v0' })).rejects.toThrow(/cursor must be a cursor returned by listVersionsPage/);
  });

  it('a store without the head hint (written before it existed, or damaged) is read by one listing and gets the hint on the next register', async () => {
    const { storage, registry } = await registryWith(12);
    await storage.inner.delete('models/m/head.json');
    expect((await registry.resolve('m', 'latest')).version).toBe(12);
    await storage.inner.put('models/m/head.json', new TextEncoder().encode('not json'));
    expect((await registry.register('m', new Uint8Array([7, 7]), { format: 'bin' })).version).toBe(13);
    expect(JSON.parse(new TextDecoder().decode((await storage.inner.get('models/m/head.json'))!.data))).toEqual({ version: 13 });
    expect(await cost(storage, () => registry.resolve('m', 'latest'))).toMatchObject({ list: 0 });
  });

  it('a head left behind by a writer that died after its claim is caught up by probing', async () => {
    const { storage, registry } = await registryWith(8);
    await storage.inner.put('models/m/head.json', new TextEncoder().encode(JSON.stringify({ version: 5 })));
    expect((await registry.resolve('m', 'latest')).version).toBe(8);
    expect((await registry.listVersionsPage('m', { limit: 1 })).versions[0]!.version).toBe(8);
    expect((await registry.register('m', new Uint8Array([1, 2, 3, 4, 5]), { format: 'bin' })).version).toBe(9);
  });
});
