import { beforeEach, describe, expect, it } from 'vitest';
import {
  FunctionPredictor,
  IntegrityError,
  InvalidStateError,
  MemoryStorage,
  ModelLoadError,
  ModelRegistry,
  NotFoundError,
  OnnxPredictor,
  PredictorPool,
  ValidationError,
  type ModelVersion,
  type PoolRegistry,
  type PredictInput,
  type PredictOutput,
  type Predictor,
  type PredictorPoolEvents,
  type VersionRef,
} from '../../src/index.js';
import { brokenModel, irisClassifier, regression } from '../fixtures/onnx-models.js';

const virginica = [5.9, 3.0, 5.1, 1.8];

/** The real registry, with its artifact reads counted. */
function countingRegistry(registry: ModelRegistry): PoolRegistry<ModelVersion> & { loads: number } {
  const counted = {
    loads: 0,
    resolve: (name: string, ref: VersionRef) => registry.resolve(name, ref),
    loadArtifact: (name: string, ref: VersionRef) => {
      counted.loads++;
      return registry.loadArtifact(name, ref);
    },
  };
  return counted;
}

/** Records every event the pool emits, in order. */
function recordEvents(pool: PredictorPool<ModelVersion>) {
  const events: string[] = [];
  const failures: Array<PredictorPoolEvents['loadFailed'][0]> = [];
  pool.on('loaded', (e) => events.push(`loaded ${e.name}@${e.version}`));
  pool.on('evicted', (e) => events.push(`evicted ${e.name}@${e.version} ${e.reason}`));
  pool.on('loadFailed', (e) => {
    events.push(`loadFailed ${e.name}@${String(e.ref)}`);
    failures.push(e);
  });
  return { events, failures };
}

