import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PreconditionFailedError } from '../../src/errors.js';
import { MemoryStorage, readIfChanged, type PutCondition, type StorageAdapter } from '../../src/index.js';
import { STORAGE_SUITE_GROUPS, testStorageAdapter } from '../../src/testing/index.js';

/**
 * Runs the conformance suite's tests whose names contain one of `only` against `make`, and returns
 * the names of those that failed. (MemoryStorage passing all of them is memory-storage.test.ts.)
 */
async function failingTests(make: () => StorageAdapter, only: string[]): Promise<string[]> {
  const tests: Array<[string, () => Promise<void>]> = [];
  testStorageAdapter('X', make, { it: (name, fn) => tests.push([name, fn]), expect });
  const failed: string[] = [];
  for (const [name, fn] of tests.filter(([n]) => only.some((o) => n.includes(o)))) {
    try {
      await fn();
    } catch {
      failed.push(name.replace(/^X \[\w+\]: /, ''));
    }
  }
  return failed;
}

/** Delegates to MemoryStorage; subclasses break one rule each. */
class Delegating implements StorageAdapter {
  readonly inner = new MemoryStorage();
  get(key: string) {
    return this.inner.get(key);
  }
  put(key: string, data: Uint8Array, cond?: PutCondition) {
    return this.inner.put(key, data, cond);
  }
  delete(key: string, cond?: { ifMatch: string }) {
    return this.inner.delete(key, cond);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
}

describe('testStorageAdapter catches broken adapters', () => {
  it('catches etags derived from content (unchanged by an identical rewrite)', async () => {
    class ContentEtag extends Delegating {
      override async get(key: string) {
        const got = await this.inner.get(key);
        return got && { data: got.data, etag: createHash('sha256').update(got.data).digest('hex') };
      }
      override async put(key: string, data: Uint8Array, cond?: PutCondition) {
        if (cond && 'ifMatch' in cond && (await this.get(key))?.etag !== cond.ifMatch) throw new PreconditionFailedError('stale');
        await this.inner.put(key, data, cond && 'ifNoneMatch' in cond ? cond : undefined);
        return { etag: createHash('sha256').update(data).digest('hex') };
      }
    }
    expect(await failingTests(() => new ContentEtag(), ['the etag changes on every write'])).toEqual([
      'put returns the etag get reports, and the etag changes on every write, even of identical bytes',
    ]);
  });

  it('catches conditional writes done as check-then-write in two steps', async () => {
    class CheckThenWrite extends Delegating {
      override async put(key: string, data: Uint8Array, cond?: PutCondition) {
        const current = await this.inner.get(key);
        await yieldToLoop();
        if (cond && 'ifNoneMatch' in cond && current) throw new PreconditionFailedError('exists');
        if (cond && 'ifMatch' in cond && current?.etag !== cond.ifMatch) throw new PreconditionFailedError('stale');
        return this.inner.put(key, data);
      }
    }
    const failed = await failingTests(() => new CheckThenWrite(), ['racers', 'read-modify-write']);
    expect(failed).toEqual(
      [
        "ifNoneMatch: '*' wins exactly once among 50 concurrent racers",
        'ifMatch wins exactly once among 50 concurrent racers holding the same etag',
        'read-modify-write with ifMatch and retry loses no update among concurrent writers',
      ],
    );
  });

  it('catches unsorted, directory-style and truncated listings', async () => {
    class Unsorted extends Delegating {
      override async list(prefix: string) {
        return (await this.inner.list(prefix)).reverse();
      }
    }
    class DirectoryStyle extends Delegating {
      override async list(prefix: string) {
        return (await this.inner.list(prefix)).filter((k) => !k.slice(prefix.length).includes('/'));
      }
    }
    class OnePage extends Delegating {
      override async list(prefix: string) {
        return (await this.inner.list(prefix)).slice(0, 1000);
      }
    }
    const listTests = ['list'];
    expect(await failingTests(() => new Unsorted(), listTests)).toContain('list is prefix-exact (a plain string prefix) and sorted');
    expect(await failingTests(() => new DirectoryStyle(), listTests)).toContain('list is prefix-exact (a plain string prefix) and sorted');
    expect(await failingTests(() => new OnePage(), listTests)).toEqual(['list returns more keys than one page of a paging backend (1,100)']);
  });

  it('catches an adapter that keeps the caller\'s array and one that accepts any key', async () => {
    const shared = new Map<string, Uint8Array>();
    class NoCopy extends Delegating {
      override async get(key: string) {
        const got = await this.inner.get(key);
        return got && { data: shared.get(key)!, etag: got.etag };
      }
      override async put(key: string, data: Uint8Array, cond?: PutCondition) {
        const result = await this.inner.put(key, data, cond);
        shared.set(key, data);
        return result;
      }
    }
    expect(await failingTests(() => new NoCopy(), ['copy'])).toEqual([
      'keeps its own copy: mutating the written or the read array changes nothing stored',
    ]);
    class AnyKey implements StorageAdapter {
      readonly map = new Map<string, { data: Uint8Array; etag: string }>();
      n = 0;
      async get(key: string) {
        return this.map.get(key);
      }
      async put(key: string, data: Uint8Array) {
        const etag = String(++this.n);
        this.map.set(key, { data: data.slice(), etag });
        return { etag };
      }
      async delete(key: string) {
        this.map.delete(key);
      }
      async list(prefix: string) {
        return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
      }
    }
    expect(await failingTests(() => new AnyKey(), ['rejects'])).toEqual([
      'rejects invalid keys with a ValidationError before touching anything',
      'rejects data that is not a Uint8Array and malformed conditions with a ValidationError',
    ]);
  });
});

describe('conditional reads', () => {
  it('an adapter without getIfChanged fails the conditionalReads group; readIfChanged falls back to a full get', async () => {
    expect(await failingTests(() => new Delegating(), ['getIfChanged'])).toEqual([
      'getIfChanged: unchanged is not modified; changed is the new value; deleted is undefined',
      'getIfChanged returns an empty or a binary value whole, like get',
    ]);
    const plain = new Delegating();
    const { etag } = await plain.put('k', new TextEncoder().encode('v'));
    expect(await readIfChanged(plain, 'k', etag)).toEqual({ notModified: true, etag });
    expect(await readIfChanged(plain, 'k', 'old')).toEqual({ data: new TextEncoder().encode('v'), etag });
    expect(await readIfChanged(plain, 'gone', etag)).toBe(undefined);
  });

  it('an adapter that answers "not modified" to a changed key fails the group', async () => {
    class Stale extends Delegating {
      async getIfChanged(_key: string, etag: string) {
        return { notModified: true as const, etag };
      }
    }
    expect(await failingTests(() => new Stale(), ['getIfChanged: unchanged'])).toEqual([
      'getIfChanged: unchanged is not modified; changed is the new value; deleted is undefined',
    ]);
  });
});

describe('testStorageAdapter groups', () => {
  function registered(options: Partial<Parameters<typeof testStorageAdapter>[2]> = {}) {
    const run: string[] = [];
    const skipped: string[] = [];
    testStorageAdapter('X', () => new MemoryStorage(), {
      it: (name) => run.push(name),
      skip: (name) => skipped.push(name),
      expect,
      ...options,
    });
    return { run, skipped };
  }

  it('names every test by its group and registers every group by default', () => {
    const { run, skipped } = registered();
    expect(skipped).toEqual([]);
    const groups = new Set(run.map((n) => /^X \[(\w+)\]: /.exec(n)?.[1]));
    expect([...groups].sort()).toEqual([...STORAGE_SUITE_GROUPS].sort());
  });

  it('a group switched off is registered through skip, the rest run', () => {
    const all = registered().run;
    const { run, skipped } = registered({ groups: { conditionalDelete: false, largeValues: false } });
    expect(skipped.length).toBeGreaterThan(1);
    expect(skipped.every((n) => n.startsWith('X [conditionalDelete]') || n.startsWith('X [largeValues]'))).toBe(true);
    expect([...run, ...skipped].sort()).toEqual([...all].sort());
    expect(registered({ groups: { paging: false }, skip: undefined }).run.some((n) => n.includes('[paging]'))).toBe(false);
  });

  it('an unknown group is a ValidationError naming the known ones', () => {
    expect(() => registered({ groups: { pagination: false } as never })).toThrow(/unknown group 'pagination', expected one of basics, etags/);
  });

  it('catches a conditional delete that ignores its etag (as RGW does with If-Match)', async () => {
    class IgnoresDeleteCondition extends Delegating {
      override delete(key: string) {
        return this.inner.delete(key);
      }
    }
    expect(await failingTests(() => new IgnoresDeleteCondition(), ['[conditionalDelete]'])).toEqual([
      'delete with a stale etag fails and keeps the value; with the current etag it deletes',
      'a conditional delete racing 49 compare-and-swap writers on the same etag: exactly one wins',
    ]);
  });
});
