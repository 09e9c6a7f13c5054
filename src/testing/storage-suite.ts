import { createHash } from 'node:crypto';
import { ValidationError } from '../errors.js';
import { hasConditionalRead, type StorageAdapter } from '../storage/storage-adapter.js';

/** The part of a test runner's `it`/`test` the suite uses (vitest, jest and mocha-style runners fit). */
export type SuiteTest = (name: string, fn: () => Promise<void>, timeoutMs?: number) => unknown;

/** The matchers of a runner's `expect` the suite uses (vitest and jest fit). */
export type SuiteExpect = (actual: unknown) => {
  toBe(expected: unknown): unknown;
  toEqual(expected: unknown): unknown;
};

/**
 * The groups of the conformance suite, each a capability an adapter may lack:
 * - `basics`: get, unconditional put and delete, empty and binary values, copies;
 * - `etags`: a new etag on every write, even of identical bytes (no A → B → A confusion);
 * - `conditionalReads`: `getIfChanged` (the optional `ConditionalRead` capability): an unchanged
 *   key is "not modified", a changed one its new value, a deleted one `undefined`;
 * - `conditionalWrites`: `ifNoneMatch: '*'` (create-once) and `ifMatch` (compare-and-swap);
 * - `conditionalDelete`: `delete` with `ifMatch`, alone and racing compare-and-swap writers;
 * - `concurrency`: 50 racers per condition, exactly one wins; read-modify-write loses nothing;
 * - `listing`: plain-string prefixes, sorted results;
 * - `paging`: 1 100 keys, more than one page of a paging backend;
 * - `largeValues`: a 20 MB value;
 * - `validation`: invalid keys, data and conditions are a `ValidationError` before any write.
 */
export const STORAGE_SUITE_GROUPS = [
  'basics',
  'etags',
  'conditionalReads',
  'conditionalWrites',
  'conditionalDelete',
  'concurrency',
  'listing',
  'paging',
  'largeValues',
  'validation',
] as const;

/** One group of the conformance suite (see {@link STORAGE_SUITE_GROUPS}). */
export type StorageSuiteGroup = (typeof STORAGE_SUITE_GROUPS)[number];

/** What {@link testStorageAdapter} needs from the test runner, and how to clean up. */
export interface StorageSuiteOptions<A extends StorageAdapter = StorageAdapter> {
  it: SuiteTest;
  expect: SuiteExpect;
  /**
   * Groups to switch off (`{ conditionalDelete: false }`) for an adapter whose store lacks that
   * capability; every group runs unless set to `false`. Say in the adapter's docs which ones are off.
   */
  groups?: Partial<Record<StorageSuiteGroup, boolean>>;
  /**
   * The runner's skip (`it.skip`): tests of switched-off groups are registered through it, so the
   * report shows them as skipped instead of leaving them out silently.
   */
  skip?: SuiteTest;
  /** Called after every test with the adapter it used (drop a table, remove a temp dir…). */
  dispose?: (adapter: A) => void | Promise<void>;
  /** Per-test timeout passed to `it` (default 60 000 ms; the 20 MB and racing tests do real I/O). */
  timeoutMs?: number;
}

const RACERS = 50;

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function text(data: Uint8Array | undefined): string | undefined {
  return data && new TextDecoder().decode(data);
}

/** Deterministic pseudo-random bytes (xorshift32), so a failing run can be reproduced. */
function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The stable error code of a rejection (`'PRECONDITION_FAILED'`, `'VALIDATION'`…), or `'resolved'`. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return String((err as { code?: unknown }).code ?? (err as Error).name);
  }
}