describe('PredictorPool', () => {
  let storage: MemoryStorage;
  let registry: ModelRegistry;

  beforeEach(async () => {
    storage = new MemoryStorage();
    registry = new ModelRegistry({ storage });
    await registry.register('iris', irisClassifier({ producerVersion: '1' })); // v1
    await registry.register('iris', irisClassifier({ producerVersion: '2' })); // v2
    await registry.register('iris', irisClassifier({ producerVersion: '3' })); // v3
    await registry.setAlias('iris', 'production', 2);
  });

  it('loads each version once for 100 concurrent gets (number, alias and latest refs)', async () => {
    const counted = countingRegistry(registry);
    let creates = 0;
    const pool = new PredictorPool({
      registry: counted,
      create: (bytes, v) => {
        creates++;
        return OnnxPredictor.create(bytes, { name: v.name, version: v.version });
      },
    });
    const { events } = recordEvents(pool);
    const handles = await Promise.all(Array.from({ length: 100 }, (_, i) => pool.get('iris', i % 2 === 0 ? 2 : '@production')));
    expect(creates).toBe(1);
    expect(counted.loads).toBe(1);
    expect(handles.every((h) => h.version === 2)).toBe(true);
    expect(events).toEqual(['loaded iris@2']);
    const latest = await Promise.all(Array.from({ length: 100 }, () => pool.get('iris', 'latest')));
    expect(latest[0]?.version).toBe(3);
    expect(creates).toBe(2);
    const out = await latest[0]!.predict(virginica);
    expect(out.label?.data).toEqual([2]);
    expect(latest[0]?.signature?.inputs[0]?.shape).toEqual(['N', 4]);
    await pool.dispose();
  });

  it('uses OnnxPredictor by default and names the model in its errors', async () => {
    const pool = new PredictorPool({ registry });
    const predictor = await pool.get('iris', '@production');
    await expect(predictor.predict([1, 2, 3])).rejects.toThrow(/^model 'iris' v2: expected 'input' float32\[N,4\], got 3 values$/);
    await pool.dispose();
  });

  it('evicts the least recently used version beyond maxLoaded', async () => {
    const disposed: number[] = [];
    const pool = new PredictorPool({
      registry,
      maxLoaded: 2,
      create: async (bytes, v) => {
        const inner = await OnnxPredictor.create(bytes);
        return new FunctionPredictor<PredictInput, PredictOutput>((input, o) => inner.predict(input, o), {
          signature: inner.signature,
          dispose: async () => {
            disposed.push(v.version);
            await inner.dispose();
          },
        });
      },
    });
    const { events } = recordEvents(pool);
    await pool.get('iris', 1);
    await pool.get('iris', 2);
    await pool.get('iris', 1); // 1 is now the most recently used
    await pool.get('iris', 3);
    expect(pool.keys()).toEqual(['iris@1', 'iris@3']);
    expect(events).toEqual(['loaded iris@1', 'loaded iris@2', 'loaded iris@3', 'evicted iris@2 lru']);
    await new Promise((r) => setImmediate(r));
    expect(disposed).toEqual([2]);
    await pool.dispose();
    expect(disposed.sort()).toEqual([1, 2, 3]);
  });

  it('an evicted predictor is disposed only after its in-flight predictions finish', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const disposed: number[] = [];
    const pool = new PredictorPool({
      registry,
      maxLoaded: 1,
      create: async (bytes, v) => {
        const inner = await OnnxPredictor.create(bytes);
        return new FunctionPredictor<PredictInput, PredictOutput>(
          async (input) => {
            const out = await inner.predict(input);
            if (v.version === 1) await gate;
            return out;
          },
          {
            signature: inner.signature,
            dispose: async () => {
              disposed.push(v.version);
              await inner.dispose();
            },
          },
        );
      },
    });
    const { events } = recordEvents(pool);
    const v1 = await pool.get('iris', 1);
    const inFlight = v1.predict(virginica);
    await pool.get('iris', 2); // evicts 1 while its prediction is running
    expect(events).toContain('evicted iris@1 lru');
    await new Promise((r) => setTimeout(r, 20));
    expect(disposed).toEqual([]);
    release();
    await expect(inFlight).resolves.toMatchObject({ label: { data: [2] } });
    await new Promise((r) => setImmediate(r));
    expect(disposed).toEqual([1]);
    // The old handle still works: it loads its version again.
    await expect(v1.predict(virginica)).resolves.toMatchObject({ label: { data: [2] } });
    expect(pool.keys()).toEqual(['iris@1']);
    await pool.dispose();
  });

  it('a corrupted artifact is loadFailed + IntegrityError, never served, and the next get retries', async () => {
    const counted = countingRegistry(registry);
    const pool = new PredictorPool({ registry: counted });
    const { events, failures } = recordEvents(pool);
    const v = await registry.resolve('iris', 3);
    const key = `blobs/sha256/${v.sha256}`;
    const good = (await storage.get(key))!.data;
    const bad = Uint8Array.from(good);
    bad[10] = (bad[10] as number) ^ 0xff;
    await storage.put(key, bad);
    const attempts = await Promise.allSettled(Array.from({ length: 10 }, () => pool.get('iris', 3)));
    expect(attempts.every((a) => a.status === 'rejected' && a.reason instanceof IntegrityError)).toBe(true);
    expect(counted.loads).toBe(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.error).toBeInstanceOf(IntegrityError);
    expect(pool.keys()).toEqual([]);
    await storage.put(key, good);
    const predictor = await pool.get('iris', 3);
    expect(counted.loads).toBe(2);
    await expect(predictor.predict(virginica)).resolves.toMatchObject({ label: { data: [2] } });
    expect(events).toEqual(['loadFailed iris@3', 'loaded iris@3']);
    await pool.dispose();
  });

  it('a model that does not load is loadFailed + ModelLoadError, retried on the next get', async () => {
    await registry.register('broken', brokenModel(), { validate: false });
    let creates = 0;
    const pool = new PredictorPool({
      registry,
      create: (bytes, v) => {
        creates++;
        return OnnxPredictor.create(creates === 1 ? bytes : regression(), { name: v.name, version: v.version });
      },
    });
    const { failures } = recordEvents(pool);
    const error = await pool.get('broken', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(/^model 'broken' v1: onnxruntime could not load the model/);
    expect(failures.map((f) => f.error)).toEqual([error]);
    await expect(pool.get('broken', 1)).resolves.toMatchObject({ name: 'broken', version: 1 });
    expect(creates).toBe(2);
    await pool.dispose();
  });

  it('an unknown model, version or alias is loadFailed + NotFoundError', async () => {
    const pool = new PredictorPool({ registry });
    const { failures } = recordEvents(pool);
    await expect(pool.get('iris', 9)).rejects.toBeInstanceOf(NotFoundError);
    await expect(pool.get('iris', '@nope')).rejects.toBeInstanceOf(NotFoundError);
    await expect(pool.get('nope', 'latest')).rejects.toBeInstanceOf(NotFoundError);
    expect(failures.map((f) => f.ref)).toEqual([9, '@nope', 'latest']);
    expect(pool.keys()).toEqual([]);
    await pool.dispose();
  });

  it('preload loads ahead of traffic; unload disposes; dispose refuses later gets', async () => {
    const pool = new PredictorPool({ registry });
    const { events } = recordEvents(pool);
    expect(await pool.preload('iris', '@production')).toBe(2);
    expect(pool.keys()).toEqual(['iris@2']);
    await pool.unload('iris', 2);
    await pool.unload('iris', 42);
    expect(pool.keys()).toEqual([]);
    expect(events).toEqual(['loaded iris@2', 'evicted iris@2 unload']);
    const handle = await pool.get('iris', 1);
    await handle.dispose(); // detaches this handle only: the version is shared
    await expect(handle.predict(virginica)).rejects.toThrow(/handle of model 'iris' v1 was disposed/);
    expect(pool.keys()).toEqual(['iris@1']);
    await expect((await pool.get('iris', 1)).predict(virginica)).resolves.toMatchObject({ label: { data: [2] } });
    await pool.dispose();
    await expect(pool.get('iris', 1)).rejects.toBeInstanceOf(InvalidStateError);
  });

  it('an unload during a load disposes the predictor when it arrives', async () => {
    let disposedCount = 0;
    const pool = new PredictorPool({
      registry,
      create: async (bytes) => {
        const inner: Predictor = await OnnxPredictor.create(bytes);
        return new FunctionPredictor<PredictInput, PredictOutput>((input) => inner.predict(input), {
          signature: inner.signature!,
          dispose: () => {
            disposedCount++;
            return inner.dispose();
          },
        });
      },
    });
    const loading = pool.get('iris', 1);
    await pool.unload('iris', 1);
    expect(disposedCount).toBe(1);
    expect(pool.keys()).toEqual([]);
    await loading;
    await pool.dispose();
  });

  it('checks its options, naming the option', () => {
    expect(() => new PredictorPool({ registry: {} as never })).toThrow(/registry must have resolve\(\) and loadArtifact\(\), got object Object/);
    expect(() => new PredictorPool({ registry, maxLoaded: 0 })).toThrow(/maxLoaded must be an integer >= 1, got number 0/);
    expect(() => new PredictorPool({ registry, create: 1 as never })).toThrow(ValidationError);
    expect(() => new PredictorPool(undefined as never)).toThrow(/options must be an object, got undefined/);
  });
});
