import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSystemStorage, ModelRegistry, ModelRouter, PreconditionFailedError, StaticPolicy, toPrediction } from '../../src/index.js';
import { irisClassifier, regression, sklearnIris } from '../fixtures/onnx-models.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const freshDir = tempDirs('mr-fs-format-');

/** Every file under `dir` (not dot-files), relative. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** `sha256sum <file>`'s digest, from the coreutils tool when the machine has it (the point of the format). */
function sha256sum(file: string, bytes: Buffer): string {
  try {
    return execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0] as string;
  } catch {
    return createHash('sha256').update(bytes).digest('hex');
  }
}

/** Rewrites every file of a store in the 0.1 format: `MRS1`, a random 32-hex-digit etag, the value. */
async function toVersion01Format(dir: string): Promise<void> {
  for (const file of await filesUnder(dir)) {
    const full = path.join(dir, file);
    await writeFile(full, Buffer.concat([Buffer.from(`MRS1${randomBytes(16).toString('hex')}`, 'latin1'), await readFile(full)]));
  }
}

describe('FileSystemStorage file format', () => {
  it('every blob file is the artifact itself: sha256sum of blobs/sha256/<hex> prints <hex>; records are plain JSON', async () => {
    const dir = await freshDir();
    const registry = new ModelRegistry({ storage: new FileSystemStorage(dir) });
    const models = [irisClassifier(), regression(), sklearnIris('string')];
    for (const [i, bytes] of models.entries()) await registry.register(`m${i}`, bytes);
    const blobs = (await filesUnder(dir)).filter((f) => f.startsWith(path.join('blobs', 'sha256')));
    expect(blobs).toHaveLength(3);
    for (const blob of blobs) {
      const bytes = await readFile(path.join(dir, blob));
      expect(sha256sum(path.join(dir, blob), bytes)).toBe(path.basename(blob));
    }
    const record = JSON.parse(await readFile(path.join(dir, 'models/m0/versions/1.json'), 'utf8')) as { sha256: string };
    expect(Buffer.from(await readFile(path.join(dir, 'blobs/sha256', record.sha256))).equals(Buffer.from(models[0]!))).toBe(true);
  });

  it('an etag changes on every write, even of identical bytes, and follows the file (inode, mtime, size)', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(dir);
    const value = new TextEncoder().encode('same');
    const etags = new Set<string>();
    for (let i = 0; i < 20; i++) etags.add((await storage.put('k', value)).etag);
    expect(etags.size).toBe(20);
    const { etag } = await storage.put('k', value);
    const s = await stat(path.join(dir, 'k'), { bigint: true });
    expect(etag).toBe(`${s.ino.toString(16)}-${s.mtimeNs.toString(16)}-${s.size.toString(16)}`);
    expect((await storage.get('k'))?.etag).toBe(etag);
  });

  it('a value that itself starts like a 0.1 header round-trips (it is written with a header)', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(dir);
    const tricky = new TextEncoder().encode(`MRS1${'ab'.repeat(16)}and then the value`);
    const { etag } = await storage.put('tricky', tricky);
    expect(await storage.get('tricky')).toEqual({ data: tricky, etag });
    expect((await readFile(path.join(dir, 'tricky'))).length).toBe(36 + tricky.length);
    const short = new TextEncoder().encode('MRS1abc');
    await storage.put('short', short);
    expect((await storage.get('short'))?.data).toEqual(short);
    expect((await readFile(path.join(dir, 'short'))).length).toBe(short.length);
  });

  it('a store written in the 0.1 format (a header before every value) opens and serves; compare-and-swap works on its etags', async () => {
    const dir = await freshDir();
    const before = new ModelRegistry({ storage: new FileSystemStorage(dir) });
    const v1 = await before.register('iris', sklearnIris('int'));
    await before.register('iris', irisClassifier());
    await before.setAlias('iris', 'production', 1);
    await toVersion01Format(dir);
    const blob = path.join(dir, 'blobs/sha256', v1.sha256);
    expect(sha256sum(blob, await readFile(blob))).not.toBe(v1.sha256);

    const storage = new FileSystemStorage(dir);
    const registry = new ModelRegistry({ storage });
    expect((await registry.resolve('iris', '@production')).sha256).toBe(v1.sha256);
    expect(Buffer.from(await registry.loadArtifact('iris', 1)).equals(Buffer.from(sklearnIris('int')))).toBe(true);
    const router = new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }) });
    try {
      const { output } = await router.predict([[6.3, 3.3, 6.0, 2.5]]);
      expect(toPrediction(output)).toMatchObject({ prediction: 2, classes: [0, 1, 2] });
    } finally {
      await router.pool.dispose();
    }

    // The alias document is still headed; moving an alias is a compare-and-swap on that etag.
    const old = await storage.get('models/iris/aliases.json');
    expect(old?.etag).toMatch(/^[0-9a-f]{32}$/);
    await registry.setAlias('iris', 'production', 2);
    await expect(storage.put('models/iris/aliases.json', new Uint8Array(1), { ifMatch: old!.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    // Rewritten files are raw; new versions' blobs are too.
    expect(JSON.parse(await readFile(path.join(dir, 'models/iris/aliases.json'), 'utf8')).aliases).toEqual({ production: 2 });
    const v3 = await registry.register('iris', regression());
    const newBlob = path.join(dir, 'blobs/sha256', v3.sha256);
    expect(sha256sum(newBlob, await readFile(newBlob))).toBe(v3.sha256);

    // migrateFormat rewrites what is still headed; afterwards every blob's sha256sum is its name.
    const rewritten = await storage.migrateFormat();
    expect(rewritten).toContain(`blobs/sha256/${v1.sha256}`);
    expect(rewritten).not.toContain('models/iris/aliases.json');
    for (const file of (await filesUnder(dir)).filter((f) => f.startsWith(path.join('blobs', 'sha256')))) {
      expect(sha256sum(path.join(dir, file), await readFile(path.join(dir, file)))).toBe(path.basename(file));
    }
    expect(await storage.migrateFormat()).toEqual([]);
    expect((await registry.listVersions('iris')).map((v) => v.version)).toEqual([1, 2, 3]);
    expect(Buffer.from(await registry.loadArtifact('iris', 1)).equals(Buffer.from(sklearnIris('int')))).toBe(true);
  });
});
