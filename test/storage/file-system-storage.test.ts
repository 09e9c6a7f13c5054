import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PreconditionFailedError, StorageError, ValidationError } from '../../src/errors.js';
import { FileSystemStorage } from '../../src/index.js';
import { testStorageAdapter } from '../../src/testing/index.js';

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mr-fs-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const bytes = (s: string) => new TextEncoder().encode(s);

describe('FileSystemStorage', () => {
  testStorageAdapter('FileSystemStorage', async () => new FileSystemStorage(await freshDir()), { it, expect });

  it('maps keys to files under dir and leaves no temp or lock files behind', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(dir);
    await storage.put('models/iris/versions/1.json', bytes('{}'), { ifNoneMatch: '*' });
    const { etag } = await storage.put('models/iris/aliases.json', bytes('a'));
    await storage.put('models/iris/aliases.json', bytes('b'), { ifMatch: etag });
    await storage.delete('models/iris/versions/1.json');
    expect(await readdir(path.join(dir, 'models/iris'))).toEqual(['aliases.json', 'versions']);
    expect(await readdir(path.join(dir, 'models/iris/versions'))).toEqual([]);
  });

  it('cannot be steered outside dir by any key or prefix', async () => {
    const parent = await freshDir();
    const dir = path.join(parent, 'root');
    await writeFile(path.join(parent, 'secret'), 'outside');
    const storage = new FileSystemStorage(dir);
    for (const key of ['../secret', 'a/../../secret', '..', '/etc/passwd', 'a/./b']) {
      await expect(storage.get(key)).rejects.toBeInstanceOf(ValidationError);
      await expect(storage.put(key, bytes('x'))).rejects.toBeInstanceOf(ValidationError);
      await expect(storage.delete(key)).rejects.toBeInstanceOf(ValidationError);
    }
    expect(await storage.list('../')).toEqual([]);
    expect(await storage.list('..')).toEqual([]);
    expect(await readFile(path.join(parent, 'secret'), 'utf8')).toBe('outside');
    expect(await readdir(parent)).toEqual(['secret']);
  });

  it('sees other instances on the same dir (state lives on disk, not in the object)', async () => {
    const dir = await freshDir();
    const a = new FileSystemStorage(dir);
    const b = new FileSystemStorage(dir);
    const { etag } = await a.put('shared', bytes('from a'), { ifNoneMatch: '*' });
    expect(await b.get('shared')).toEqual({ data: bytes('from a'), etag });
    await expect(b.put('shared', bytes('x'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  it('ignores temp files a crashed writer left, and breaks a lock whose process is gone', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(dir, { lockTimeoutMs: 2_000 });
    const { etag } = await storage.put('k', bytes('v1'));
    // What a writer killed mid-write leaves: a half temp file and its lock (pid 2^22+1 is never live on Linux).
    await writeFile(path.join(dir, '.k.0123.tmp'), 'MRS1half');
    await writeFile(path.join(dir, '.k.lock'), JSON.stringify({ pid: 4_194_305, host: (await import('node:os')).hostname(), id: 'dead' }));
    expect(await storage.list('')).toEqual(['k']);
    await storage.put('k', bytes('v2'), { ifMatch: etag });
    expect(new TextDecoder().decode((await storage.get('k'))?.data)).toBe('v2');
  });

  it('breaks a lock older than staleLockMs even when its holder looks alive', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(dir, { staleLockMs: 200, lockTimeoutMs: 5_000 });
    await storage.put('k', bytes('v1'));
    await writeFile(path.join(dir, '.k.lock'), JSON.stringify({ pid: process.pid, host: 'another-host', id: 'stuck' }));
    const started = Date.now();
    await storage.put('k', bytes('v2'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(new TextDecoder().decode((await storage.get('k'))?.data)).toBe('v2');
  });

  it('gives up with a StorageError when a live lock is held past lockTimeoutMs', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(dir, { lockTimeoutMs: 100 });
    await storage.put('k', bytes('v1'));
    await writeFile(path.join(dir, '.k.lock'), JSON.stringify({ pid: process.pid, host: 'another-host', id: 'held' }));
    await expect(storage.put('k', bytes('v2'))).rejects.toBeInstanceOf(StorageError);
    expect(new TextDecoder().decode((await storage.get('k'))?.data)).toBe('v1');
  });

  it('reads a file placed by hand as its value, and reports a key that is another key\'s directory as StorageError', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(dir);
    await writeFile(path.join(dir, 'foreign'), 'placed by hand');
    expect(new TextDecoder().decode((await storage.get('foreign'))?.data)).toBe('placed by hand');
    await storage.put('a', bytes('file'));
    await expect(storage.put('a/b', bytes('x'))).rejects.toBeInstanceOf(StorageError);
    await mkdir(path.join(dir, 'd'));
    expect(await storage.get('d')).toBe(undefined);
  });

  it('validates its options', () => {
    expect(() => new FileSystemStorage('')).toThrow(ValidationError);
    expect(() => new FileSystemStorage('x', { staleLockMs: -1 })).toThrow(/staleLockMs/);
    expect(() => new FileSystemStorage('x', { lockTimeoutMs: Number.NaN })).toThrow(/lockTimeoutMs/);
  });
});
