import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fsp, type BigIntStats, type Dirent } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PreconditionFailedError, StorageError, ValidationError, describeValue } from '../errors.js';
import { checkNumber } from '../options.js';
import { checkStorageData, checkStorageKey, checkStoragePrefix, conditionKind, isStorageKey } from './keys.js';
import type { ConditionalRead, DeleteCondition, LocalFileStorage, NotModified, PutCondition, StorageAdapter, StoredObject } from './storage-adapter.js';

/** Options of {@link FileSystemStorage}. */
export interface FileSystemStorageOptions {
  /**
   * A write lock older than this (ms) is presumed left by a crashed writer and is broken
   * (default 10 000). Locks are held only for a rename and a directory fsync, so a live writer
   * never comes near it; a lock whose process is gone on this host is broken at once.
   */
  staleLockMs?: number;
  /** How long (ms) a write waits for another writer's lock before a `StorageError` (default 30 000). */
  lockTimeoutMs?: number;
}

// A file holds the value and nothing else. Its etag is derived from the file's identity: every
// write makes a fresh file (a temp file renamed or linked into place, never a file changed in
// place), so inode number, modification time (ns) and size change on every write, even of
// identical bytes, and a compare-and-swap cannot be fooled by a value that went A → B → A; `get`
// takes the etag from the open file it reads, without hashing.
//
// Files written by version 0.1 start with a header instead: 4 magic bytes and the 32-hex-digit
// random etag of the write. They are still read (value after the header, etag from it), and a
// value that itself starts like such a header is written with one, so no raw value is ever
// mistaken for a headed one.
const MAGIC = 'MRS1';
const ETAG_HEX = 32;
const HEADER_BYTES = MAGIC.length + ETAG_HEX;
const MAGIC_BYTES = [0x4d, 0x52, 0x53, 0x31];

/** The etag in a 0.1-format header at the start of `bytes`, or `undefined` when it has none. */
function headerEtag(bytes: Uint8Array): string | undefined {
  if (bytes.length < HEADER_BYTES) return undefined;
  for (let i = 0; i < MAGIC_BYTES.length; i++) if (bytes[i] !== MAGIC_BYTES[i]) return undefined;
  for (let i = MAGIC.length; i < HEADER_BYTES; i++) {
    const c = bytes[i] as number;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return undefined;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset + MAGIC.length, ETAG_HEX).toString('latin1');
}

/** The etag of a raw file: its inode, modification time in ns and size. */
function identityEtag(stat: BigIntStats): string {
  return `${stat.ino.toString(16)}-${stat.mtimeNs.toString(16)}-${stat.size.toString(16)}`;
}

// Opening the final path segment never follows a symbolic link (ELOOP instead); Windows has no
// O_NOFOLLOW and no unprivileged symlinks.
const READ_NO_FOLLOW = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0);

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function storageError(action: string, target: string, err: unknown): StorageError {
  if (errorCode(err) === 'ELOOP') return linkError(target, err);
  return new StorageError(`FileSystemStorage could not ${action} ${target}: ${(err as Error).message}`, { cause: err });
}

function linkError(target: string, cause?: unknown): StorageError {
  return new StorageError(
    `FileSystemStorage refuses ${target}: its path goes through a symbolic link, and links inside the storage root are never followed`,
    { cause },
  );
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}

