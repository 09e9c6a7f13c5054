import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { ModelRegistry } from '../../src/index.js';
import { FileSystemStorage } from '../../src/index.js';

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mr-fsl-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const bytes = (s: string) => new TextEncoder().encode(s);

describe.skipIf(process.platform === 'win32')('FileSystemStorage never follows symbolic links inside its root', () => {
  it('a planted link in place of a record is refused on get, put and delete; its target is untouched', async () => {
    const parent = await freshDir();
    const root = path.join(parent, 'root');
    const honest = new FileSystemStorage(path.join(parent, 'forger'));
    await honest.put('forged.json', bytes('{"forged":true}'));
    const storage = new FileSystemStorage(root);
    await storage.put('models/m/versions/1.json', bytes('{}'));
    await rm(path.join(root, 'models/m/versions/1.json'));
    await symlink(path.join(parent, 'forger/forged.json'), path.join(root, 'models/m/versions/1.json'));

    await expect(storage.get('models/m/versions/1.json')).rejects.toThrow(/symbolic link/);
    await expect(storage.put('models/m/versions/1.json', bytes('x'), { ifMatch: 'any' })).rejects.toBeInstanceOf(StorageError);
    await expect(storage.delete('models/m/versions/1.json', { ifMatch: 'any' })).rejects.toBeInstanceOf(StorageError);
    expect(await storage.list('models/')).toEqual([]);
    expect(new TextDecoder().decode((await honest.get('forged.json'))!.data)).toBe('{"forged":true}');
  });

  it('a linked directory makes register fail with a StorageError and nothing is written outside the root', async () => {
    const parent = await freshDir();
    const root = path.join(parent, 'root');
    const outside = path.join(parent, 'outside');
    await mkdir(outside);
    await mkdir(path.join(root, 'models'), { recursive: true });
    await symlink(outside, path.join(root, 'models/evil'));
    const registry = new ModelRegistry({ storage: new FileSystemStorage(root) });

    const err = await registry.register('evil', bytes('artifact'), { format: 'bin' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toMatch(/models\/evil\/(versions\/1|head)\.json.*symbolic link/);
    expect(await readdir(outside)).toEqual([]);
    await expect(registry.getVersion('evil', 1)).rejects.toBeInstanceOf(StorageError);
    expect(await registry.listModels()).toEqual([]);
    // Ordinary models beside the link are unaffected.
    expect((await registry.register('fine', bytes('artifact'), { format: 'bin' })).version).toBe(1);
  });

  it('a link deeper down (a linked versions directory) is refused too', async () => {
    const parent = await freshDir();
    const root = path.join(parent, 'root');
    const outside = path.join(parent, 'outside');
    await mkdir(outside);
    await mkdir(path.join(root, 'models/m'), { recursive: true });
    await symlink(outside, path.join(root, 'models/m/versions'));
    const storage = new FileSystemStorage(root);
    await expect(storage.put('models/m/versions/1.json', bytes('x'), { ifNoneMatch: '*' })).rejects.toThrow(/symbolic link/);
    await expect(storage.put('models/m/versions/sub/1.json', bytes('x'))).rejects.toThrow(/symbolic link/);
    expect(await readdir(outside)).toEqual([]);
  });

  it('a root that is itself a link works as usual', async () => {
    const parent = await freshDir();
    await mkdir(path.join(parent, 'real'));
    await symlink(path.join(parent, 'real'), path.join(parent, 'alias'));
    const storage = new FileSystemStorage(path.join(parent, 'alias'));
    const { etag } = await storage.put('a/b', bytes('v'));
    expect(await storage.get('a/b')).toEqual({ data: bytes('v'), etag });
  });
});

describe('FileSystemStorage locks', () => {
  it('an empty lock file (a writer killed between creating and filling it) does not make the next writer wait', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(dir); // default staleLockMs: 10 s
    const { etag } = await storage.put('k', bytes('v1'));
    await writeFile(path.join(dir, '.k.lock'), '');
    const started = Date.now();
    await storage.put('k', bytes('v2'), { ifMatch: etag });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(new TextDecoder().decode((await storage.get('k'))!.data)).toBe('v2');
  });

  it('a held lock names its owner from the moment it exists, and no lock draft is left behind', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(dir);
    await storage.put('k', bytes('v0'));
    const seen: string[] = [];
    // Hold the lock: a competing write waits for it, so we can read it while another holds it.
    const writes = Array.from({ length: 20 }, (_, i) => storage.put('k', bytes(`v${i}`)));
    for (let i = 0; i < 200 && seen.length < 5; i++) {
      const content = await readFile(path.join(dir, '.k.lock'), 'utf8').catch(() => undefined);
      if (content !== undefined) seen.push(content);
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writes);
    for (const content of seen) expect(JSON.parse(content)).toMatchObject({ pid: process.pid, host: expect.any(String) });
    expect(await readdir(dir)).toEqual(['k']);
  });
});
