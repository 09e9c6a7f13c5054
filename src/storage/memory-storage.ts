import { PreconditionFailedError } from '../errors.js';
import { checkStorageData, checkStorageKey, checkStoragePrefix, conditionKind } from './keys.js';
import type { ConditionalRead, DeleteCondition, NotModified, PutCondition, StorageAdapter, StoredObject } from './storage-adapter.js';

/**
 * A {@link StorageAdapter} in process memory: for tests and ephemeral hosts. Values are copied in and
 * out, so callers cannot change stored bytes by mutating an array they passed or received. Every
 * operation checks and applies its condition in one synchronous step, so conditional writes are
 * linearizable within the process (the only place this storage exists).
 *
 * @example
 * ```ts
 * const registry = new ModelRegistry({ storage: new MemoryStorage() });
 * ```
 */
export class MemoryStorage implements StorageAdapter, ConditionalRead {
  readonly #entries = new Map<string, StoredObject>();
  #writes = 0;

  async get(key: string): Promise<StoredObject | undefined> {
    const entry = this.#entries.get(checkStorageKey(key));
    return entry && { data: entry.data.slice(), etag: entry.etag };
  }

  async getIfChanged(key: string, etag: string): Promise<StoredObject | NotModified | undefined> {
    if (this.#entries.get(checkStorageKey(key))?.etag === etag) return { notModified: true, etag };
    return this.get(key);
  }

  async put(key: string, data: Uint8Array, cond?: PutCondition): Promise<{ etag: string }> {
    checkStorageKey(key);
    checkStorageData(data);
    const kind = conditionKind(cond, true);
    const current = this.#entries.get(key);
    if (kind === 'ifNoneMatch' && current) {
      throw new PreconditionFailedError(`storage key '${key}' already exists (ifNoneMatch: '*')`);
    }
    if (kind === 'ifMatch') this.#checkMatch(key, current, (cond as { ifMatch: string }).ifMatch);
    // A counter, not a content hash: the etag must change on every write, even of identical bytes.
    const etag = `m${++this.#writes}`;
    this.#entries.set(key, { data: new Uint8Array(data), etag });
    return { etag };
  }

  async delete(key: string, cond?: DeleteCondition): Promise<void> {
    checkStorageKey(key);
    if (conditionKind(cond, false) === 'ifMatch') this.#checkMatch(key, this.#entries.get(key), cond!.ifMatch);
    this.#entries.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    checkStoragePrefix(prefix);
    const keys: string[] = [];
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) keys.push(key);
    return keys.sort();
  }

  #checkMatch(key: string, current: StoredObject | undefined, etag: string): void {
    if (!current) throw new PreconditionFailedError(`storage key '${key}' does not exist (ifMatch: '${etag}')`);
    if (current.etag !== etag) {
      throw new PreconditionFailedError(`storage key '${key}' has etag '${current.etag}', expected '${etag}' (ifMatch)`);
    }
  }
}
