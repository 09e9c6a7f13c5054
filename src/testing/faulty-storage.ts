import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError, ValidationError, describeValue } from '../errors.js';
import { checkNumber } from '../options.js';
import type { DeleteCondition, PutCondition, StorageAdapter, StoredObject } from '../storage/storage-adapter.js';

/** A storage operation, as {@link FaultyStorage} counts and injects faults into them. */
export type StorageOperation = 'get' | 'put' | 'delete' | 'list';

/** What {@link FaultyStorage} does to one call. */
export type StorageFault =
  /** The call fails before it reaches the adapter: nothing happened. */
  | 'fail'
  /** The call reaches the adapter and takes effect, then fails before the reply (a dropped connection). */
  | 'lose-reply'
  /**
   * A `put` stores only the first half of its bytes, then fails: a torn write, which an adapter
   * keeping its contract (atomic puts) never makes, for proving that readers detect and survive one
   * anyway (other operations fail as with `'fail'`).
   */
  | 'torn'
  /** The call goes through. */
  | 'pass';

/** One call as {@link FaultyStorageOptions.decide} sees it. */
export interface StorageCall {
  /** 1 for the first call through this wrapper, counting every operation. */
  index: number;
  operation: StorageOperation;
  key: string;
}

/** Options of {@link FaultyStorage}. */
export interface FaultyStorageOptions {
  /** Every nth call (of the `operations` counted) fails before reaching the adapter. */
  failEvery?: number;
  /** Every nth write (`put` or `delete`) takes effect, then fails before the reply. */
  loseReplyEvery?: number;
  /** Delay before each call, in ms: a number, or a function of the call (e.g. random jitter). */
  delayMs?: number | ((call: StorageCall) => number);
  /** Which operations `failEvery` counts and may fail (default all four). */
  operations?: readonly StorageOperation[];
  /** Full control: the fault for each call; when given, `failEvery` and `loseReplyEvery` are ignored. */
  decide?: (call: StorageCall) => StorageFault;
}

const OPERATIONS: readonly StorageOperation[] = ['get', 'put', 'delete', 'list'];

/**
 * Wraps any {@link StorageAdapter} and injects the failures real backends have: calls that fail
 * outright, slow calls, and writes that take effect but whose reply is lost (the connection drops
 * after the server committed). Every injected failure is a `StorageError` whose `cause` is an
 * `Error` saying which fault and which call, so code under test sees what a real adapter throws.
 * Use it to prove that an operation either completes or leaves the previous state intact.
 *
 * @example
 * ```ts
 * const storage = new FaultyStorage(new MemoryStorage(), { failEvery: 3, loseReplyEvery: 4 });
 * const registry = new ModelRegistry({ storage });
 * await registry.register('m', bytes).catch(() => undefined); // may fail, never half-done
 * storage.heal();                                              // no more faults
 * await registry.listVersions('m');                            // consistent
 * ```
 */
export class FaultyStorage implements StorageAdapter {
  /** The adapter calls are passed to. */
  readonly inner: StorageAdapter;
  /** Calls seen, failed before the adapter, failed after the adapter took them, and torn puts. */
  readonly counts = { calls: 0, failed: 0, lostReplies: 0, torn: 0 };
  #options: FaultyStorageOptions;
  #counted = 0;
  #writes = 0;

  constructor(inner: StorageAdapter, options: FaultyStorageOptions = {}) {
    for (const method of OPERATIONS) {
      if (typeof (inner as unknown as Record<string, unknown> | null)?.[method] !== 'function') {
        throw new ValidationError(`inner must be a StorageAdapter; its '${method}' is ${describeValue((inner as unknown as Record<string, unknown> | null)?.[method])}`);
      }
    }
    this.inner = inner;
    this.#options = checkOptions(options);
  }

  /** Replaces the fault options (counting starts again); `heal()` is `configure({})`. */
  configure(options: FaultyStorageOptions): void {
    this.#options = checkOptions(options);
    this.#counted = 0;
    this.#writes = 0;
  }

  /** Stops injecting faults and delays. */
  heal(): void {
    this.configure({});
  }

  get(key: string): Promise<StoredObject | undefined> {
    return this.#call('get', key, () => this.inner.get(key));
  }

  put(key: string, data: Uint8Array, cond?: PutCondition): Promise<{ etag: string }> {
    return this.#call('put', key, () => this.inner.put(key, data, cond), () => this.inner.put(key, data.subarray(0, data.length >> 1), cond));
  }

  delete(key: string, cond?: DeleteCondition): Promise<void> {
    return this.#call('delete', key, () => this.inner.delete(key, cond));
  }

  list(prefix: string): Promise<string[]> {
    return this.#call('list', prefix, () => this.inner.list(prefix));
  }

  async #call<T>(operation: StorageOperation, key: string, run: () => Promise<T>, tear?: () => Promise<unknown>): Promise<T> {
    const call: StorageCall = { index: ++this.counts.calls, operation, key };
    const { delayMs } = this.#options;
    const delay = typeof delayMs === 'function' ? delayMs(call) : (delayMs ?? 0);
    if (delay > 0) await sleep(delay);
    const fault = this.#decide(call);
    if (fault === 'torn' && tear) {
      this.counts.torn++;
      await tear();
      throw injected(call, 'stored only half of its bytes (a torn write)');
    }
    if (fault === 'fail' || fault === 'torn') {
      this.counts.failed++;
      throw injected(call, 'failed before reaching the adapter');
    }
    const result = await run();
    if (fault === 'lose-reply') {
      this.counts.lostReplies++;
      throw injected(call, 'took effect, then its reply was lost');
    }
    return result;
  }

  #decide(call: StorageCall): StorageFault {
    const { decide, failEvery, loseReplyEvery, operations = OPERATIONS } = this.#options;
    if (decide) return decide(call);
    if (failEvery !== undefined && operations.includes(call.operation) && ++this.#counted % failEvery === 0) return 'fail';
    if (loseReplyEvery !== undefined && (call.operation === 'put' || call.operation === 'delete') && ++this.#writes % loseReplyEvery === 0) {
      return 'lose-reply';
    }
    return 'pass';
  }
}

function injected(call: StorageCall, what: string): StorageError {
  const cause = new Error(`FaultyStorage: injected fault in call ${call.index} (${call.operation} '${call.key}')`);
  return new StorageError(`${call.operation} of '${call.key}' ${what} (injected by FaultyStorage)`, { cause });
}

function checkOptions(options: FaultyStorageOptions): FaultyStorageOptions {
  if (typeof options !== 'object' || options === null) throw new ValidationError(`FaultyStorage options must be an object, got ${describeValue(options)}`);
  const { failEvery, loseReplyEvery, delayMs, operations, decide } = options;
  if (failEvery !== undefined) checkNumber('failEvery', failEvery, { min: 1, integer: true });
  if (loseReplyEvery !== undefined) checkNumber('loseReplyEvery', loseReplyEvery, { min: 1, integer: true });
  if (delayMs !== undefined && typeof delayMs !== 'function') checkNumber('delayMs', delayMs, { min: 0 });
  if (decide !== undefined && typeof decide !== 'function') throw new ValidationError(`decide must be a function, got ${describeValue(decide)}`);
  if (operations !== undefined && (!Array.isArray(operations) || operations.some((o) => !OPERATIONS.includes(o)))) {
    throw new ValidationError(`operations must be an array of ${OPERATIONS.map((o) => `'${o}'`).join(', ')}, got ${describeValue(operations)}`);
  }
  return { ...options };
}