/**
 * The storage conformance suite: registers one test per guarantee of the `StorageAdapter`
 * contract, each on a fresh adapter from `makeAdapter`. Every built-in adapter runs it, and a
 * third-party adapter (S3, PostgreSQL, Redis…) should too: passing it is what lets the registry
 * promise "versions never reused, aliases moved by compare-and-swap" on that backend.
 *
 * Tests are named `<name> [<group>]: <guarantee>` and come in groups (keyv style, see
 * {@link STORAGE_SUITE_GROUPS}); an adapter whose store lacks a capability switches that group off
 * with `groups` and passes `skip` so the switched-off tests show as skipped. Every test gets a new
 * adapter from `makeAdapter` and hands it to `dispose` afterwards, so tests never share state.
 *
 * It imports no test framework: pass your runner's `it` and `expect`. Errors are matched by their
 * stable `code`, so an adapter built against another copy of this package passes too.
 *
 * @param name - Prefix of every test name, e.g. `'FileSystemStorage'`.
 * @param makeAdapter - Returns a new, empty adapter (a fresh directory, table or key prefix).
 *
 * @example
 * ```ts
 * import { describe, it, expect } from 'vitest';
 * import { testStorageAdapter } from 'model-rollout/testing';
 *
 * describe('RedisStorage', () => {
 *   testStorageAdapter('RedisStorage', () => new RedisStorage({ client, prefix: randomUUID() }), {
 *     it, expect, skip: it.skip,
 *     groups: { conditionalDelete: false }, // this store cannot delete conditionally
 *   });
 * });
 * ```
 */
