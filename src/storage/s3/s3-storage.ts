import { randomBytes } from 'node:crypto';
import { PreconditionFailedError, StorageError, ValidationError, describeValue } from '../../errors.js';
import { checkNumber, checkOneOf } from '../../options.js';
import { checkStorageData, checkStorageKey, checkStoragePrefix, conditionKind } from '../keys.js';
import type { ConditionalRead, DeleteCondition, NotModified, PutCondition, StorageAdapter, StorageGuarantees, StoredObject } from '../storage-adapter.js';
import type { S3ClientLike } from './s3-types.js';

/** Options of {@link S3Storage}. */
export interface S3StorageOptions {
  /** The host's `S3Client` from `@aws-sdk/client-s3` >= 3.700 (for `IfMatch` on `PutObject`). */
  client: S3ClientLike;
  /** The bucket; it must exist. */
  bucket: string;
  /** Prepended to every key (default `''`), e.g. `'model-rollout/'`. */
  prefix?: string;
  /**
   * Unconditional writes larger than this (bytes) go up in parts, and an upload that fails is
   * aborted (default 16 MiB). Conditional writes are always one `PutObject`, whose condition S3
   * checks atomically (stores differ on conditions of `CompleteMultipartUpload`).
   */
  multipartThresholdBytes?: number;
  /** Size of each part of a multipart upload (default 8 MiB, at least 5 MiB as S3 requires). */
  partSizeBytes?: number;
  /**
   * How `delete(key, { ifMatch })` is made atomic (default `'tombstone'`):
   * - `'tombstone'`: a compare-and-swap `PutObject` of a tombstone (it reads as missing), then a
   *   plain delete; correct on every store that honours `If-Match` on `PutObject`, such as Ceph
   *   RGW, which ignores `If-Match` on `DeleteObject`;
   * - `'native'`: `DeleteObject` with `If-Match`, for stores that honour it (AWS S3 general
   *   purpose buckets since 2025). Run the conformance suite's `conditionalDelete` group first.
   */
  conditionalDelete?: 'tombstone' | 'native';
  /** Retries of a write S3 answers with 409 `ConditionalRequestConflict` (default 5). */
  conflictRetries?: number;
}

type S3Module = typeof import('@aws-sdk/client-s3');

let sdk: Promise<S3Module> | undefined;
function loadSdk(): Promise<S3Module> {
  sdk ??= import('@aws-sdk/client-s3').catch((err: unknown) => {
    sdk = undefined;
    throw new StorageError(`S3Storage needs the optional peer dependency @aws-sdk/client-s3 >= 3.700: npm install @aws-sdk/client-s3 (${(err as Error).message})`, {
      cause: err,
    });
  });
  return sdk;
}

// Every object starts with a 36-byte header: 4 magic bytes and the 32-hex-digit id of the write
// that made it. S3's ETag depends on the bytes only, so without the id a value that went
// A → B → A would get A's first ETag back and fool a compare-and-swap holding it.
const VALUE_MAGIC = 'MRS1';
const TOMBSTONE_MAGIC = 'MRT1';
const HEADER_BYTES = 36;
const WRITE_ID = 'mr-write';
const TOMBSTONE = 'mr-tombstone';
const MIN_PART = 5 * 1024 * 1024;

/** What a `HeadObject` tells about a key: its etag, the write that made it, whether it is a tombstone. */
interface HeadResult {
  etag: string;
  writeId?: string;
  tombstone: boolean;
}

interface S3Failure {
  name?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function statusOf(err: unknown): number | undefined {
  return (err as S3Failure | undefined)?.$metadata?.httpStatusCode;
}
function isPreconditionFailed(err: unknown): boolean {
  return statusOf(err) === 412 || (err as S3Failure).name === 'PreconditionFailed';
}
function isMissing(err: unknown): boolean {
  const name = (err as S3Failure).name;
  return statusOf(err) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}
function isConflict(err: unknown): boolean {
  return statusOf(err) === 409 || (err as S3Failure).name === 'ConditionalRequestConflict';
}

/** ETags are compared and sent unquoted: RGW answers 412 to a correct but quoted `If-Match`. */
function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
}

