import { createHash } from 'node:crypto';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EventEmitter } from 'eventemitter3';
import {
  IntegrityError,
  InvalidStateError,
  NotFoundError,
  PreconditionFailedError,
  StorageError,
  ValidationError,
  describeValue,
} from '../errors.js';
import { checkFunction, checkVersion, type Clock } from '../options.js';
import { FileSystemStorage } from '../storage/file-system-storage.js';
import { hasLocalFiles, type PutCondition, type StorageAdapter } from '../storage/storage-adapter.js';
import { hashFile, isAsyncIterable, stageArtifact, type StagedArtifact } from './artifact-files.js';
import type {
  AliasChangeOptions,
  AliasHistoryEntry,
  Lineage,
  ListVersionsOptions,
  ListVersionsPageOptions,
  ModelRegistryEvents,
  ModelVersion,
  RegisterOptions,
  VersionRef,
  VersionsPage,
} from './model-version.js';
import { checkName } from './names.js';
import { inspectOnnx, type OnnxInspection } from './onnx-info.js';
import { emptyAliasDocument, parseAliasDocument, parseHeadHint, parseVersionRecord, type AliasDocument, type Tombstone } from './records.js';

/** Options of {@link ModelRegistry}. */
export interface ModelRegistryOptions {
  /** Where versions and artifacts live (default `new FileSystemStorage('./models')`). */
  storage?: StorageAdapter;
  /** Source of `createdAt` and alias-history times, in ms since the epoch (default `Date.now`). */
  clock?: Clock;
  /**
   * Local directory where {@link ModelRegistry.loadArtifactFile} keeps verified copies of
   * artifacts from storage that is not local files (MemoryStorage, S3, PostgreSQL), and where
   * `register` stages a path or stream for such storage. Default: `model-rollout-cache-<uid>` in
   * the OS temp directory. Files are named by sha256 and verified on every load.
   */
  cacheDir?: string;
}

type StoredRecord = { value: ModelVersion | Tombstone; etag: string };

// A compare-and-swap loop retries at once (re-reading gives the winner time to finish); this bound
// only turns a livelock or a broken adapter into an error instead of a hang.
const MAX_CAS_ATTEMPTS = 1000;
const FORMAT = /^[a-z0-9][a-z0-9._-]{0,31}$/;
const VERSION_KEY = /^models\/([^/]+)\/versions\/(\d+)\.json$/;

const encoder = new TextEncoder();

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function isTombstone(value: ModelVersion | Tombstone): value is Tombstone {
  return (value as Tombstone).deleted === true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** Checks that `value` is a plain object with no field outside `allowed` (typos fail loudly). */
function checkOptionsObject(what: string, value: unknown, allowed: readonly string[]): void {
  if (!isPlainObject(value)) throw new ValidationError(`${what} must be an object, got ${describeValue(value)}`);
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new ValidationError(`${what} has unknown field(s) ${unknown.map((k) => `'${k}'`).join(', ')}; expected only ${allowed.join(', ')}`);
  }
}

function checkStringRecord(what: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new ValidationError(`${what} must be an object of string values, got ${describeValue(value)}`);
  }
  return { ...(value as Record<string, string>) };
}

function checkOptionalString(what: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw new ValidationError(`${what} must be a string, got ${describeValue(value)}`);
  return value;
}

function checkLineage(given: unknown): Lineage {
  if (given === undefined) return {};
  checkOptionsObject('lineage', given, ['data', 'code', 'params', 'parent', 'environment']);
  const value = given as Record<string, unknown>;
  const lineage: Lineage = {};
  const data = checkOptionalString('lineage.data', value.data);
  if (data !== undefined) lineage.data = data;
  const code = checkOptionalString('lineage.code', value.code);
  if (code !== undefined) lineage.code = code;
  if (value.params !== undefined) {
    if (!isPlainObject(value.params)) throw new ValidationError(`lineage.params must be an object, got ${describeValue(value.params)}`);
    let json: string;
    try {
      json = JSON.stringify(value.params);
    } catch (err) {
      throw new ValidationError(`lineage.params must be JSON-serializable: ${(err as Error).message}`, { cause: err });
    }
    lineage.params = JSON.parse(json) as Record<string, unknown>;
  }
  if (value.parent !== undefined) {
    const parent = value.parent as { name?: unknown; version?: unknown };
    if (!isPlainObject(parent)) throw new ValidationError(`lineage.parent must be { name, version }, got ${describeValue(parent)}`);
    lineage.parent = { name: checkName(parent.name, 'lineage.parent.name'), version: checkVersion('lineage.parent.version', parent.version) };
  }
  if (value.environment !== undefined) lineage.environment = checkStringRecord('lineage.environment', value.environment);
  return lineage;
}

