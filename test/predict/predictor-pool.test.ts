import { availableParallelism } from 'node:os';
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

  it("a handle settles a call on an ONNX version's own promise, and offers none where it cannot (internal predictThen)", async () => {
    const pool = new PredictorPool({ registry, maxLoaded: 1, warmUp: false });
    const handler = {
      answered: (output: PredictOutput) => ({ label: output.label?.data[0] }),
      failed: (error: unknown) => new Error('handled', { cause: error }),
    };
    const handle = await pool.get('iris', 1);
    await expect(handle.predictThen(virginica, undefined, handler)).resolves.toEqual({ label: 2 });
    const refused = await handle.predictThen([1, 2], undefined, handler)?.catch((error: unknown) => error);
    expect(refused).toMatchObject({ message: 'handled', cause: { name: 'InputShapeError' } });
    // A version that is not an OnnxPredictor, a detached handle and an evicted one offer none, starting nothing.
    const wrapped = new PredictorPool({
      registry,
      warmUp: false,
      create: async (bytes) => {
        const inner = await OnnxPredictor.create(bytes);
        return new FunctionPredictor((input: PredictInput) => inner.predict(input), { signature: inner.signature, dispose: () => inner.dispose() });
      },
    });
    expect((await wrapped.get('iris', 1)).predictThen(virginica, undefined, handler)).toBeUndefined();
    await pool.get('iris', 2); // evicts v1 (maxLoaded 1)
    await new Promise((r) => setImmediate(r));
    expect(handle.predictThen(virginica, undefined, handler)).toBeUndefined();
    expect(await handle.predict(virginica)).toHaveProperty('label.data', [2]);
    const other = await pool.get('iris', 2);
    await other.dispose();
    expect(other.predictThen(virginica, undefined, handler)).toBeUndefined();
    await Promise.all([pool.dispose(), wrapped.dispose()]);
  });

  it('an evicted predictor is disposed only after its in-flight predictions finish', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const disposed: number[] = [];
    const pool = new PredictorPool({
      registry,
      maxLoaded: 1,
      warmUp: false,
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
    expect(() => new PredictorPool({ registry, intraOpNumThreads: 0 })).toThrow(/intraOpNumThreads must be an integer >= 1, got number 0/);
  });

  it('gives each version a share of the cores so that maxLoaded versions do not oversubscribe them', async () => {
    const cores = availableParallelism();
    expect(new PredictorPool({ registry, maxLoaded: 4 }).intraOpNumThreads).toBe(Math.max(1, Math.floor(cores / 4)));
    expect(new PredictorPool({ registry, maxLoaded: 1 }).intraOpNumThreads).toBe(cores);
    expect(new PredictorPool({ registry, maxLoaded: 4 * cores + 1 }).intraOpNumThreads).toBe(1);
    const pool = new PredictorPool({ registry, intraOpNumThreads: 3 });
    expect(pool.intraOpNumThreads).toBe(3);
    const predictor = await pool.get('iris', 1);
    expect((await predictor.predict([5.1, 3.5, 1.4, 0.2])).label?.data).toHaveLength(1);
    await pool.dispose();
  });

  describe('warm-up', () => {
    /** OnnxPredictors whose calls (inputs) are recorded, in order, per version. */
    function recording() {
      const calls: Array<{ version: number; input: PredictInput }> = [];
      const create = async (bytes: Uint8Array, v: ModelVersion): Promise<Predictor> => {
        const inner = await OnnxPredictor.create(bytes, { name: v.name, version: v.version });
        return new FunctionPredictor<PredictInput, PredictOutput>(
          (input) => {
            calls.push({ version: v.version, input });
            return inner.predict(input);
          },
          { signature: inner.signature, dispose: () => inner.dispose() },
        );
      };
      return { calls, create };
    }

    it('runs 3 inferences on an input built from the signature before get returns the version', async () => {
      const { calls, create } = recording();
      const pool = new PredictorPool({ registry, create });
      const loaded: Array<PredictorPoolEvents['loaded'][0]> = [];
      pool.on('loaded', (e) => loaded.push(e));
      const predictor = await pool.get('iris', 1);
      expect(calls).toHaveLength(3);
      const sample = calls[0]?.input as Record<string, { type: string; dims: readonly number[]; data: Float32Array }>;
      expect(Object.keys(sample)).toEqual(['input']);
      expect(sample.input?.type).toBe('float32');
      expect(sample.input?.dims).toEqual([1, 4]);
      expect(Array.from(sample.input!.data)).toEqual([0, 0, 0, 0]);
      expect(loaded).toHaveLength(1);
      expect(loaded[0]).toMatchObject({ name: 'iris', version: 1, warmUpRuns: 3 });
      expect(loaded[0]!.warmUpMs).toBeGreaterThan(0);
      expect(loaded[0]!.loadMs).toBeGreaterThanOrEqual(loaded[0]!.warmUpMs);
      await predictor.predict(virginica);
      expect(calls.map((c) => c.input)).toEqual([sample, sample, sample, virginica]);
      await pool.dispose();
    });

    it('warms with the host sample when it gives one, as many runs as asked, or not at all', async () => {
      const { calls, create } = recording();
      const pool = new PredictorPool({ registry, create, warmUp: { runs: 2, sample: (v) => (v.version === 2 ? virginica : undefined) } });
      await pool.get('iris', 2);
      await pool.get('iris', 3);
      expect(calls.map((c) => [c.version, Array.isArray(c.input) ? 'sample' : 'signature'])).toEqual([
        [2, 'sample'],
        [2, 'sample'],
        [3, 'signature'],
        [3, 'signature'],
      ]);
      await pool.dispose();
      const cold = recording();
      const coldPool = new PredictorPool({ registry, create: cold.create, warmUp: false });
      const loaded: number[] = [];
      coldPool.on('loaded', (e) => loaded.push(e.warmUpRuns));
      await coldPool.get('iris', 1);
      expect(cold.calls).toHaveLength(0);
      expect(loaded).toEqual([0]);
      await coldPool.dispose();
    });

    it('a version without a signature loads without a warm-up', async () => {
      let calls = 0;
      const pool = new PredictorPool({
        registry,
        create: async () =>
          new FunctionPredictor(() => {
            calls++;
            return {};
          }),
      });
      const loaded: number[] = [];
      pool.on('loaded', (e) => loaded.push(e.warmUpRuns));
      await pool.get('iris', 1);
      expect(calls).toBe(0);
      expect(loaded).toEqual([0]);
      await pool.dispose();
    });

    it('a failed warm-up fails the load with ModelLoadError, disposes the predictor, and the next get retries', async () => {
      let fail = true;
      let disposed = 0;
      const pool = new PredictorPool({
        registry,
        create: async (bytes, v) => {
          const inner = await OnnxPredictor.create(bytes, { name: v.name, version: v.version });
          return new FunctionPredictor<PredictInput, PredictOutput>(
            (input) => {
              if (fail) throw new Error('kernel exploded');
              return inner.predict(input);
            },
            {
              signature: inner.signature,
              dispose: async () => {
                disposed++;
                await inner.dispose();
              },
            },
          );
        },
      });
      const { events, failures } = recordEvents(pool);
      const error = await pool.get('iris', 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelLoadError);
      expect((error as Error).message).toBe("model 'iris' v1: warm-up inference failed: kernel exploded");
      expect(failures[0]?.error).toBe(error);
      expect(disposed).toBe(1);
      expect(pool.keys()).toEqual([]);
      fail = false;
      const predictor = await pool.get('iris', 1);
      expect((await predictor.predict(virginica)).label?.data).toEqual([2]);
      expect(events).toEqual(['loadFailed iris@1', 'loaded iris@1']);
      await pool.dispose();
    });

    it('checks its warm-up options, naming the option', () => {
      expect(() => new PredictorPool({ registry, warmUp: 3 as never })).toThrow(/warmUp must be a boolean or \{ runs, sample \}, got number 3/);
      expect(() => new PredictorPool({ registry, warmUp: { runs: -1 } })).toThrow(/warmUp.runs must be an integer >= 0, got number -1/);
      expect(() => new PredictorPool({ registry, warmUp: { sample: 'x' as never } })).toThrow(/warmUp.sample/);
    });
  });
});