/**
 * A {@link StorageAdapter} on an S3 bucket (AWS S3, Ceph RGW and other S3-compatible stores that
 * honour conditional `PutObject`), for a fleet of replicas sharing the bucket.
 *
 * - Create-once is `PutObject` with `If-None-Match: *`, compare-and-swap `PutObject` with
 *   `If-Match` (sent unquoted); 412 and (for `If-Match`) 404 are a `PreconditionFailedError`,
 *   409 `ConditionalRequestConflict` is retried.
 * - Every object holds a 36-byte header with a random write id before the value, so every write
 *   gets a new ETag even for identical bytes (A → B → A yields three etags). Read objects through
 *   the adapter.
 * - Conditional delete is a compare-and-swap to a tombstone by default (see
 *   {@link S3StorageOptions.conditionalDelete}); a tombstone reads as missing and is removed.
 * - `list` pages through `ListObjectsV2` with continuation tokens.
 * - Unconditional writes above `multipartThresholdBytes` are multipart uploads, aborted on failure.
 *
 * Guarantees: conditional writes are atomic for every process on every host using the bucket, as
 * far as the store checks conditions atomically (AWS S3 does; Ceph RGW does for `PutObject`).
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 * import { S3Storage } from 'model-rollout/s3';
 *
 * const storage = new S3Storage({ client: new S3Client({}), bucket: 'ml-models', prefix: 'rollout/' });
 * const registry = new ModelRegistry({ storage });
 * ```
 */
export class S3Storage implements StorageAdapter, ConditionalRead {
  /** What this adapter guarantees on its store (see {@link S3StorageOptions.conditionalDelete}). */
  readonly guarantees: StorageGuarantees;
  /** The bucket. */
  readonly bucket: string;
  /** The key prefix inside the bucket. */
  readonly prefix: string;
  readonly #client: S3ClientLike;
  readonly #multipartThreshold: number;
  readonly #partSize: number;
  readonly #conditionalDelete: 'tombstone' | 'native';
  readonly #conflictRetries: number;
  /** Etags of tombstones seen by `get` and `list` (only those a crashed delete left behind stay). */
  readonly #tombstones = new Map<string, string>();

  constructor(options: S3StorageOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ValidationError(`S3Storage options must be an object with client and bucket, got ${describeValue(options)}`);
    }
    const { client, bucket, prefix = '' } = options;
    if (typeof client !== 'object' || client === null || typeof (client as { send?: unknown }).send !== 'function') {
      throw new ValidationError(`S3Storage client must be an S3Client (with send), got ${describeValue(client)}`);
    }
    if (typeof bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new ValidationError(`S3Storage bucket must be an S3 bucket name (3 to 63 of [a-z0-9.-]), got ${describeValue(bucket)}`);
    }
    checkStoragePrefix(prefix);
    this.#client = client;
    this.bucket = bucket;
    this.prefix = prefix;
    this.#multipartThreshold = checkNumber('multipartThresholdBytes', options.multipartThresholdBytes ?? 16 * 1024 * 1024, { min: MIN_PART, integer: true });
    this.#partSize = checkNumber('partSizeBytes', options.partSizeBytes ?? 8 * 1024 * 1024, { min: MIN_PART, integer: true });
    this.#conditionalDelete = checkOneOf('conditionalDelete', options.conditionalDelete ?? 'tombstone', ['tombstone', 'native']);
    this.#conflictRetries = checkNumber('conflictRetries', options.conflictRetries ?? 5, { min: 0, integer: true });
    this.guarantees = { scope: 'fleet', conditionalDelete: this.#conditionalDelete, changeFeed: false };
  }

  async get(key: string): Promise<StoredObject | undefined> {
    return this.#get(key, undefined) as Promise<StoredObject | undefined>;
  }