async function writeAll(handle: fsp.FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/**
 * The embedded default {@link StorageAdapter}: one file per key under `dir`, safe for many
 * processes on one host sharing the directory.
 *
 * - Every write is atomic and durable: the bytes go to a temp file in the key's directory, which
 *   is fsynced, then renamed (or hard-linked) into place, and the directory is fsynced.
 * - `{ ifNoneMatch: '*' }` is a `link()` of the finished temp file, which the kernel refuses if the
 *   key exists: atomic across processes with no lock at all.
 * - `{ ifMatch }`, unconditional writes and deletes take a per-key lock file (created whole, owner
 *   included, by `link()`), compare the etag under it, then rename; a lock left by a crashed
 *   process is broken (its pid is gone, or it is older than `staleLockMs`) under a second "breaker"
 *   lock, so two processes never both break it.
 * - No symbolic link inside `dir` is followed: a key whose file or directories are links is a
 *   `StorageError`.
 * - Keys map to paths through {@link checkStorageKey}, whose segments cannot be `.`, `..` or contain
 *   a separator, so no key reaches outside `dir`. Temp and lock files start with `.`, which no key
 *   segment can, so they never show in `list`. A key cannot also be a directory of other keys
 *   (`a` and `a/b`): that `put` is a `StorageError`.
 *
 * Each file holds its value and nothing else (`sha256sum blobs/sha256/<hex>` prints `<hex>`); its
 * etag comes from the file's identity (inode, modification time, size), which every write
 * changes because every write is a fresh file. Files written by version 0.1 (a 36-byte header
 * before the value) are still read.
 *
 * @example
 * ```ts
 * const registry = new ModelRegistry({ storage: new FileSystemStorage('./models') });
 * ```
 */
export class FileSystemStorage implements StorageAdapter, LocalFileStorage, ConditionalRead {
  /** Absolute path of the root directory. */
  readonly dir: string;
  readonly #staleLockMs: number;
  readonly #lockTimeoutMs: number;
  #realDir: string | undefined;

  constructor(dir: string, options: FileSystemStorageOptions = {}) {
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new ValidationError(`FileSystemStorage dir must be a non-empty path string, got ${describeValue(dir)}`);
    }
    this.dir = path.resolve(dir);
    this.#staleLockMs = checkNumber('staleLockMs', options.staleLockMs ?? 10_000, { min: 0 });
    this.#lockTimeoutMs = checkNumber('lockTimeoutMs', options.lockTimeoutMs ?? 30_000, { min: 0 });
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const file = this.#path(key);
    await this.#refuseLinkedDirs(key, path.dirname(file));
    const handle = await this.#openExisting(key, file);
    if (handle === undefined) return undefined;
    let bytes: Buffer;
    let stat: BigIntStats;
    try {
      // One open file: the etag and the bytes belong to the same write.
      stat = await handle.stat({ bigint: true });
      if (stat.isDirectory()) return undefined;
      bytes = await handle.readFile();
    } catch (err) {
      if (errorCode(err) === 'EISDIR') return undefined;
      throw storageError('read', `key '${key}'`, err);
    } finally {
      await handle.close();
    }
    const headed = headerEtag(bytes);
    if (headed === undefined) return { data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), etag: identityEtag(stat) };
    return { data: new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER_BYTES, bytes.length - HEADER_BYTES), etag: headed };
  }

  /** Compares the etag from the file's identity and header (a stat and 32 bytes), reading the value only when it changed. */
  async getIfChanged(key: string, etag: string): Promise<StoredObject | NotModified | undefined> {
    const file = this.#path(key);
    await this.#refuseLinkedDirs(key, path.dirname(file));
    if ((await this.#etagOf(key, file)) === etag) return { notModified: true, etag };
    return this.get(key);
  }

  async put(key: string, data: Uint8Array, cond?: PutCondition): Promise<{ etag: string }> {
    checkStorageData(data);
    return this.#write(key, cond, (temp) => this.#writeTemp(key, temp, data));
  }

  /**
   * Stores the bytes of `file` under `key` without reading them into memory (see
   * {@link LocalFileStorage.putFile}): hard-linked into place when `file` is on this file system
   * (a file in {@link FileSystemStorage.stagingDir} always is), streamed otherwise. Write nothing
   * to `file` afterwards: a linked file is the stored value.
   */
  async putFile(key: string, file: string, cond?: PutCondition): Promise<{ etag: string }> {
    if (typeof file !== 'string' || file.length === 0) throw new ValidationError(`file must be a path string, got ${describeValue(file)}`);
    const head = new Uint8Array(HEADER_BYTES);
    try {
      const handle = await fsp.open(file, 'r');
      try {
        await handle.read(head, 0, HEADER_BYTES, 0);
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw storageError('read', `the file '${file}' for key '${key}'`, err);
    }
    // A value that starts like a 0.1 header is stored with one (see #writeTemp): rare, so through memory.
    if (headerEtag(head) !== undefined) return this.put(key, await fsp.readFile(file), cond);
    return this.#write(key, cond, (temp) => this.#linkTemp(key, temp, file));
  }

  /** A directory inside the root (hidden from `list`) for files to be stored with {@link FileSystemStorage.putFile}. */
  async stagingDir(): Promise<string> {
    const dir = path.join(this.dir, '.staging');
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (err) {
      throw storageError('create', `the staging directory '${dir}'`, err);
    }
    return dir;
  }

  /**
   * The path of the file holding exactly the value of `key`, or `undefined` when the key does not
   * exist or its file is in the 0.1 format (a header before the value).
   */
  async localPath(key: string): Promise<string | undefined> {
    const file = this.#path(key);
    await this.#refuseLinkedDirs(key, path.dirname(file));
    const etag = await this.#etagOf(key, file);
    if (etag === undefined || /^[0-9a-f]{32}$/.test(etag)) return undefined;
    return file;
  }

  /** The common path of `put` and `putFile`: `fill(temp)` makes the new file and returns its etag. */
  async #write(key: string, cond: PutCondition | undefined, fill: (temp: string) => Promise<string>): Promise<{ etag: string }> {
    const file = this.#path(key);
    const kind = conditionKind(cond, true);
    // Cheap early answers for racers that have already lost, before writing a possibly large temp
    // file; the authoritative checks are the link() and the compare under the lock below.
    if (kind === 'ifNoneMatch' && (await this.#etagOf(key, file)) !== undefined) {
      throw new PreconditionFailedError(`storage key '${key}' already exists (ifNoneMatch: '*')`);
    }
    if (kind === 'ifMatch') this.#checkMatch(key, await this.#etagOf(key, file), (cond as { ifMatch: string }).ifMatch);

    const dir = path.dirname(file);
    await this.#refuseLinkedDirs(key, dir);
    await this.#makeDirs(key, dir);
    const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(ETAG_HEX / 2).toString('hex')}.tmp`);
    const etag = await fill(temp);
    let tempLeft = true;
    try {
      if (kind === 'ifNoneMatch') {
        try {
          await fsp.link(temp, file);
        } catch (err) {
          if (errorCode(err) === 'EEXIST') {
            throw new PreconditionFailedError(`storage key '${key}' already exists (ifNoneMatch: '*')`);
          }
          throw storageError('create', `key '${key}'`, err);
        }
      } else {
        await this.#withLock(key, file, async () => {
          if (kind === 'ifMatch') this.#checkMatch(key, await this.#etagOf(key, file), (cond as { ifMatch: string }).ifMatch);
          try {
            await fsp.rename(temp, file);
          } catch (err) {
            throw storageError('replace', `key '${key}'`, err);
          }
          tempLeft = false;
        });
      }
    } finally {
      if (tempLeft) await fsp.rm(temp, { force: true }).catch(() => undefined);
    }
    await this.#syncDir(dir);
    return { etag };
  }

  async delete(key: string, cond?: DeleteCondition): Promise<void> {
    const file = this.#path(key);
    const kind = conditionKind(cond, false);
    await this.#refuseLinkedDirs(key, path.dirname(file));
    if ((await this.#etagOf(key, file)) === undefined) {
      if (kind === 'ifMatch') this.#checkMatch(key, undefined, cond!.ifMatch);
      return;
    }
    await this.#withLock(key, file, async () => {
      if (kind === 'ifMatch') this.#checkMatch(key, await this.#etagOf(key, file), cond!.ifMatch);
      try {
        await fsp.rm(file, { force: true });
      } catch (err) {
        throw storageError('delete', `key '${key}'`, err);
      }
    });
    await this.#syncDir(path.dirname(file));
  }

  async list(prefix: string): Promise<string[]> {
    checkStoragePrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash >= 0 ? prefix.slice(0, slash + 1) : '';
    // A prefix whose directory part is not made of valid key segments ('../', 'a//') matches no key.
    if (baseKey !== '' && !isStorageKey(baseKey.slice(0, -1))) return [];
    const keys: string[] = [];
    await this.#walk(path.join(this.dir, ...baseKey.split('/').filter(Boolean)), baseKey, prefix, keys);
    return keys.sort();
  }

  /**
   * Rewrites every file still in the 0.1 format (a header before the value) as a raw file, so
   * that, for example, `sha256sum` of every blob prints its name. Each file is replaced by a
   * compare-and-swap on its old etag, so a concurrent write always wins and nothing is lost; the
   * store is readable throughout. Run it once no process of version 0.1 uses the directory any
   * more (0.1 cannot read raw files). Resolves to the keys rewritten.
   *
   * @example
   * ```ts
   * const rewritten = await new FileSystemStorage('./models').migrateFormat();
   * ```
   */
  async migrateFormat(): Promise<string[]> {
    const rewritten: string[] = [];
    for (const key of await this.list('')) {
      const stored = await this.get(key);
      // Headed files keep their random 32-hex etag; raw ones have a dashed one.
      if (!stored || !/^[0-9a-f]{32}$/.test(stored.etag) || headerEtag(stored.data) !== undefined) continue;
      try {
        await this.put(key, stored.data, { ifMatch: stored.etag });
        rewritten.push(key);
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
    }
    return rewritten;
  }

  async #walk(dirPath: string, dirKey: string, prefix: string, out: string[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(dirPath, { withFileTypes: true });
    } catch (err) {
      if (['ENOENT', 'ENOTDIR'].includes(errorCode(err) ?? '')) return;
      throw storageError('list', `'${dirPath}'`, err);
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const key = dirKey + entry.name;
      if (entry.isDirectory()) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) await this.#walk(path.join(dirPath, entry.name), sub, prefix, out);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        out.push(key);
      }
    }
  }

  #path(key: string): string {
    checkStorageKey(key);
    const file = path.join(this.dir, ...key.split('/'));
    // checkStorageKey already makes escaping impossible; this guards that promise against change.
    const relative = path.relative(this.dir, file);
    if (relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new ValidationError(`storage key ${describeValue(key)} resolves outside ${this.dir}`);
    }
    return file;
  }

  /**
   * Refuses a key whose directory, or any directory between it and the root, is a symbolic link
   * (a planted link would serve forged records or make writes land outside the root). The root
   * itself may be a link; what is inside it may not. Directories not created yet are skipped: the
   * deepest existing one is checked, and mkdir creates real directories below it.
   */
  async #refuseLinkedDirs(key: string, dir: string): Promise<void> {
    if (this.#realDir === undefined) {
      try {
        this.#realDir = await fsp.realpath(this.dir);
      } catch (err) {
        if (errorCode(err) === 'ENOENT') return;
        throw storageError('resolve', `the root '${this.dir}'`, err);
      }
    }
    for (let d = dir; d.length >= this.dir.length; d = path.dirname(d)) {
      let real: string;
      try {
        real = await fsp.realpath(d);
      } catch (err) {
        if (!['ENOENT', 'ENOTDIR'].includes(errorCode(err) ?? '')) throw storageError('resolve', `the directory of key '${key}'`, err);
        if (d === this.dir) return;
        continue;
      }
      if (real !== path.join(this.#realDir, path.relative(this.dir, d))) throw linkError(`key '${key}'`);
      return;
    }
  }

  /** The key's file opened for reading (never through a link), or `undefined` when it does not exist. */
  async #openExisting(key: string, file: string): Promise<fsp.FileHandle | undefined> {
    try {
      return await fsp.open(file, READ_NO_FOLLOW);
    } catch (err) {
      if (['ENOENT', 'ENOTDIR'].includes(errorCode(err) ?? '')) return undefined;
      throw storageError('open', `key '${key}'`, err);
    }
  }

  async #etagOf(key: string, file: string): Promise<string | undefined> {
    const handle = await this.#openExisting(key, file);
    if (handle === undefined) return undefined;
    try {
      const stat = await handle.stat({ bigint: true });
      if (stat.isDirectory()) return undefined;
      const header = new Uint8Array(HEADER_BYTES);
      const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
      return headerEtag(header.subarray(0, bytesRead)) ?? identityEtag(stat);
    } catch (err) {
      if (errorCode(err) === 'EISDIR') return undefined;
      throw storageError('read', `key '${key}'`, err);
    } finally {
      await handle.close();
    }
  }

  #checkMatch(key: string, current: string | undefined, expected: string): void {
    if (current === undefined) throw new PreconditionFailedError(`storage key '${key}' does not exist (ifMatch: '${expected}')`);
    if (current !== expected) {
      throw new PreconditionFailedError(`storage key '${key}' has etag '${current}', expected '${expected}' (ifMatch)`);
    }
  }

  async #makeDirs(key: string, dir: string): Promise<void> {
    let first: string | undefined;
    try {
      first = await fsp.mkdir(dir, { recursive: true });
    } catch (err) {
      throw storageError('create the directory of', `key '${key}' (is a parent of it stored as a key?)`, err);
    }
    if (first === undefined) return;
    // New directories are entries in their parents: sync each parent so they survive a crash.
    for (let d = dir; d !== path.dirname(first); d = path.dirname(d)) await this.#syncDir(path.dirname(d));
  }

  /** Writes `data` to the new file `temp`, fsynced; returns the etag the file will have as the key. */
  async #writeTemp(key: string, temp: string, data: Uint8Array): Promise<string> {
    let handle: fsp.FileHandle | undefined;
    try {
      handle = await fsp.open(temp, 'wx');
      // A value that starts like a 0.1 header is written with one, or it would be read as headed.
      const headed = headerEtag(data) === undefined ? undefined : randomBytes(ETAG_HEX / 2).toString('hex');
      if (headed !== undefined) await writeAll(handle, Buffer.from(MAGIC + headed, 'latin1'));
      await writeAll(handle, data);
      await handle.sync();
      return headed ?? identityEtag(await handle.stat({ bigint: true }));
    } catch (err) {
      await handle?.close().catch(() => undefined);
      handle = undefined;
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw storageError('write', `key '${key}'`, err);
    } finally {
      await handle?.close();
    }
  }

  /**
   * Makes `temp` the file `source` (hard link, or a streamed copy across file systems), fsynced,
   * with a fresh modification time so that its etag is new even when the same file is stored again.
   */
  async #linkTemp(key: string, temp: string, source: string): Promise<string> {
    try {
      try {
        await fsp.link(source, temp);
      } catch (err) {
        if (!['EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK'].includes(errorCode(err) ?? '')) throw err;
        await fsp.copyFile(source, temp, fsConstants.COPYFILE_EXCL);
      }
      const handle = await fsp.open(temp, 'r+');
      try {
        const now = (performance.timeOrigin + performance.now()) / 1000;
        await handle.utimes(now, now);
        await handle.sync();
        return identityEtag(await handle.stat({ bigint: true }));
      } finally {
        await handle.close();
      }
    } catch (err) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw storageError('store', `the file '${source}' as key '${key}'`, err);
    }
  }

  async #syncDir(dir: string): Promise<void> {
    let handle: fsp.FileHandle | undefined;
    try {
      handle = await fsp.open(dir, 'r');
      await handle.sync();
    } catch (err) {
      // Windows cannot open or fsync a directory; its rename is durable without it.
      if (process.platform !== 'win32') throw storageError('sync directory', `'${dir}'`, err);
    } finally {
      await handle?.close();
    }
  }

  async #withLock<T>(key: string, file: string, critical: () => Promise<T>): Promise<T> {
    const lock = path.join(path.dirname(file), `.${path.basename(file)}.lock`);
    const id = randomBytes(8).toString('hex');
    const token = JSON.stringify({ pid: process.pid, host: hostname(), id });
    // The lock appears by link() of a finished file, so it never exists without its owner in it: a
    // writer killed at any point leaves no lock or a complete one, never an empty one to wait out.
    const draft = `${lock}.${id}.tmp`;
    try {
      await fsp.writeFile(draft, token, { flag: 'wx' });
    } catch (err) {
      throw storageError('lock', `key '${key}'`, err);
    }
    const deadline = Date.now() + this.#lockTimeoutMs;
    try {
      for (let wait = 1; ; wait = Math.min(wait * 2, 64)) {
        try {
          await fsp.link(draft, lock);
          break;
        } catch (err) {
          if (errorCode(err) !== 'EEXIST') throw storageError('lock', `key '${key}'`, err);
        }
        if (await this.#breakIfStale(lock)) continue;
        if (Date.now() > deadline) {
          throw new StorageError(`FileSystemStorage timed out after ${this.#lockTimeoutMs} ms waiting for the lock of key '${key}' (${lock})`);
        }
        await sleep(wait * (0.5 + Math.random()));
      }
    } finally {
      await fsp.rm(draft, { force: true }).catch(() => undefined);
    }
    try {
      return await critical();
    } finally {
      // Only remove the lock if it is still ours: had we stalled past staleLockMs, another writer
      // may have broken it and taken its own.
      const current = await fsp.readFile(lock, 'utf8').catch(() => undefined);
      if (current === token) await fsp.rm(lock, { force: true });
    }
  }

  /** Removes `lock` if its holder is gone; true when the caller should retry at once. */
  async #breakIfStale(lock: string): Promise<boolean> {
    const seen = await this.#readLock(lock);
    if (seen === undefined) return true;
    if (!this.#isStale(seen)) return false;
    const breaker = `${lock}.break`;
    try {
      await fsp.writeFile(breaker, '', { flag: 'wx' });
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw storageError('lock', `'${lock}'`, err);
      // A breaker is held for two file operations; one this old belongs to a crashed process.
      const stat = await fsp.stat(breaker).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs > this.#staleLockMs) await fsp.rm(breaker, { force: true });
      return false;
    }
    try {
      const again = await this.#readLock(lock);
      if (again !== undefined && again.raw === seen.raw && again.mtimeMs === seen.mtimeMs) await fsp.rm(lock, { force: true });
    } finally {
      await fsp.rm(breaker, { force: true });
    }
    return true;
  }

  async #readLock(lock: string): Promise<{ raw: string; mtimeMs: number } | undefined> {
    try {
      const [raw, stat] = await Promise.all([fsp.readFile(lock, 'utf8'), fsp.stat(lock)]);
      return { raw, mtimeMs: stat.mtimeMs };
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw storageError('read lock', `'${lock}'`, err);
    }
  }

  #isStale(lock: { raw: string; mtimeMs: number }): boolean {
    if (Date.now() - lock.mtimeMs > this.#staleLockMs) return true;
    let holder: { pid?: unknown; host?: unknown };
    try {
      holder = JSON.parse(lock.raw) as { pid?: unknown; host?: unknown };
    } catch {
      // Locks appear complete (see #withLock), so one without an owner was left half-made by a
      // crash (or an older version of this adapter): nobody holds it.
      return true;
    }
    return holder.host === hostname() && typeof holder.pid === 'number' && !processAlive(holder.pid);
  }
}
