import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  FileSystemStorage,
  IntegrityError,
  MemoryStorage,
  ModelLoadError,
  ModelRegistry,
  NotFoundError,
  PredictorPool,
  ValidationError,
} from '../../src/index.js';
import { writeLargeModel } from '../../bench/large-model/generate.js';
import { brokenModel, irisClassifier, regression } from '../fixtures/onnx-models.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const freshDir = tempDirs('mr-artifact-files-');

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** `bytes` as a stream of chunks of at most `size` bytes. */
function chunked(bytes: Uint8Array, size: number): Readable {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

async function stagingLeft(dir: string): Promise<string[]> {
  return readdir(path.join(dir, '.staging')).catch(() => []);
}

describe('register from a path or a stream', () => {
  it('hashes while it writes: a path and a stream give the record and blob that bytes give, on FileSystemStorage', async () => {
    const dir = await freshDir();
    const registry = new ModelRegistry({ storage: new FileSystemStorage(path.join(dir, 'store')) });
    const bytes = irisClassifier();
    const file = path.join(dir, 'iris.onnx');
    await writeFile(file, bytes);
    const fromBytes = await registry.register('iris', bytes);
    const fromPath = await registry.register('iris', file);
    const fromStream = await registry.register('iris', chunked(bytes, 7));
    const fromWebStream = await registry.register('iris', Readable.toWeb(chunked(bytes, 100)) as unknown as AsyncIterable<Uint8Array>);
    for (const v of [fromPath, fromStream, fromWebStream]) {
      expect(v).toMatchObject({ sha256: sha256(bytes), size: bytes.length, signature: fromBytes.signature, onnx: fromBytes.onnx });
    }
    const blob = path.join(dir, 'store/blobs/sha256', sha256(bytes));
    expect(sha256(await readFile(blob))).toBe(sha256(bytes));
    expect((await stat(blob)).nlink).toBe(1);
    expect(await stagingLeft(path.join(dir, 'store'))).toEqual([]);
  });

  it('works on storage without local files (through one put)', async () => {
    const registry = new ModelRegistry({ storage: new MemoryStorage(), cacheDir: await freshDir() });
    const bytes = regression();
    const v = await registry.register('reg', chunked(bytes, 16));
    expect(v.sha256).toBe(sha256(bytes));
    expect(Buffer.from(await registry.loadArtifact('reg', v.version)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('stores nothing and leaves no staging file when the source is missing, not bytes, or not a loadable model', async () => {
    const dir = await freshDir();
    const storage = new FileSystemStorage(path.join(dir, 'store'));
    const registry = new ModelRegistry({ storage });
    await expect(registry.register('m', path.join(dir, 'missing.onnx'))).rejects.toBeInstanceOf(NotFoundError);
    await expect(registry.register('m', Readable.from(['text chunk']))).rejects.toThrow(/artifact stream must yield Uint8Array chunks, got string/);
    await expect(registry.register('m', Readable.from(['text chunk']))).rejects.toBeInstanceOf(ValidationError);
    await expect(registry.register('m', chunked(brokenModel(), 10))).rejects.toBeInstanceOf(ModelLoadError);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(10);
      throw new Error('the upload was cut');
    }
    await expect(registry.register('m', failing(), { format: 'bin' })).rejects.toThrow('the upload was cut');
    expect(await storage.list('')).toEqual([]);
    expect(await stagingLeft(path.join(dir, 'store'))).toEqual([]);
  });
});

describe('loadArtifactFile', () => {
  it('on FileSystemStorage is the verified blob file itself; a byte changed in place is an IntegrityError', async () => {
    const dir = await freshDir();
    const registry = new ModelRegistry({ storage: new FileSystemStorage(dir) });
    const v = await registry.register('iris', irisClassifier());
    const file = await registry.loadArtifactFile('iris', v.version);
    expect(file).toBe(path.join(dir, 'blobs/sha256', v.sha256));
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    await writeFile(file, bytes);
    await expect(registry.loadArtifactFile('iris', v.version)).rejects.toThrow(IntegrityError);
    await expect(registry.loadArtifactFile('iris', v.version)).rejects.toThrow(/artifact of model 'iris' version 1 is corrupt/);
  });

  it('on other storage is a verified copy in cacheDir, written once, replaced when damaged', async () => {
    const cacheDir = await freshDir();
    const registry = new ModelRegistry({ storage: new MemoryStorage(), cacheDir });
    const v = await registry.register('iris', irisClassifier());
    const file = await registry.loadArtifactFile('iris', 'latest');
    expect(file).toBe(path.join(cacheDir, v.sha256));
    const { mtimeMs } = await stat(file);
    expect(await registry.loadArtifactFile('iris', 1)).toBe(file);
    expect((await stat(file)).mtimeMs).toBe(mtimeMs);
    await writeFile(file, 'damaged');
    expect(await registry.loadArtifactFile('iris', 1)).toBe(file);
    expect(sha256(await readFile(file))).toBe(v.sha256);
    expect((await readdir(cacheDir)).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

describe('the streaming path end to end', () => {
  it('a generated 16 MB model registers from its path and a pool serves it by path, never through loadArtifact', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'large.onnx');
    const { size, rows } = await writeLargeModel(file, 16 * 1024 * 1024);
    const registry = new ModelRegistry({ storage: new FileSystemStorage(path.join(dir, 'store')) });
    const v = await registry.register('large', file);
    expect(v.size).toBe(size);
    expect(v.signature?.inputs).toEqual([{ name: 'index', type: 'int64', shape: ['N'] }]);
    expect(v.onnx?.producerName).toBe('model-rollout-bench');
    let bytesLoads = 0;
    const counting = {
      resolve: registry.resolve.bind(registry),
      loadArtifactFile: registry.loadArtifactFile.bind(registry),
      loadArtifact: (name: string, ref: number) => {
        bytesLoads++;
        return registry.loadArtifact(name, ref);
      },
    };
    const pool = new PredictorPool({ registry: counting, warmUp: false });
    try {
      const predictor = await pool.get('large', v.version);
      const out = await predictor.predict([0, rows - 1]);
      expect(out.y?.dims).toEqual([2, 1024]);
      // Row r of W holds ((r·1024 + c) mod 4099) / 4099.
      expect((out.y!.data as Float32Array)[1025]).toBeCloseTo(((rows - 1) * 1024 + 1) % 4099 / 4099, 6);
      expect(bytesLoads).toBe(0);
    } finally {
      await pool.dispose();
    }
  });

  it('a pool with create(bytes) still gets verified bytes; createFromFile gets the path', async () => {
    const dir = await freshDir();
    const registry = new ModelRegistry({ storage: new FileSystemStorage(dir) });
    const v = await registry.register('iris', irisClassifier());
    const seen: Array<Uint8Array | string> = [];
    const { OnnxPredictor } = await import('../../src/index.js');
    const byBytes = new PredictorPool({ registry, warmUp: false, create: (bytes) => (seen.push(bytes), OnnxPredictor.create(bytes)) });
    const byFile = new PredictorPool({ registry, warmUp: false, createFromFile: (f) => (seen.push(f), OnnxPredictor.create(f)) });
    await byBytes.get('iris', 1);
    await byFile.get('iris', 1);
    expect(seen[0]).toBeInstanceOf(Uint8Array);
    expect(seen[1]).toBe(path.join(dir, 'blobs/sha256', v.sha256));
    await Promise.all([byBytes.dispose(), byFile.dispose()]);
    expect(() => new PredictorPool({ registry, create: async () => undefined as never, createFromFile: async () => undefined as never })).toThrow(/give create or createFromFile, not both/);
    const bare = { resolve: registry.resolve.bind(registry), loadArtifact: registry.loadArtifact.bind(registry) };
    expect(() => new PredictorPool({ registry: bare, createFromFile: async () => undefined as never })).toThrow(/createFromFile needs a registry with loadArtifactFile/);
  });
});
