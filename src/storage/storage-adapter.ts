/** A stored value and the etag of the write that produced it. */
export interface StoredObject {
  data: Uint8Array;
  /** Opaque version tag of this value; pass it back as `ifMatch` to update it only if unchanged. */
  etag: string;
}

/**
 * Makes a `put` conditional:
 * - `{ ifNoneMatch: '*' }` writes only if the key does not exist (create-once);
 * - `{ ifMatch: etag }` writes only if the key's current etag is `etag` (compare-and-swap).
 *
 * A write whose condition does not hold throws `PreconditionFailedError` and changes nothing.
 */
export type PutCondition = { ifNoneMatch: '*' } | { ifMatch: string };

/** Makes a `delete` conditional: it deletes only if the key's current etag is `ifMatch`. */
export interface DeleteCondition {
  ifMatch: string;
}

/**
 * Where bytes live: one small interface shaped like object storage with conditional writes, so a
 * file system, S3 and PostgreSQL can all give the same guarantees. Every implementation must pass
 * the conformance suite `testStorageAdapter` from `model-rollout/testing`.
 *
 * Contract (what the registry relies on):
 * - keys are `/`-separated segments checked by {@link checkStorageKey}; invalid keys are a
 *   `ValidationError` before anything is touched;
 * - a `put` is atomic: readers see the old value or the new one, never a mix, even after a crash;
 * - every successful `put` returns a new etag, different from every earlier etag of that key, even
 *   when the bytes are identical;
 * - conditional writes are linearizable: of any number of concurrent writers (in any process or
 *   host the adapter spans) with the same condition, exactly one succeeds and the rest get
 *   `PreconditionFailedError`;
 * - `get` of a missing key is `undefined`; `delete` of a missing key without a condition is a no-op;
 * - `list(prefix)` returns every key that starts with `prefix` (a plain string prefix, as in S3),
 *   sorted by code unit (for the ASCII keys allowed, that is byte order);
 * - backend failures are a `StorageError` (with the original error as `cause`).
 *
 * @example
 * ```ts
 * const storage: StorageAdapter = new MemoryStorage();
 * const { etag } = await storage.put('deployments/iris.json', bytes, { ifNoneMatch: '*' });
 * await storage.put('deployments/iris.json', newBytes, { ifMatch: etag }); // CAS
 * ```
 */
export interface StorageAdapter {
  /** Reads a value; `undefined` when the key does not exist. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Writes a value atomically, optionally only under `cond`; resolves to the new etag. */
  put(key: string, data: Uint8Array, cond?: PutCondition): Promise<{ etag: string }>;
  /** Deletes a value, optionally only if its etag is still `cond.ifMatch`. */
  delete(key: string, cond?: DeleteCondition): Promise<void>;
  /** Every key starting with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
}

/** What {@link ConditionalRead.getIfChanged} resolves to when the key still has the etag given. */
export interface NotModified {
  notModified: true;
  /** The etag given, which is still the key's. */
  etag: string;
}

/**
 * An optional capability of a {@link StorageAdapter}: a conditional read (an HTTP `If-None-Match`
 * GET) that transfers no value when the key still has the etag the caller holds. It is a separate
 * method rather than an option of `get`, so `get`'s type stays as it is for every caller and every
 * adapter; adapters without it are read through {@link readIfChanged}, which falls back to `get`.
 * `MemoryStorage`, `FileSystemStorage`, `PostgresStorage` and `S3Storage` have it.
 */
export interface ConditionalRead {
  /**
   * The value of `key` unless its etag is still `etag`: {@link NotModified} when it is (no value
   * read or transferred), the new value when it changed, `undefined` when the key is gone.
   */
  getIfChanged(key: string, etag: string): Promise<StoredObject | NotModified | undefined>;
}

/** Whether `storage` offers {@link ConditionalRead}. */
export function hasConditionalRead(storage: StorageAdapter): storage is StorageAdapter & ConditionalRead {
  return typeof (storage as Partial<ConditionalRead>).getIfChanged === 'function';
}

/**
 * Reads `key` unless its etag is still `etag`, with the adapter's {@link ConditionalRead} when it
 * has one; otherwise with a full `get` compared afterwards (same answer, but the value is transferred).
 */
export async function readIfChanged(storage: StorageAdapter, key: string, etag: string): Promise<StoredObject | NotModified | undefined> {
  if (hasConditionalRead(storage)) return storage.getIfChanged(key, etag);
  const stored = await storage.get(key);
  return stored && stored.etag === etag ? { notModified: true, etag } : stored;
}

/** Whether a conditional read answered "not modified". */
export function isNotModified<T extends object>(result: T | NotModified | undefined): result is NotModified {
  return (result as Partial<NotModified> | undefined)?.notModified === true;
}

/**
 * What an adapter's store guarantees, declared by the adapter so a host (and the docs) can tell
 * which promise needs which store. Adapters that omit it make the guarantees of the contract above
 * within their `scope` only.
 */
export interface StorageGuarantees {
  /**
   * Who the conditional writes are atomic for: one process (`'process'`), every process on one
   * host (`'host'`), or every process on every host that reaches the store (`'fleet'`).
   */
  scope: 'process' | 'host' | 'fleet';
  /**
   * How `delete(key, { ifMatch })` is made atomic: by the store itself (`'native'`), or by a
   * compare-and-swap to a tombstone that reads as missing, removed afterwards (`'tombstone'`).
   */
  conditionalDelete: 'native' | 'tombstone';
  /** True when the adapter can push change hints (e.g. PostgreSQL LISTEN/NOTIFY); never the source of truth. */
  changeFeed: boolean;
}

/**
 * What an adapter whose values are plain local files offers besides the four methods, so that
 * artifacts of gigabytes never pass through memory: `register` from a path or a stream writes
 * into {@link LocalFileStorage.stagingDir}, then {@link LocalFileStorage.putFile} links the file
 * into place; a load verifies the file at {@link LocalFileStorage.localPath} by streaming and
 * opens it by path. `FileSystemStorage` has it; other adapters go through a local cache directory
 * (see `ModelRegistry`'s `cacheDir`). Check for it with {@link hasLocalFiles}.
 */
export interface LocalFileStorage {
  /** A directory on the same file system as the stored files, for files to be stored with `putFile`. */
  stagingDir(): Promise<string>;
  /**
   * Stores the bytes of `file` under `key`, as `put` would (same conditions, same atomicity),
   * without reading them into memory: linked into place when `file` is on the same file system,
   * copied by streaming otherwise. `file` itself is left where it is.
   */
  putFile(key: string, file: string, cond?: PutCondition): Promise<{ etag: string }>;
  /**
   * The path of the file that holds exactly the value of `key` (nothing before or after it), or
   * `undefined` when the key does not exist or its file is not the raw value.
   */
  localPath(key: string): Promise<string | undefined>;
}

/** Whether `storage` offers {@link LocalFileStorage}. */
export function hasLocalFiles(storage: StorageAdapter): storage is StorageAdapter & LocalFileStorage {
  const s = storage as Partial<LocalFileStorage>;
  return typeof s.stagingDir === 'function' && typeof s.putFile === 'function' && typeof s.localPath === 'function';
}
