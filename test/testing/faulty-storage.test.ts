import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError, StorageError, ValidationError } from '../../src/errors.js';
import { ModelRegistry } from '../../src/index.js';
import { FileSystemStorage, MemoryStorage, type StorageAdapter } from '../../src/index.js';
import { FaultyStorage, seededRandom, type StorageFault } from '../../src/testing/index.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
const bytes = (s: string) => new TextEncoder().encode(s);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('FaultyStorage', () => {
  it('fails every nth call before it reaches the adapter, as a StorageError with the cause attached', async () => {
    const inner = new MemoryStorage();
    const storage = new FaultyStorage(inner, { failEvery: 2 });
    await storage.put('a', bytes('1'));
    const err = await storage.put('b', bytes('2')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toBe("put of 'b' failed before reaching the adapter (injected by FaultyStorage)");
    expect((err as Error).cause).toBeInstanceOf(Error);
    expect(((err as Error).cause as Error).message).toContain('call 2');
    expect(await inner.get('b')).toBeUndefined();
    expect(await storage.list('')).toEqual(['a']);
    expect(storage.counts).toEqual({ calls: 3, failed: 1, lostReplies: 0, torn: 0 });
  });

  it('loses the reply of every nth write after it took effect', async () => {
    const inner = new MemoryStorage();
    const storage = new FaultyStorage(inner, { loseReplyEvery: 1 });
    await expect(storage.put('k', bytes('v'))).rejects.toThrow(/took effect, then its reply was lost/);
    expect(new TextDecoder().decode((await inner.get('k'))!.data)).toBe('v');
    await expect(storage.delete('k')).rejects.toBeInstanceOf(StorageError);
    expect(await inner.get('k')).toBeUndefined();
    expect(await storage.get('k')).toBeUndefined(); // reads are not writes
  });

  it('delays calls, counts only the chosen operations, heals, and takes a decide function', async () => {
    const storage = new FaultyStorage(new MemoryStorage(), { delayMs: 20, failEvery: 1, operations: ['list'] });
    const started = performance.now();
    await storage.put('k', bytes('v'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    await expect(storage.list('')).rejects.toBeInstanceOf(StorageError);
    storage.heal();
    expect(await storage.list('')).toEqual(['k']);
    storage.configure({ decide: ({ operation }) => (operation === 'get' ? 'fail' : 'pass') });
    await expect(storage.get('k')).rejects.toBeInstanceOf(StorageError);
    expect(() => new FaultyStorage(new MemoryStorage(), { failEvery: 0 })).toThrow(ValidationError);
    expect(() => new FaultyStorage({} as never)).toThrow(/inner must be a StorageAdapter/);
    expect(() => new FaultyStorage(new MemoryStorage(), { operations: ['read' as never] })).toThrow(/operations must be/);
  });

  it("tears a put ('torn'): half of the bytes are stored, then it fails; other operations just fail", async () => {
    const inner = new MemoryStorage();
    const storage = new FaultyStorage(inner, { decide: () => 'torn' });
    await expect(storage.put('k', bytes('abcdef'))).rejects.toThrow("put of 'k' stored only half of its bytes (a torn write) (injected by FaultyStorage)");
    expect(new TextDecoder().decode((await inner.get('k'))!.data)).toBe('abc');
    await expect(storage.get('k')).rejects.toThrow(/get of 'k' failed before reaching the adapter/);
    expect(storage.counts).toEqual({ calls: 2, failed: 1, lostReplies: 0, torn: 1 });
  });
});

const adapters: Array<[string, () => Promise<StorageAdapter>]> = [
  ['MemoryStorage', async () => new MemoryStorage()],
  [
    'FileSystemStorage',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'mr-faulty-'));
      dirs.push(dir);
      return new FileSystemStorage(dir);
    },
  ],
];

/** Retries `op` until it succeeds, as a caller would after a StorageError; other errors propagate. */
async function untilDone<T>(op: () => Promise<T>): Promise<{ value: T; failures: number }> {
  for (let failures = 0; ; failures++) {
    try {
      return { value: await op(), failures };
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      expect((err as Error).cause).toBeDefined();
    }
  }
}