// A version written in decimal digits, as it arrives from a URL, a CLI or an environment variable.
const DECIMAL_VERSION = /^[1-9][0-9]*$/;

function parseRef(ref: unknown): number | 'latest' | { alias: string } {
  if (typeof ref === 'number') return checkVersion('version ref', ref);
  if (ref === 'latest') return 'latest';
  if (typeof ref === 'string' && ref.startsWith('@')) return { alias: checkName(ref.slice(1), 'alias in version ref') };
  if (typeof ref === 'string' && DECIMAL_VERSION.test(ref)) return checkVersion('version ref', Number(ref));
  throw new ValidationError(
    `version ref must be a version number (an integer >= 1, or its decimal digits such as '3'), 'latest' or '@alias', got ${describeValue(ref)}`,
  );
}

/**
 * A versioned model registry on any {@link StorageAdapter}: content-addressed artifacts, version
 * records claimed by a conditional write (integers from 1, never reused, never skipped by a lost
 * race, correct across processes sharing the storage), aliases moved by compare-and-swap with a
 * full history, and sha256 verification on every artifact read.
 *
 * Storage layout: `blobs/sha256/<hex>` (artifacts), `models/<name>/versions/<n>.json` (version
 * records), `models/<name>/aliases.json` (aliases, their history, deleted versions).
 *
 * @example
 * ```ts
 * const registry = new ModelRegistry({ storage: new FileSystemStorage('./models') });
 * const v = await registry.register('iris', onnxBytes, { tags: { team: 'search' } });
 * await registry.setAlias('iris', 'production', v.version);
 * const bytes = await registry.loadArtifact('iris', '@production'); // sha256-verified
 * registry.on('aliasChanged', (e) => log.info(`${e.name}@${e.alias}: ${e.previous} → ${e.version}`));
 * ```
 */
export class ModelRegistry extends EventEmitter<ModelRegistryEvents> {
  /** The storage this registry reads and writes. */
  readonly storage: StorageAdapter;
  /** Where verified local copies of artifacts from non-file storage are kept (see {@link ModelRegistryOptions.cacheDir}). */
  readonly cacheDir: string;
  readonly #clock: Clock;

  constructor(options: ModelRegistryOptions = {}) {
    super();
    checkOptionsObject('ModelRegistry options', options, ['storage', 'clock', 'cacheDir']);
    const storage = options.storage ?? new FileSystemStorage('./models');
    for (const method of ['get', 'put', 'delete', 'list'] as const) {
      if (typeof (storage as unknown as Record<string, unknown>)[method] !== 'function') {
        throw new ValidationError(`storage must implement StorageAdapter (get, put, delete, list); '${method}' is ${describeValue((storage as unknown as Record<string, unknown>)[method])}`);
      }
    }
    this.storage = storage;
    this.#clock = options.clock === undefined ? Date.now : checkFunction<Clock>('clock', options.clock);
    const cacheDir = options.cacheDir ?? path.join(tmpdir(), `model-rollout-cache-${process.getuid?.() ?? 'user'}`);
    if (typeof cacheDir !== 'string' || cacheDir.length === 0) throw new ValidationError(`cacheDir must be a non-empty path string, got ${describeValue(cacheDir)}`);
    this.cacheDir = path.resolve(cacheDir);
  }