  /**
   * A real conditional GET: this adapter's etags are the objects' own S3 ETags, so `If-None-Match`
   * works as is and an unchanged key is a 304 with no body.
   */
  async getIfChanged(key: string, etag: string): Promise<StoredObject | NotModified | undefined> {
    return this.#get(key, etag);
  }

  async #get(key: string, ifNoneMatch: string | undefined): Promise<StoredObject | NotModified | undefined> {
    checkStorageKey(key);
    const { GetObjectCommand } = await loadSdk();
    let response: { Body?: { transformToByteArray(): Promise<Uint8Array> }; ETag?: string };
    try {
      const condition = ifNoneMatch === undefined ? {} : { IfNoneMatch: `"${unquote(ifNoneMatch)}"` };
      response = (await this.#send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ...condition }))) as typeof response;
    } catch (err) {
      if (isMissing(err)) return undefined;
      if (ifNoneMatch !== undefined && (statusOf(err) === 304 || (err as S3Failure).name === 'NotModified')) return { notModified: true, etag: ifNoneMatch };
      throw this.#error(`read key '${key}'`, err);
    }
    let body: Uint8Array;
    try {
      body = (await response.Body?.transformToByteArray()) ?? new Uint8Array(0);
    } catch (err) {
      throw this.#error(`read the body of key '${key}'`, err);
    }
    const magic = Buffer.from(body.buffer, body.byteOffset, Math.min(4, body.length)).toString('latin1');
    if (magic === TOMBSTONE_MAGIC) {
      this.#tombstones.set(key, unquote(response.ETag));
      return undefined;
    }
    if (magic !== VALUE_MAGIC || body.length < HEADER_BYTES) {
      throw new StorageError(`S3Storage object '${this.prefix + key}' in bucket '${this.bucket}' has no '${VALUE_MAGIC}' header: not written by this adapter`);
    }
    return { data: body.subarray(HEADER_BYTES), etag: unquote(response.ETag) };
  }