describe.each(adapters)('ModelRegistry on FaultyStorage(%s)', (_name, makeInner) => {
  // Random faults: each call fails before the adapter with p = 0.15, loses its reply with p = 0.15.
  function faulty(inner: StorageAdapter, seed: number): FaultyStorage {
    const random = seededRandom(seed);
    return new FaultyStorage(inner, {
      decide: ({ operation }): StorageFault => {
        const r = random();
        if (r < 0.15) return 'fail';
        if (r < 0.3 && (operation === 'put' || operation === 'delete')) return 'lose-reply';
        return 'pass';
      },
    });
  }

  it('register, setAlias, deleteAlias and deleteVersion complete or leave the previous state; retries never duplicate a version', async () => {
    const inner = await makeInner();
    const storage = faulty(inner, 42);
    const registry = new ModelRegistry({ storage });
    const clean = new ModelRegistry({ storage: inner });
    const registered: number[] = [];
    let failures = 0;
    for (let i = 1; i <= 12; i++) {
      const { value, failures: f } = await untilDone(() => registry.register('m', bytes(`artifact ${i}`), { format: 'bin' }));
      failures += f;
      registered.push(value.version);
      // After every logical registration: whole versions only, numbered 1..i, one per artifact.
      const versions = await clean.listVersions('m');
      expect(versions.map((v) => v.version)).toEqual(registered);
      expect(new Set(versions.map((v) => v.sha256)).size).toBe(versions.length);
    }
    expect(registered).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

    for (const [alias, version] of [['prod', 3], ['prod', 5], ['canary', 7], ['prod', 6]] as const) {
      const before = await clean.getAliases('m');
      const outcome = await registry.setAlias('m', alias, version).then(
        () => 'done' as const,
        (err: unknown) => {
          expect(err).toBeInstanceOf(StorageError);
          return 'failed' as const;
        },
      );
      const after = await clean.getAliases('m');
      if (outcome === 'done') expect(after[alias]).toBe(version);
      else expect([before[alias], version]).toContain(after[alias]); // lost reply: done; failed before: unchanged
      await untilDone(() => registry.setAlias('m', alias, version));
      expect((await clean.getAliases('m'))[alias]).toBe(version);
    }
    // History agrees with the aliases: one entry per real move, never a duplicate from a retry.
    const history = await clean.aliasHistory('m', 'prod');
    expect(history.map((e) => e.version)).toEqual([3, 5, 6]);

    await untilDone(() => registry.deleteAlias('m', 'canary').catch((e: unknown) => (e instanceof NotFoundError ? undefined : Promise.reject(e))));
    expect(await clean.getAliases('m')).toEqual({ prod: 6 });

    for (const version of [1, 2, 12]) {
      await untilDone(() => registry.deleteVersion('m', version).catch((e: unknown) => (e instanceof NotFoundError ? undefined : Promise.reject(e))));
      await expect(clean.getVersion('m', version)).rejects.toBeInstanceOf(NotFoundError);
    }
    expect((await clean.listVersions('m')).map((v) => v.version)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // Every remaining version is readable and verified; the next register is max + 1.
    for (const v of await clean.listVersions('m')) expect(sha256(await clean.loadArtifact('m', v.version))).toBe(v.sha256);
    expect((await untilDone(() => registry.register('m', bytes('artifact 13'), { format: 'bin' }))).value.version).toBe(13);
    expect(storage.counts.failed + storage.counts.lostReplies).toBeGreaterThan(10);
    expect(failures).toBeGreaterThan(0);
  });

  it('a register whose claim reply is lost returns the version it claimed instead of failing', async () => {
    const inner = await makeInner();
    const storage = new FaultyStorage(inner, {
      decide: ({ operation, key }) => (operation === 'put' && key.endsWith('/versions/1.json') ? 'lose-reply' : 'pass'),
    });
    const registry = new ModelRegistry({ storage });
    const v = await registry.register('m', bytes('a'), { format: 'bin' });
    expect(v.version).toBe(1);
    expect(storage.counts.lostReplies).toBe(1);
    expect((await registry.listVersions('m')).map((x) => x.version)).toEqual([1]);
  });
});