  /**
   * Registers an artifact as the next version of `name`. Everything is checked first (name,
   * options, and for ONNX, that onnxruntime can load it); then the artifact is stored
   * content-addressed (identical bytes are stored once) and the version is claimed by writing its
   * record with `ifNoneMatch: '*'`, moving to the next number when another writer got there first.
   * A crash at any point leaves at most an unreferenced blob, never a half version.
   *
   * A path or a stream is written to a staging file while it is hashed (one pass, one chunk in
   * memory at a time); onnxruntime validates it from that file, and on `FileSystemStorage` the
   * file is linked into place, so a model of gigabytes is never held in memory by the registry.
   * Other storage receives the staged bytes with one `put`.
   *
   * With `ifIdentical: 'reuse'`, an existing (not deleted) version of `name` with the same sha256
   * and the same description, tags, lineage and format is returned instead of a new one, also
   * when identical registrations race: a registration claims a number only after checking every
   * version below it, so of racing identical ones the first claim wins and the others return it.
   *
   * @param artifact - The bytes, a path to read them from, or an async iterable of `Uint8Array`
   * chunks (a Node `Readable`, a web `ReadableStream`).
   * @throws ValidationError for a bad name or option; ModelLoadError when an ONNX artifact does not
   * load (nothing is stored); NotFoundError when the artifact path does not exist.
   */
  async register(name: string, artifact: Uint8Array | string | AsyncIterable<Uint8Array>, options: RegisterOptions = {}): Promise<ModelVersion> {
    const model = checkName(name, 'model name');
    checkOptionsObject('register options', options, ['description', 'tags', 'lineage', 'format', 'validate', 'ifIdentical']);
    const description = checkOptionalString('description', options.description) ?? '';
    const tags = options.tags === undefined ? {} : checkStringRecord('tags', options.tags);
    const lineage = checkLineage(options.lineage);
    const format = options.format ?? 'onnx';
    if (typeof format !== 'string' || !FORMAT.test(format)) {
      throw new ValidationError(`format must match ${FORMAT.source} (e.g. 'onnx'), got ${describeValue(format)}`);
    }
    const validate = options.validate ?? true;
    if (typeof validate !== 'boolean') throw new ValidationError(`validate must be a boolean, got ${describeValue(validate)}`);
    const ifIdentical = options.ifIdentical ?? 'create';
    if (ifIdentical !== 'create' && ifIdentical !== 'reuse') {
      throw new ValidationError(`ifIdentical must be 'create' or 'reuse', got ${describeValue(ifIdentical)}`);
    }
    const label = `artifact for model '${model}'`;
    const claim = (sha256: string, size: number, inspection: OnnxInspection | undefined, restore: () => Promise<void>) =>
      this.#claimVersion(
        { name: model, sha256, size, format, signature: inspection?.signature ?? null, description, tags, lineage, onnx: inspection?.onnx ?? null, validatedBy: inspection?.validatedBy ?? null },
        ifIdentical === 'reuse',
        restore,
      );