  async put(key: string, data: Uint8Array, cond?: PutCondition): Promise<{ etag: string }> {
    checkStorageKey(key);
    checkStorageData(data);
    const kind = conditionKind(cond, true);
    const writeId = randomBytes(16).toString('hex');
    const body = Buffer.allocUnsafe(HEADER_BYTES + data.length);
    body.write(VALUE_MAGIC + writeId, 0, 'latin1');
    body.set(data, HEADER_BYTES);
    if (kind === 'none' && body.length > this.#multipartThreshold) return { etag: await this.#multipart(key, body, writeId) };
    if (kind === 'none') {
      try {
        return { etag: await this.#putObject(key, body, writeId, {}, false) };
      } catch (err) {
        throw this.#error(`write key '${key}'`, err);
      }
    }
    const condition = kind === 'ifNoneMatch' ? { IfNoneMatch: '*' } : { IfMatch: unquote((cond as { ifMatch: string }).ifMatch) };
    return { etag: await this.#putIf(key, body, writeId, condition, false) };
  }

  async delete(key: string, cond?: DeleteCondition): Promise<void> {
    checkStorageKey(key);
    const kind = conditionKind(cond, false);
    const { DeleteObjectCommand } = await loadSdk();
    if (kind === 'ifMatch' && this.#conditionalDelete === 'tombstone') {
      const writeId = randomBytes(16).toString('hex');
      const tombstone = Buffer.from(TOMBSTONE_MAGIC + writeId, 'latin1');
      const tombstoneEtag = await this.#putIf(key, tombstone, writeId, { IfMatch: unquote(cond!.ifMatch) }, true);
      // The tombstone already reads as missing: the delete has happened. Removing it is tidying up,
      // conditional so a value written over the tombstone meanwhile is left alone where honoured.
      await this.#send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, IfMatch: tombstoneEtag })).catch(() => undefined);
      return;
    }
    try {
      await this.#withConflictRetry(() =>
        this.#send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ...(kind === 'ifMatch' ? { IfMatch: unquote(cond!.ifMatch) } : {}) })),
      );
    } catch (err) {
      if (kind === 'ifMatch' && (isPreconditionFailed(err) || isMissing(err))) {
        throw new PreconditionFailedError(`storage key '${key}' is missing or its etag is not '${cond!.ifMatch}' (ifMatch)`, { cause: err });
      }
      if (kind === 'none' && isMissing(err)) return;
      throw this.#error(`delete key '${key}'`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkStoragePrefix(prefix);
    const { ListObjectsV2Command } = await loadSdk();
    const keys: string[] = [];
    let token: string | undefined;
    do {
      let page: { Contents?: Array<{ Key?: string; Size?: number }>; IsTruncated?: boolean; NextContinuationToken?: string };
      try {
        page = (await this.#send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
        )) as typeof page;
      } catch (err) {
        throw this.#error(`list prefix '${prefix}'`, err);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        const key = object.Key.slice(this.prefix.length);
        // A tombstone is exactly a header long; so is an empty value, told apart by its metadata.
        if (object.Size === HEADER_BYTES) {
          const head = await this.#head(key);
          if (head === undefined) continue;
          if (head.tombstone) {
            this.#tombstones.set(key, head.etag);
            continue;
          }
        }
        keys.push(key);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  }

  /**
   * A conditional `PutObject` whose outcome is settled when the answer is unclear. RGW answers some
   * racing conditional writes with a 500, a lost reply leaves the outcome unknown, and after an SDK
   * retry a 412 may refuse our own first attempt: then the object's write id tells whether this
   * write landed, and the key's state whether it still can (then it is retried). A create refused
   * by a tombstone (left by a delete that crashed before removing it) replaces it by
   * compare-and-swap on the tombstone's etag, once a `get` or `list` of this adapter has seen it:
   * read-then-retry loops recover by themselves, and a clean refusal costs no extra request.
   */
  async #putIf(key: string, body: Buffer, writeId: string, condition: { IfNoneMatch: string } | { IfMatch: string }, tombstone: boolean): Promise<string> {
    const creating = 'IfNoneMatch' in condition;
    let current: { IfNoneMatch: string } | { IfMatch: string } = condition;
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        const etag = await this.#putObject(key, body, writeId, current, tombstone);
        this.#tombstones.delete(key);
        return etag;
      } catch (err) {
        failure = err;
      }
      const refused = isPreconditionFailed(failure) || ('IfMatch' in current && isMissing(failure));
      const status = statusOf(failure);
      if (!refused && status !== undefined && status >= 400 && status < 500 && status !== 409) throw this.#error(`write key '${key}'`, failure);
      if (refused && ((failure as S3Failure).$metadata?.attempts ?? 1) === 1) {
        // A clean refusal. Only a create over a tombstone this process has seen deserves a retry.
        const tombstoneEtag = creating ? this.#tombstones.get(key) : undefined;
        if (tombstoneEtag !== undefined && !('IfMatch' in current && current.IfMatch === tombstoneEtag)) {
          current = { IfMatch: tombstoneEtag };
          continue;
        }
        if (tombstoneEtag !== undefined) this.#tombstones.delete(key); // replaced by someone else meanwhile
        const expected = creating ? "already exists (ifNoneMatch: '*')" : `is missing or its etag is not '${(condition as { IfMatch: string }).IfMatch}' (ifMatch)`;
        throw new PreconditionFailedError(`storage key '${key}' ${expected}`, { cause: failure });
      }
      let head: HeadResult | undefined;
      try {
        head = await this.#head(key);
      } catch {
        throw this.#error(`write key '${key}' (and reading it back failed, so whether the write landed is unknown)`, failure);
      }
      if (head?.writeId === writeId) {
        this.#tombstones.delete(key);
        return head.etag;
      }
      let open: boolean;
      if (creating) {
        open = head === undefined || head.tombstone;
        current = head === undefined ? { IfNoneMatch: '*' } : { IfMatch: head.etag };
      } else {
        open = head !== undefined && !head.tombstone && head.etag === (condition as { IfMatch: string }).IfMatch;
      }
      if (!open) {
        const expected = creating ? "ifNoneMatch: '*'" : `ifMatch: '${(condition as { IfMatch: string }).IfMatch}'`;
        const state = head === undefined || head.tombstone ? 'does not exist' : creating ? 'already exists' : `has etag '${head.etag}'`;
        throw new PreconditionFailedError(`storage key '${key}' ${state} (${expected})`, { cause: failure });
      }
      if (attempt >= this.#conflictRetries) throw this.#error(`write key '${key}' after ${attempt + 1} attempts`, failure);
      await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt * (0.5 + Math.random())));
    }
  }