export function testStorageAdapter<A extends StorageAdapter>(
  name: string,
  makeAdapter: () => A | Promise<A>,
  options: StorageSuiteOptions<A>,
): void {
  const { it, expect, dispose, skip, timeoutMs = 60_000 } = options;
  for (const group of Object.keys(options.groups ?? {})) {
    if (!(STORAGE_SUITE_GROUPS as readonly string[]).includes(group)) {
      throw new ValidationError(`testStorageAdapter groups: unknown group '${group}', expected one of ${STORAGE_SUITE_GROUPS.join(', ')}`);
    }
  }
  const test = (group: StorageSuiteGroup, title: string, body: (storage: A) => Promise<void>) => {
    const fullName = `${name} [${group}]: ${title}`;
    if (options.groups?.[group] === false) {
      skip?.(fullName, async () => undefined, timeoutMs);
      return;
    }
    it(
      fullName,
      async () => {
        const storage = await makeAdapter();
        try {
          await body(storage);
        } finally {
          await dispose?.(storage);
        }
      },
      timeoutMs,
    );
  };

  test('basics', 'a missing key reads as undefined and deleting it without a condition is a no-op', async (s) => {
    expect(await s.get('missing/key')).toBe(undefined);
    await s.delete('missing/key');
    expect(await s.list('')).toEqual([]);
  });

  test('basics', 'round-trips every byte value', async (s) => {
    const all = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
    await s.put('bin/all-bytes', all);
    const got = await s.get('bin/all-bytes');
    expect(got && Array.from(got.data)).toEqual(Array.from(all));
  });

  test('basics', 'round-trips an empty value as present, not missing', async (s) => {
    await s.put('bin/empty', new Uint8Array(0));
    const got = await s.get('bin/empty');
    expect(got?.data.length).toBe(0);
    expect(await s.list('bin/')).toEqual(['bin/empty']);
  });

  test('largeValues', 'round-trips a 20 MB value', async (s) => {
    const big = patternBytes(20 * 1024 * 1024, 20);
    await s.put('bin/large', big);
    const got = await s.get('bin/large');
    expect(got?.data.length).toBe(big.length);
    expect(got && sha256(got.data)).toBe(sha256(big));
  });

  test('basics', 'keeps its own copy: mutating the written or the read array changes nothing stored', async (s) => {
    const data = bytes('original');
    await s.put('copy/key', data);
    data[0] = 0x58;
    const first = await s.get('copy/key');
    expect(text(first?.data)).toBe('original');
    first!.data[0] = 0x59;
    expect(text((await s.get('copy/key'))?.data)).toBe('original');
  });

  test('basics', 'an unconditional put replaces the value', async (s) => {
    await s.put('k', bytes('one'));
    await s.put('k', bytes('two'));
    expect(text((await s.get('k'))?.data)).toBe('two');
  });

  test('conditionalReads', 'getIfChanged: unchanged is not modified; changed is the new value; deleted is undefined', async (s) => {
    if (!hasConditionalRead(s)) throw new ValidationError('the adapter has no getIfChanged(key, etag): switch the conditionalReads group off');
    const first = await s.put('cond/key', bytes('one'));
    expect(await s.getIfChanged('cond/key', first.etag)).toEqual({ notModified: true, etag: first.etag });
    const second = await s.put('cond/key', bytes('one'));
    const changed = await s.getIfChanged('cond/key', first.etag);
    expect(changed && 'data' in changed ? [text(changed.data), changed.etag] : changed).toEqual(['one', second.etag]);
    expect(await s.getIfChanged('cond/key', second.etag)).toEqual({ notModified: true, etag: second.etag });
    await s.delete('cond/key');
    expect(await s.getIfChanged('cond/key', second.etag)).toBe(undefined);
    expect(await s.getIfChanged('cond/never', 'no-such-etag')).toBe(undefined);
  });

  test('conditionalReads', 'getIfChanged returns an empty or a binary value whole, like get', async (s) => {
    if (!hasConditionalRead(s)) throw new ValidationError('the adapter has no getIfChanged(key, etag): switch the conditionalReads group off');
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await s.put('cond/bin', all);
    await s.put('cond/empty', new Uint8Array(0));
    const bin = await s.getIfChanged('cond/bin', 'some-other-etag');
    expect(bin && 'data' in bin ? Array.from(bin.data) : bin).toEqual(Array.from(all));
    const empty = await s.getIfChanged('cond/empty', 'some-other-etag');
    expect(empty && 'data' in empty ? empty.data.length : empty).toBe(0);
  });

  test('etags', 'put returns the etag get reports, and the etag changes on every write, even of identical bytes', async (s) => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const { etag } = await s.put('etag/key', bytes('same bytes every time'));
      expect(typeof etag === 'string' && etag.length > 0).toBe(true);
      expect((await s.get('etag/key'))?.etag).toBe(etag);
      seen.add(etag);
    }
    expect(seen.size).toBe(10);
  });

  test('etags', 'a value that goes A → B → A has three etags, and ifMatch with the first one fails', async (s) => {
    const a1 = await s.put('aba/key', bytes('A'));
    const b = await s.put('aba/key', bytes('B'), { ifMatch: a1.etag });
    const a2 = await s.put('aba/key', bytes('A'), { ifMatch: b.etag });
    expect(new Set([a1.etag, b.etag, a2.etag]).size).toBe(3);
    expect(await codeOf(s.put('aba/key', bytes('C'), { ifMatch: a1.etag }))).toBe('PRECONDITION_FAILED');
    expect(await s.get('aba/key')).toEqual({ data: bytes('A'), etag: a2.etag });
  });

  test('conditionalWrites', "ifNoneMatch: '*' creates a missing key and refuses an existing one, leaving it unchanged", async (s) => {
    const { etag } = await s.put('create/once', bytes('first'), { ifNoneMatch: '*' });
    expect(await codeOf(s.put('create/once', bytes('second'), { ifNoneMatch: '*' }))).toBe('PRECONDITION_FAILED');
    expect(await s.get('create/once')).toEqual({ data: bytes('first'), etag });
  });

  test('conditionalWrites', 'ifMatch writes only over the current etag; a stale etag or a missing key fails and changes nothing', async (s) => {
    const first = await s.put('cas/key', bytes('v1'));
    const second = await s.put('cas/key', bytes('v2'), { ifMatch: first.etag });
    expect(second.etag === first.etag).toBe(false);
    expect(await codeOf(s.put('cas/key', bytes('v3'), { ifMatch: first.etag }))).toBe('PRECONDITION_FAILED');
    expect(await s.get('cas/key')).toEqual({ data: bytes('v2'), etag: second.etag });
    expect(await codeOf(s.put('cas/missing', bytes('x'), { ifMatch: first.etag }))).toBe('PRECONDITION_FAILED');
    expect(await s.get('cas/missing')).toBe(undefined);
  });

  test('conditionalDelete', 'delete with a stale etag fails and keeps the value; with the current etag it deletes', async (s) => {
    const old = await s.put('del/key', bytes('a'));
    const current = await s.put('del/key', bytes('b'));
    expect(await codeOf(s.delete('del/key', { ifMatch: old.etag }))).toBe('PRECONDITION_FAILED');
    expect(text((await s.get('del/key'))?.data)).toBe('b');
    await s.delete('del/key', { ifMatch: current.etag });
    expect(await s.get('del/key')).toBe(undefined);
    expect(await codeOf(s.delete('del/key', { ifMatch: current.etag }))).toBe('PRECONDITION_FAILED');
    expect(await s.list('del/')).toEqual([]);
  });

  test('conditionalDelete', `a conditional delete racing ${RACERS - 1} compare-and-swap writers on the same etag: exactly one wins`, async (s) => {
    const { etag } = await s.put('race/del', bytes('start'));
    const writers = Array.from({ length: RACERS - 1 }, (_, i) => s.put('race/del', bytes(`w${i}`), { ifMatch: etag }).then(() => `w${i}`));
    const deleter = s.delete('race/del', { ifMatch: etag }).then(() => 'deleted');
    const results = await Promise.allSettled([...writers, deleter]);
    const winners = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(winners.length).toBe(1);
    const losers = await Promise.all(results.filter((r) => r.status === 'rejected').map((r) => codeOf(Promise.reject(r.reason))));
    expect(losers).toEqual(Array(RACERS - 1).fill('PRECONDITION_FAILED'));
    const left = await s.get('race/del');
    expect(left === undefined ? 'deleted' : text(left.data)).toBe(winners[0]);
    expect(await s.list('race/')).toEqual(left === undefined ? [] : ['race/del']);
    // Whatever the delete left behind, the key can be created again exactly once.
    await s.delete('race/del');
    const again = await Promise.allSettled(Array.from({ length: 5 }, () => s.put('race/del', bytes('new'), { ifNoneMatch: '*' })));
    expect(again.filter((r) => r.status === 'fulfilled').length).toBe(1);
  });

  test('conditionalWrites', 'a deleted key can be created again and gets a new etag', async (s) => {
    const first = await s.put('again/key', bytes('x'), { ifNoneMatch: '*' });
    await s.delete('again/key');
    const second = await s.put('again/key', bytes('x'), { ifNoneMatch: '*' });
    expect(second.etag === first.etag).toBe(false);
  });

  test('concurrency', `ifNoneMatch: '*' wins exactly once among ${RACERS} concurrent racers`, async (s) => {
    const results = await Promise.allSettled(
      Array.from({ length: RACERS }, (_, i) => s.put('race/create', bytes(`racer ${i}`), { ifNoneMatch: '*' })),
    );
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, etag: r.value.etag }] : []));
    expect(winners.length).toBe(1);
    const losers = await Promise.all(results.filter((r) => r.status === 'rejected').map((r) => codeOf(Promise.reject(r.reason))));
    expect(losers).toEqual(Array(RACERS - 1).fill('PRECONDITION_FAILED'));
    expect(await s.get('race/create')).toEqual({ data: bytes(`racer ${winners[0]!.i}`), etag: winners[0]!.etag });
  });

  test('concurrency', `ifMatch wins exactly once among ${RACERS} concurrent racers holding the same etag`, async (s) => {
    const { etag } = await s.put('race/cas', bytes('start'));
    const results = await Promise.allSettled(
      Array.from({ length: RACERS }, (_, i) => s.put('race/cas', bytes(`racer ${i}`), { ifMatch: etag })),
    );
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, etag: r.value.etag }] : []));
    expect(winners.length).toBe(1);
    const losers = await Promise.all(results.filter((r) => r.status === 'rejected').map((r) => codeOf(Promise.reject(r.reason))));
    expect(losers).toEqual(Array(RACERS - 1).fill('PRECONDITION_FAILED'));
    expect(await s.get('race/cas')).toEqual({ data: bytes(`racer ${winners[0]!.i}`), etag: winners[0]!.etag });
  });

  test('concurrency', 'read-modify-write with ifMatch and retry loses no update among concurrent writers', async (s) => {
    await s.put('counter', bytes('0'));
    const increment = async () => {
      for (;;) {
        const current = (await s.get('counter'))!;
        const next = bytes(String(Number(text(current.data)) + 1));
        try {
          await s.put('counter', next, { ifMatch: current.etag });
          return;
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'PRECONDITION_FAILED') throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, increment));
    expect(text((await s.get('counter'))?.data)).toBe('20');
  });

  test('listing', 'list is prefix-exact (a plain string prefix) and sorted', async (s) => {
    const keys = ['a/b/c', 'a/bc', 'a/b-d', 'ab', 'b', 'a/b/x/y', 'v/10', 'v/9', 'v/1', 'Q/upper'];
    for (const key of keys) await s.put(key, bytes(key));
    expect(await s.list('')).toEqual([...keys].sort());
    expect(await s.list('a/b')).toEqual(['a/b-d', 'a/b/c', 'a/b/x/y', 'a/bc']);
    expect(await s.list('a/b/')).toEqual(['a/b/c', 'a/b/x/y']);
    expect(await s.list('a/b/x/y')).toEqual(['a/b/x/y']);
    expect(await s.list('a')).toEqual(['a/b-d', 'a/b/c', 'a/b/x/y', 'a/bc', 'ab']);
    expect(await s.list('v/')).toEqual(['v/1', 'v/10', 'v/9']);
    expect(await s.list('zz')).toEqual([]);
    expect(await s.list('a/q/')).toEqual([]);
    await s.delete('a/bc');
    expect(await s.list('a/b')).toEqual(['a/b-d', 'a/b/c', 'a/b/x/y']);
  });

  test('paging', 'list returns more keys than one page of a paging backend (1,100)', async (s) => {
    const keys = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => s.put(key, new Uint8Array([1]))));
    }
    expect(await s.list('many/')).toEqual(keys);
  });

  test('validation', 'accepts every allowed key character', async (s) => {
    const key = 'Az09._-@=+~/x.y_z';
    await s.put(key, bytes('ok'));
    expect(text((await s.get(key))?.data)).toBe('ok');
    expect(await s.list('Az09')).toEqual([key]);
  });

  test('validation', 'rejects invalid keys with a ValidationError before touching anything', async (s) => {
    await s.put('kept', bytes('kept'));
    const bad = ['', '../x', 'a/../b', './a', '/a', 'a/', 'a//b', '.hidden', 'a\\b', 'sp ace', 'é', 'x'.repeat(1025)];
    for (const key of bad) {
      expect([key, await codeOf(s.put(key, bytes('x')))]).toEqual([key, 'VALIDATION']);
      expect([key, await codeOf(s.get(key))]).toEqual([key, 'VALIDATION']);
      expect([key, await codeOf(s.delete(key))]).toEqual([key, 'VALIDATION']);
    }
    expect(await s.list('')).toEqual(['kept']);
  });

  test('validation', 'rejects data that is not a Uint8Array and malformed conditions with a ValidationError', async (s) => {
    const put = s.put.bind(s) as (key: string, data: unknown, cond?: unknown) => Promise<unknown>;
    expect(await codeOf(put('k', 'a string'))).toBe('VALIDATION');
    expect(await codeOf(put('k', [1, 2, 3]))).toBe('VALIDATION');
    expect(await codeOf(put('k', bytes('x'), { ifNoneMatch: 'etag' }))).toBe('VALIDATION');
    expect(await codeOf(put('k', bytes('x'), { ifMatch: '' }))).toBe('VALIDATION');
    expect(await s.list('')).toEqual([]);
  });
}