    if (artifact instanceof Uint8Array) {
      const inspection = validate && format === 'onnx' ? await inspectOnnx(artifact, label) : undefined;
      const sha256 = sha256Hex(artifact);
      const restore = () => this.#storeBlob(sha256, artifact);
      await restore();
      return claim(sha256, artifact.length, inspection, restore);
    }
    if (!(typeof artifact === 'string' && artifact.length > 0) && !isAsyncIterable(artifact)) {
      throw new ValidationError(`artifact must be a Uint8Array, a file path or an async iterable of Uint8Array chunks, got ${describeValue(artifact)}`);
    }
    const storage = this.storage;
    const staged = await stageArtifact(artifact, hasLocalFiles(storage) ? await storage.stagingDir() : this.cacheDir);
    try {
      const inspection = validate && format === 'onnx' ? await inspectOnnx(staged.file, label) : undefined;
      const restore = () => this.#storeBlobFile(staged);
      await restore();
      return await claim(staged.sha256, staged.size, inspection, restore);
    } finally {
      await rm(staged.file, { force: true });
    }
  }

  /**
   * Claims the next free version number for `fields` (or, with `reuse`, returns an identical
   * existing version: every number below the one claimed has been read and compared).
   */
  async #claimVersion(
    fields: Omit<ModelVersion, 'version' | 'createdAt' | 'status'>,
    reuse: boolean,
    restoreBlob: () => Promise<void>,
  ): Promise<ModelVersion> {
    const model = fields.name;
    const head = await this.#readHead(model);
    if (reuse) {
      // Numbers above the head (claimed by a writer that has not moved it yet) are compared as
      // the claim below loses them.
      for (let v = 1; v <= head.version; v++) {
        const found = await this.#identicalVersion(model, v, fields);
        if (found) return found;
      }
    }
    let version = head.version + 1;
    for (;; version++) {
      const record: ModelVersion = {
        name: model,
        version,
        createdAt: new Date(this.#clock()).toISOString(),
        sha256: fields.sha256,
        size: fields.size,
        format: fields.format,
        signature: fields.signature,
        description: fields.description,
        tags: fields.tags,
        lineage: fields.lineage,
        status: 'active',
        onnx: fields.onnx,
        validatedBy: fields.validatedBy,
      };
      try {
        await this.#putConfirmed(versionKey(model, version), encodeJson(record), { ifNoneMatch: '*' });
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
        if (reuse) {
          const found = await this.#identicalVersion(model, version, fields);
          if (found) return found;
        }
        continue;
      }
      // A concurrent deleteVersion of another version with the same bytes may have removed the
      // blob between our store and our claim; put it back so the new version is never dangling.
      // The version is claimed: a storage failure here must not report the register as failed
      // (a retry would register the bytes twice), so the repair is best effort.
      try {
        if ((await this.storage.list(blobKey(fields.sha256))).length === 0) await restoreBlob();
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
      }
      await this.#advanceHead(model, version, head.etag);
      this.emit('registered', record);
      return record;
    }
  }

  /** Version `version` of `model` when it exists, is not deleted, and has `fields`' bytes and metadata. */
  async #identicalVersion(model: string, version: number, fields: Omit<ModelVersion, 'version' | 'createdAt' | 'status'>): Promise<ModelVersion | undefined> {
    const stored = await this.#readRecord(model, version);
    if (!stored || isTombstone(stored.value)) return undefined;
    const r = stored.value;
    const same =
      r.sha256 === fields.sha256 &&
      r.size === fields.size &&
      r.format === fields.format &&
      r.description === fields.description &&
      canonicalJson(r.tags) === canonicalJson(fields.tags) &&
      canonicalJson(r.lineage) === canonicalJson(fields.lineage);
    return same ? r : undefined;
  }

  /**
   * Finds the version a ref points to: a number, `'latest'` (the highest active version; numbers
   * compare as numbers, so 10 is after 9) or `'@alias'`. An explicit number resolves archived
   * versions too.
   *
   * @throws NotFoundError when the version, alias or model does not exist.
   */
  async resolve(name: string, ref: VersionRef): Promise<ModelVersion> {
    const model = checkName(name, 'model name');
    const parsed = parseRef(ref);
    if (typeof parsed === 'number') return this.#getVersion(model, parsed);
    if (parsed === 'latest') {
      const highest = await this.#highestClaimed(model);
      for (let version = highest; version >= 1; version--) {
        const stored = await this.#readRecord(model, version);
        if (stored && !isTombstone(stored.value) && stored.value.status === 'active') return stored.value;
      }
      throw new NotFoundError(`model '${model}' has no active version${highest === 0 ? ' (nothing registered under this name)' : ''}`);
    }
    const { doc } = await this.#readAliases(model);
    const target = doc.aliases[parsed.alias];
    if (target === undefined) {
      const known = Object.keys(doc.aliases);
      throw new NotFoundError(`model '${model}' has no alias '${parsed.alias}' (aliases: ${known.length > 0 ? known.join(', ') : 'none'})`);
    }
    return this.#getVersion(model, target);
  }

  /** The record of one version (active or archived). @throws NotFoundError when it does not exist. */
  async getVersion(name: string, version: number): Promise<ModelVersion> {
    return this.#getVersion(checkName(name, 'model name'), checkVersion('version', version));
  }

  /** Versions of a model sorted by number; archived ones only with `includeArchived`. `[]` for an unknown model. */
  async listVersions(name: string, options: ListVersionsOptions = {}): Promise<ModelVersion[]> {
    const model = checkName(name, 'model name');
    checkOptionsObject('listVersions options', options, ['includeArchived']);
    const includeArchived = options.includeArchived ?? false;
    if (typeof includeArchived !== 'boolean') throw new ValidationError(`includeArchived must be a boolean, got ${describeValue(includeArchived)}`);
    const records = await Promise.all((await this.#versionNumbers(model)).map((v) => this.#readRecord(model, v)));
    return records.flatMap((stored) =>
      stored && !isTombstone(stored.value) && (includeArchived || stored.value.status === 'active') ? [stored.value] : [],
    );
  }

  /**
   * One page of a model's versions, newest first, at a cost that does not grow with the number of
   * versions: `limit` record reads (in parallel) plus a constant few, never a listing of every key.
   * Pass the returned `cursor` back to get the next (older) page; it is absent on the last page.
   *
   * @example
   * ```ts
   * let page = await registry.listVersionsPage('iris', { limit: 20 });
   * while (page.cursor) page = await registry.listVersionsPage('iris', { limit: 20, cursor: page.cursor });
   * ```
   * @throws ValidationError for a bad limit or a cursor this method did not return.
   */
  async listVersionsPage(name: string, options: ListVersionsPageOptions = {}): Promise<VersionsPage> {
    const model = checkName(name, 'model name');
    checkOptionsObject('listVersionsPage options', options, ['includeArchived', 'limit', 'cursor']);
    const includeArchived = options.includeArchived ?? false;
    if (typeof includeArchived !== 'boolean') throw new ValidationError(`includeArchived must be a boolean, got ${describeValue(includeArchived)}`);
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError(`limit must be an integer from 1 to 1000, got ${describeValue(limit)}`);
    let next: number;
    if (options.cursor === undefined) next = await this.#highestClaimed(model);
    else if (typeof options.cursor === 'string' && /^v[1-9]\d*$/.test(options.cursor)) next = Number(options.cursor.slice(1));
    else throw new ValidationError(`cursor must be a cursor returned by listVersionsPage (like 'v42'), got ${describeValue(options.cursor)}`);
    const versions: ModelVersion[] = [];
    // Archived and deleted versions leave holes in a page; read further batches until it is full.
    while (versions.length < limit && next >= 1) {
      const batch = Array.from({ length: Math.min(limit - versions.length, next) }, (_, i) => next - i);
      next -= batch.length;
      for (const stored of await Promise.all(batch.map((v) => this.#readRecord(model, v)))) {
        if (stored && !isTombstone(stored.value) && (includeArchived || stored.value.status === 'active')) versions.push(stored.value);
      }
    }
    return next >= 1 ? { versions, cursor: `v${next}` } : { versions };
  }

  /** Names of every model that has claimed at least one version number, sorted. */
  async listModels(): Promise<string[]> {
    const names = new Set<string>();
    for (const key of await this.storage.list('models/')) {
      const match = /^models\/([^/]+)\/versions\//.exec(key);
      if (match) names.add(match[1]!);
    }
    return [...names].sort();
  }

  /**
   * The artifact bytes of a version, verified against the recorded sha256 and size on every read.
   *
   * @throws IntegrityError naming the version when the stored bytes changed or are missing;
   * NotFoundError when the ref does not resolve.
   */
  async loadArtifact(name: string, ref: VersionRef): Promise<Uint8Array> {
    const record = await this.resolve(name, ref);
    const blob = await this.storage.get(blobKey(record.sha256));
    const label = `artifact of model '${record.name}' version ${record.version}`;
    if (!blob) throw new IntegrityError(`${label} is missing from storage (blob ${blobKey(record.sha256)})`);
    checkArtifact(label, record, sha256Hex(blob.data), blob.data.length);
    return blob.data;
  }

  /**
   * A local file path holding the artifact of a version, verified against the recorded sha256 and
   * size by streaming it on every call, so onnxruntime can open it by path and the registry never
   * holds the artifact in memory. On `FileSystemStorage` it is the blob file itself; for other
   * storage (and for blobs still in the 0.1 file format) it is a copy in {@link ModelRegistry.cacheDir},
   * named by sha256, written once from storage and verified on every later call (a damaged copy is
   * replaced).
   *
   * @throws IntegrityError naming the version when the stored bytes changed or are missing;
   * NotFoundError when the ref does not resolve.
   */
  async loadArtifactFile(name: string, ref: VersionRef): Promise<string> {
    const record = await this.resolve(name, ref);
    const label = `artifact of model '${record.name}' version ${record.version}`;
    const storage = this.storage;
    const local = hasLocalFiles(storage) ? await storage.localPath(blobKey(record.sha256)) : undefined;
    if (local !== undefined) {
      const actual = await hashFile(local).catch(() => undefined);
      if (actual === undefined) throw new IntegrityError(`${label} is missing from storage (blob ${blobKey(record.sha256)})`);
      checkArtifact(label, record, actual.sha256, actual.size);
      return local;
    }
    const cached = path.join(this.cacheDir, record.sha256);
    const copy = await stat(cached).then(
      () => hashFile(cached),
      () => undefined,
    );
    if (copy?.sha256 === record.sha256 && copy.size === record.size) return cached;
    const bytes = await this.loadArtifact(name, record.version);
    const staged = await stageArtifact([bytes], this.cacheDir).catch((err: unknown) => {
      throw new StorageError(`could not write ${label} to the cache directory '${this.cacheDir}': ${(err as Error).message}`, { cause: err });
    });
    try {
      checkArtifact(label, record, staged.sha256, staged.size);
      await rename(staged.file, cached);
    } finally {
      await rm(staged.file, { force: true });
    }
    return cached;
  }

  /**
   * Points `alias` at `version` by compare-and-swap on the model's alias document (retried when
   * another writer moved any alias first) and appends the move to the alias history.
   *
   * @throws NotFoundError when the version does not exist or was deleted.
   */
  async setAlias(name: string, alias: string, version: number, options: AliasChangeOptions = {}): Promise<void> {
    const model = checkName(name, 'model name');
    const aliasName = checkName(alias, 'alias');
    checkVersion('version', version);
    const who = this.#checkChangeOptions(options);
    await this.#getVersion(model, version);
    const entry = await this.#updateAliases(model, (doc) => {
      if (doc.deleted.includes(version)) throw new NotFoundError(`model '${model}' version ${version} was deleted`);
      const previous = doc.aliases[aliasName] ?? null;
      if (previous === version) return undefined;
      doc.aliases[aliasName] = version;
      return { alias: aliasName, version, previous, at: new Date(this.#clock()).toISOString(), ...who };
    });
    if (entry) this.emit('aliasChanged', { name: model, ...entry });
  }

  /** Removes an alias, recording the removal in its history. @throws NotFoundError when it does not exist. */
  async deleteAlias(name: string, alias: string, options: AliasChangeOptions = {}): Promise<void> {
    const model = checkName(name, 'model name');
    const aliasName = checkName(alias, 'alias');
    const who = this.#checkChangeOptions(options);
    const entry = await this.#updateAliases(model, (doc) => {
      const previous = doc.aliases[aliasName];
      if (previous === undefined) throw new NotFoundError(`model '${model}' has no alias '${aliasName}'`);
      delete doc.aliases[aliasName];
      return { alias: aliasName, version: null, previous, at: new Date(this.#clock()).toISOString(), ...who };
    });
    if (entry) this.emit('aliasChanged', { name: model, ...entry });
  }

  /** Current aliases of a model, alias → version (`{}` when none). */
  async getAliases(name: string): Promise<Record<string, number>> {
    return { ...(await this.#readAliases(checkName(name, 'model name'))).doc.aliases };
  }

  /**
   * Every move of one alias, oldest first, so "which version was production on date X" is
   * answerable: the last entry with `at <= X`.
   */
  async aliasHistory(name: string, alias: string): Promise<AliasHistoryEntry[]> {
    const model = checkName(name, 'model name');
    const aliasName = checkName(alias, 'alias');
    return (await this.#readAliases(model)).doc.history.filter((e) => e.alias === aliasName);
  }

  /** Replaces the tags of a version. @throws NotFoundError when it does not exist. */
  async setTags(name: string, version: number, tags: Record<string, string>): Promise<ModelVersion> {
    const model = checkName(name, 'model name');
    checkVersion('version', version);
    const checked = checkStringRecord('tags', tags);
    return (await this.#updateRecord(model, version, (record) => ({ ...record, tags: checked }))).record;
  }

  /**
   * Archives a version: it stays readable by number and alias but no longer counts as `'latest'`
   * nor shows in `listVersions` by default. Archiving an archived version changes nothing.
   */
  async archiveVersion(name: string, version: number): Promise<ModelVersion> {
    const model = checkName(name, 'model name');
    checkVersion('version', version);
    const { record, changed } = await this.#updateRecord(model, version, (r) =>
      r.status === 'archived' ? undefined : { ...r, status: 'archived' },
    );
    if (changed) this.emit('archived', record);
    return record;
  }

  /**
   * Deletes a version. Its number stays claimed (a tombstone record keeps it), so it is never
   * handed out again. The blob is removed only when no other version of any model uses it.
   *
   * @throws InvalidStateError when an alias points to the version (move or delete the alias
   * first); NotFoundError when it does not exist.
   */
  async deleteVersion(name: string, version: number): Promise<void> {
    const model = checkName(name, 'model name');
    checkVersion('version', version);
    const record = await this.#getVersion(model, version);
    // Recording the deletion in the alias document serialises it with setAlias: an alias cannot
    // be pointed at this version while it is being deleted, nor the other way round.
    await this.#updateAliases(model, (doc) => {
      const pointing = Object.entries(doc.aliases).filter(([, v]) => v === version).map(([a]) => `'${a}'`);
      if (pointing.length > 0) {
        throw new InvalidStateError(
          `cannot delete model '${model}' version ${version}: alias ${pointing.join(', ')} points to it; move or delete the alias first`,
        );
      }
      if (!doc.deleted.includes(version)) doc.deleted.push(version);
      return undefined;
    }, true);
    const tombstone: Tombstone = { name: model, version, sha256: record.sha256, deleted: true, deletedAt: new Date(this.#clock()).toISOString() };
    for (let attempt = 0; ; attempt++) {
      const stored = await this.#readRecord(model, version);
      if (!stored || isTombstone(stored.value)) break;
      try {
        await this.#putConfirmed(versionKey(model, version), encodeJson(tombstone), { ifMatch: stored.etag });
        break;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError) || attempt >= MAX_CAS_ATTEMPTS) throw err;
      }
    }
    // The version is deleted; removing its blob is clean-up. An unremoved blob is only unused
    // bytes (as a crash leaves), so a storage failure here reports blobRemoved: false, not an error.
    let blobRemoved = false;
    try {
      if (!(await this.#blobInUse(record.sha256))) {
        await this.storage.delete(blobKey(record.sha256));
        blobRemoved = true;
      }
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
    }
    this.emit('deleted', { name: model, version, sha256: record.sha256, blobRemoved });
  }

  /**
   * A conditional write whose outcome is known even when the reply is lost: on a `StorageError`
   * the key is read back, and if it holds exactly the bytes written (records carry their time, so
   * another writer's bytes differ) the write took effect and counts as done. Otherwise, or when
   * the read fails too, the original error propagates.
   */
  async #putConfirmed(key: string, data: Uint8Array, cond: PutCondition): Promise<void> {
    try {
      await this.storage.put(key, data, cond);
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      const stored = await this.storage.get(key).catch(() => undefined);
      if (stored === undefined || !sameBytes(stored.data, data)) throw err;
    }
  }

  async #storeBlob(sha256: string, bytes: Uint8Array): Promise<void> {
    try {
      await this.storage.put(blobKey(sha256), bytes, { ifNoneMatch: '*' });
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      // Identical bytes are already stored; repair them if they were damaged since.
      const existing = await this.storage.get(blobKey(sha256));
      if (existing && sha256Hex(existing.data) !== sha256) {
        await this.storage.put(blobKey(sha256), bytes, { ifMatch: existing.etag }).catch((e: unknown) => {
          if (!(e instanceof PreconditionFailedError)) throw e;
        });
      } else if (!existing) {
        await this.#storeBlob(sha256, bytes);
      }
    }
  }

  /**
   * Stores a staged file as its blob: linked into place on local-file storage (an identical blob
   * already there is verified by streaming and repaired if damaged), through one `put` elsewhere.
   */
  async #storeBlobFile(staged: StagedArtifact): Promise<void> {
    const storage = this.storage;
    if (!hasLocalFiles(storage)) {
      await this.#storeBlob(staged.sha256, await readFile(staged.file));
      return;
    }
    const key = blobKey(staged.sha256);
    try {
      await storage.putFile(key, staged.file, { ifNoneMatch: '*' });
      return;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
    const existing = await storage.localPath(key);
    if (existing !== undefined && (await hashFile(existing).catch(() => undefined))?.sha256 === staged.sha256) return;
    // Missing since, damaged, or a 0.1-format file: the bytes path handles each (through memory, rarely).
    await this.#storeBlob(staged.sha256, await readFile(staged.file));
  }

  async #blobInUse(sha256: string): Promise<boolean> {
    for (const key of await this.storage.list('models/')) {
      const match = VERSION_KEY.exec(key);
      if (!match) continue;
      const stored = await this.storage.get(key);
      if (!stored) continue;
      let value: ModelVersion | Tombstone;
      try {
        value = parseVersionRecord(key, stored.data, match[1]!, Number(match[2]));
      } catch (err) {
        // A damaged record may be one that uses this blob: keep the blob rather than fail a
        // delete that has already taken effect, or guess.
        if (err instanceof IntegrityError) return true;
        throw err;
      }
      if (!isTombstone(value) && value.sha256 === sha256) return true;
    }
    return false;
  }

  /**
   * The highest version number claimed so far, by the head hint `models/<name>/head.json` plus a
   * probe upward (a writer that died between its claim and moving the head leaves it behind).
   */
  async #highestClaimed(model: string): Promise<number> {
    let { version } = await this.#readHead(model);
    while (await this.storage.get(versionKey(model, version + 1))) version++;
    return version;
  }

  /**
   * The head hint: the highest version number some writer claimed and announced. Only a hint (a
   * claim is the version record itself), so a missing or unreadable one is rebuilt from one full
   * listing, as stores written before the hint existed need.
   */
  async #readHead(model: string): Promise<{ version: number; etag: string | undefined }> {
    const stored = await this.storage.get(headKey(model));
    const hinted = stored && parseHeadHint(stored.data);
    if (hinted !== undefined) return { version: hinted, etag: stored!.etag };
    return { version: (await this.#versionNumbers(model)).at(-1) ?? 0, etag: stored?.etag };
  }

  /** Moves the head hint up to `version` by compare-and-swap; never down. Best effort: the claim is done. */
  async #advanceHead(model: string, version: number, etag: string | undefined): Promise<void> {
    try {
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        try {
          await this.storage.put(headKey(model), encodeJson({ version }), etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag });
          return;
        } catch (err) {
          if (!(err instanceof PreconditionFailedError)) throw err;
        }
        const current = await this.#readHead(model);
        if (current.version >= version) return;
        etag = current.etag;
      }
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
    }
  }

  async #versionNumbers(model: string): Promise<number[]> {
    const numbers: number[] = [];
    for (const key of await this.storage.list(`models/${model}/versions/`)) {
      const match = VERSION_KEY.exec(key);
      if (match) numbers.push(Number(match[2]));
    }
    return numbers.sort((a, b) => a - b);
  }

  async #readRecord(model: string, version: number): Promise<StoredRecord | undefined> {
    const key = versionKey(model, version);
    const stored = await this.storage.get(key);
    if (!stored) return undefined;
    return { value: parseVersionRecord(key, stored.data, model, version), etag: stored.etag };
  }

  async #getVersion(model: string, version: number): Promise<ModelVersion> {
    const stored = await this.#readRecord(model, version);
    if (!stored) throw new NotFoundError(`model '${model}' has no version ${version}`);
    if (isTombstone(stored.value)) throw new NotFoundError(`model '${model}' version ${version} was deleted at ${stored.value.deletedAt}`);
    return stored.value;
  }

  async #updateRecord(
    model: string,
    version: number,
    change: (record: ModelVersion) => ModelVersion | undefined,
  ): Promise<{ record: ModelVersion; changed: boolean }> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const stored = await this.#readRecord(model, version);
      if (!stored) throw new NotFoundError(`model '${model}' has no version ${version}`);
      if (isTombstone(stored.value)) throw new NotFoundError(`model '${model}' version ${version} was deleted`);
      const next = change(stored.value);
      if (!next) return { record: stored.value, changed: false };
      try {
        await this.#putConfirmed(versionKey(model, version), encodeJson(next), { ifMatch: stored.etag });
        return { record: next, changed: true };
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
    }
    throw new StorageError(`gave up updating model '${model}' version ${version} after ${MAX_CAS_ATTEMPTS} lost compare-and-swap races`);
  }

  async #readAliases(model: string): Promise<{ doc: AliasDocument; etag: string | undefined }> {
    const key = aliasesKey(model);
    const stored = await this.storage.get(key);
    if (!stored) return { doc: emptyAliasDocument(), etag: undefined };
    return { doc: parseAliasDocument(key, stored.data), etag: stored.etag };
  }

  /**
   * Compare-and-swap on the alias document: `change` mutates the freshly read document and returns
   * the history entry to append (or `undefined` for none). With `alwaysWrite`, the document is
   * written even without a history entry. Retries on a lost race; errors from `change` propagate.
   */
  async #updateAliases(
    model: string,
    change: (doc: AliasDocument) => AliasHistoryEntry | undefined,
    alwaysWrite = false,
  ): Promise<AliasHistoryEntry | undefined> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const { doc, etag } = await this.#readAliases(model);
      const entry = change(doc);
      if (!entry && !alwaysWrite) return undefined;
      if (entry) doc.history.push(entry);
      try {
        await this.#putConfirmed(aliasesKey(model), encodeJson(doc), etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag });
        return entry;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
    }
    throw new StorageError(`gave up updating the aliases of model '${model}' after ${MAX_CAS_ATTEMPTS} lost compare-and-swap races`);
  }

  #checkChangeOptions(options: AliasChangeOptions): AliasChangeOptions {
    checkOptionsObject('alias change options', options, ['by', 'reason']);
    const result: AliasChangeOptions = {};
    const by = checkOptionalString('by', options.by);
    if (by !== undefined) result.by = by;
    const reason = checkOptionalString('reason', options.reason);
    if (reason !== undefined) result.reason = reason;
    return result;
  }
}

/** Throws `IntegrityError` unless `sha256` and `size` are the recorded ones. */
function checkArtifact(label: string, record: ModelVersion, sha256: string, size: number): void {
  if (size !== record.size || sha256 !== record.sha256) {
    throw new IntegrityError(
      `${label} is corrupt: expected sha256 ${record.sha256} (${record.size} bytes), got ${sha256} (${size} bytes); refusing to serve it`,
    );
  }
}

/** JSON with object keys sorted at every depth, so equal values compare equal as strings. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isPlainObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}

function blobKey(sha256: string): string {
  return `blobs/sha256/${sha256}`;
}

function versionKey(model: string, version: number): string {
  return `models/${model}/versions/${version}.json`;
}

function headKey(model: string): string {
  return `models/${model}/head.json`;
}

function aliasesKey(model: string): string {
  return `models/${model}/aliases.json`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(value, null, 2)}\n`);
}