  async #putObject(key: string, body: Buffer, writeId: string, condition: { IfNoneMatch?: string; IfMatch?: string }, tombstone: boolean): Promise<string> {
    const { PutObjectCommand } = await loadSdk();
    const Metadata: Record<string, string> = tombstone ? { [WRITE_ID]: writeId, [TOMBSTONE]: '1' } : { [WRITE_ID]: writeId };
    const response = (await this.#withConflictRetry(() =>
      this.#send(new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: body, ContentLength: body.length, Metadata, ...condition })),
    )) as { ETag?: string };
    return unquote(response.ETag);
  }

  async #multipart(key: string, body: Buffer, writeId: string): Promise<string> {
    const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand } = await loadSdk();
    const Key = this.prefix + key;
    let uploadId: string | undefined;
    try {
      const created = (await this.#send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, Metadata: { [WRITE_ID]: writeId } }))) as { UploadId?: string };
      uploadId = created.UploadId;
      const parts: Array<{ ETag: string; PartNumber: number }> = [];
      for (let offset = 0, PartNumber = 1; offset < body.length; offset += this.#partSize, PartNumber++) {
        const chunk = body.subarray(offset, Math.min(body.length, offset + this.#partSize));
        const uploaded = (await this.#send(
          new UploadPartCommand({ Bucket: this.bucket, Key, UploadId: uploadId, PartNumber, Body: chunk, ContentLength: chunk.length }),
        )) as { ETag?: string };
        parts.push({ ETag: uploaded.ETag ?? '', PartNumber });
      }
      const done = (await this.#send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      )) as { ETag?: string };
      return unquote(done.ETag);
    } catch (err) {
      if (uploadId !== undefined) {
        await this.#send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId })).catch(() => undefined);
      }
      throw this.#error(`upload key '${key}' in parts (the upload was aborted)`, err);
    }
  }

  async #head(key: string): Promise<HeadResult | undefined> {
    const { HeadObjectCommand } = await loadSdk();
    try {
      const head = (await this.#send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }))) as {
        ETag?: string;
        Metadata?: Record<string, string>;
      };
      return { etag: unquote(head.ETag), writeId: head.Metadata?.[WRITE_ID], tombstone: head.Metadata?.[TOMBSTONE] === '1' };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw this.#error(`read the metadata of key '${key}'`, err);
    }
  }

  async #withConflictRetry<T>(attempt: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry++) {
      try {
        return await attempt();
      } catch (err) {
        if (!isConflict(err) || retry >= this.#conflictRetries) throw err;
        await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** retry * (0.5 + Math.random())));
      }
    }
  }

  #send(command: unknown): Promise<unknown> {
    return this.#client.send(command as never);
  }

  #error(action: string, err: unknown): StorageError {
    if (err instanceof StorageError || err instanceof PreconditionFailedError) return err as StorageError;
    const status = statusOf(err);
    return new StorageError(
      `S3Storage could not ${action} in bucket '${this.bucket}'${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message || (err as S3Failure).name}`,
      { cause: err },
    );
  }
}
