import { describe, expect, it } from 'vitest';
import {
  BatchingPredictor,
  BlueGreenSwitch,
  CanaryDeployment,
  FunctionPredictor,
  MemoryStorage,
  ModelLoadError,
  ModelRegistry,
  OnnxPredictor,
  PredictorPool,
  ShadowDeployment,
  ValidationError,
  type ModelVersion,
  type PredictInput,
  type PredictOutput,
} from '../../src/index.js';
import { ModelRouter } from '../../src/router/model-router.js';
import { brokenModel, fixedBatchRegression, irisClassifier } from '../fixtures/onnx-models.js';
import { trackRouters } from './tracked-routers.js';

const VIRGINICA = [6.7, 3.0, 5.2, 2.3];

async function irisRegistry(versions = 3): Promise<ModelRegistry> {
  const registry = new ModelRegistry({ storage: new MemoryStorage() });
  for (let v = 1; v <= versions; v++) await registry.register('iris', irisClassifier({ producerVersion: String(v) }));
  return registry;
}

/** One call a predictor received: which version, and whether it was a warm-up (an input built from the signature). */
interface Call {
  version: number;
  warmUp: boolean;
}

/**
 * A pool of real OnnxPredictors that logs every call, in order, and can hold a version's warm-up
 * until the test releases it.
 */
function loggingPool(registry: ModelRegistry) {
  const calls: Call[] = [];
  const held = new Map<number, () => void>();
  const holds = new Map<number, Promise<void>>();
  const hold = (version: number) => holds.set(version, new Promise<void>((resolve) => held.set(version, resolve)));
  const pool = new PredictorPool<ModelVersion>({
    registry,
    create: async (bytes, v) => {
      const inner = await OnnxPredictor.create(bytes, { name: v.name, version: v.version });
      return new FunctionPredictor<PredictInput, PredictOutput>(
        async (input) => {
          // The pool warms with a record of tensors built from the signature; requests here send rows.
          const warmUp = !Array.isArray(input);
          calls.push({ version: v.version, warmUp });
          if (warmUp) await holds.get(v.version);
          return inner.predict(input);
        },
        { signature: inner.signature, dispose: () => inner.dispose() },
      );
    },
  });
  return { pool, calls, hold, release: (version: number) => held.get(version)?.() };
}

/** A unit id the policy routes to `variant`. */
function unitFor(policy: { route(ctx: { unitId: string }): { variant: string } }, variant: string): string {
  for (let i = 0; ; i++) if (policy.route({ unitId: `user-${i}` }).variant === variant) return `user-${i}`;
}

const track = trackRouters();

describe('ModelRouter: warm before traffic', () => {
  it('a canary candidate is loaded and warmed when the canary starts, and has served its warm-up inferences before its first routed request', async () => {
    const registry = await irisRegistry();
    const { pool, calls } = loggingPool(registry);
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: canary, pool }));
    expect(router.ready()).toBe(false);
    await router.warm();
    expect(router.ready()).toBe(true);
    expect(calls).toEqual([1, 1, 1].map((version) => ({ version, warmUp: true })));

    const loaded: number[] = [];
    pool.on('loaded', (e) => loaded.push(e.version));
    canary.start(1, 2, 25);
    expect(router.ready()).toBe(false); // v2 is being prepared
    await router.warm();
    expect(loaded).toEqual([2]);
    expect(router.ready()).toBe(true);
    const answer = await router.predict(VIRGINICA, { unitId: unitFor(canary, 'canary') });
    expect(answer).toMatchObject({ version: 2, variant: 'canary' });
    expect(calls.slice(3)).toEqual([
      { version: 2, warmUp: true },
      { version: 2, warmUp: true },
      { version: 2, warmUp: true },
      { version: 2, warmUp: false },
    ]);
    // A step to a new version warms that one too, before its first request.
    canary.abort();
    canary.start(1, 3, 10);
    await router.warm();
    await router.predict(VIRGINICA, { unitId: unitFor(canary, 'canary') });
    expect(calls.slice(7)).toEqual([...[3, 3, 3].map((version) => ({ version, warmUp: true })), { version: 3, warmUp: false }]);
  });

  it('readiness flips when the warm-up ends; a request routed to the version meanwhile waits for it and never meets a cold model', async () => {
    const registry = await irisRegistry();
    const { pool, calls, hold, release } = loggingPool(registry);
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: canary, pool }));
    await router.warm();
    hold(2);
    canary.start(1, 2, 50);
    const early = router.predict(VIRGINICA, { unitId: unitFor(canary, 'canary') });
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(router.ready()).toBe(false);
    expect(calls.filter((c) => c.version === 2)).toEqual([{ version: 2, warmUp: true }]); // held in its first warm-up run
    // Stable traffic is answered meanwhile.
    await expect(router.predict(VIRGINICA, { unitId: unitFor(canary, 'stable') })).resolves.toMatchObject({ version: 1 });
    release(2);
    await expect(early).resolves.toMatchObject({ version: 2, variant: 'canary' });
    expect(router.ready()).toBe(true);
    expect(calls.filter((c) => c.version === 2).map((c) => c.warmUp)).toEqual([true, true, true, false]);
  });

  it('a blue-green deploy and a shadow warm their new version before any request reaches it', async () => {
    const registry = await irisRegistry();
    const blueGreen = loggingPool(registry);
    const bg = new BlueGreenSwitch({ blue: 1 });
    const bgRouter = track(new ModelRouter({ registry, model: 'iris', policy: bg, pool: blueGreen.pool }));
    await bgRouter.warm();
    bg.deploy(2);
    expect(bgRouter.ready()).toBe(false);
    await bgRouter.warm();
    expect(bgRouter.ready()).toBe(true);
    await expect(bgRouter.predict(VIRGINICA, { preview: true })).resolves.toMatchObject({ version: 2 });
    expect(blueGreen.calls.filter((c) => c.version === 2).map((c) => c.warmUp)).toEqual([true, true, true, false]);

    const shadowed = loggingPool(registry);
    const shadow = new ShadowDeployment({ primary: 1, shadow: 3, mirrorPercent: 0 });
    const shadowRouter = track(new ModelRouter({ registry, model: 'iris', policy: shadow, pool: shadowed.pool }));
    await shadowRouter.warm(); // the shadow version too: it is part of the policy's traffic
    expect(shadowed.calls.filter((c) => c.version === 3).map((c) => c.warmUp)).toEqual([true, true, true]);
    await shadowRouter.pool.unload('iris', 3);
    shadow.setMirrorPercent(100);
    expect(shadowRouter.ready()).toBe(false);
    await shadowRouter.warm();
    await shadowRouter.predict(VIRGINICA, { unitId: 'u' });
    await shadowRouter.drainShadows();
    expect(shadowed.calls.filter((c) => c.version === 3).map((c) => c.warmUp)).toEqual([true, true, true, true, true, true, false]);
  });

  it('warm() rejects with the load error of a version that cannot serve; its requests go to the fallback', async () => {
    const registry = await irisRegistry(1);
    await registry.register('iris', brokenModel(), { validate: false });
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: canary }));
    canary.start(1, 2, 50);
    await expect(router.warm()).rejects.toBeInstanceOf(ModelLoadError);
    expect(router.ready()).toBe(true); // nothing is being prepared, and the fallback serves
    await expect(router.predict(VIRGINICA, { unitId: unitFor(canary, 'canary') })).resolves.toMatchObject({ version: 1 });
  });
});

describe('ModelRouter: batching option', () => {
  it('batches each version in the router’s own pool; every caller gets its unbatched answer', async () => {
    const registry = await irisRegistry(2);
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start(1, 2, 50);
    const plain = track(new ModelRouter({ registry, model: 'iris', policy: canary }));
    const batched = track(new ModelRouter({ registry, model: 'iris', policy: canary, batching: { maxBatchSize: 16 } }));
    await Promise.all([plain.warm(), batched.warm()]);
    const handle = await batched.pool.get('iris', 1);
    expect(handle.entry.predictor).toBeInstanceOf(BatchingPredictor);
    expect((handle.entry.predictor as BatchingPredictor).options.maxBatchSize).toBe(16);
    const inputs = Array.from({ length: 200 }, (_, i) => [4 + (i % 7) * 0.5, 2 + (i % 5) * 0.3, 1 + (i % 11) * 0.5, 0.1 + (i % 3) * 0.8]);
    const want = await Promise.all(inputs.map((x, i) => plain.predict(x, { unitId: `u${i}` })));
    const got = await Promise.all(inputs.map((x, i) => batched.predict(x, { unitId: `u${i}` })));
    for (let i = 0; i < inputs.length; i++) {
      expect(got[i]?.version).toBe(want[i]?.version);
      expect(got[i]?.output.label).toEqual(want[i]?.output.label);
    }
    expect(batched.monitor.stats(1, { window: 'lifetime' }).totalRequests + batched.monitor.stats(2, { window: 'lifetime' }).totalRequests).toBe(200);
  });

  it('a version that cannot be batched fails to load with the reason, and its requests are answered by the fallback', async () => {
    const registry = await irisRegistry(1);
    await registry.register('iris', fixedBatchRegression());
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start(1, 2, 50);
    const router = track(new ModelRouter({ registry, model: 'iris', policy: canary, batching: true }));
    const error = await router.warm().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toBe(
      "model 'iris' v2: batching is on, but the model cannot be batched: every input needs the same dynamic first dimension, but input 'x' float32[1,3] has a fixed batch size of 1",
    );
    const fallbacks: unknown[] = [];
    router.on('fallback', (e) => fallbacks.push(e.error));
    await expect(router.predict(VIRGINICA, { unitId: unitFor(canary, 'canary') })).resolves.toMatchObject({ version: 1 });
    expect(fallbacks).toEqual([error]);
  });

  it('checks batching and warmUp up front, naming the option', async () => {
    const registry = await irisRegistry(1);
    const policy = new CanaryDeployment({ stable: 1 });
    const pool = new PredictorPool({ registry });
    expect(() => new ModelRouter({ registry, model: 'iris', policy, batching: 3 as never })).toThrow(/batching must be a boolean or batching options, got number 3/);
    expect(() => new ModelRouter({ registry, model: 'iris', policy, batching: { maxBatchSize: 0 } })).toThrow(ValidationError);
    expect(() => new ModelRouter({ registry, model: 'iris', policy, batching: { maxBatchSize: 0 } })).toThrow(/maxBatchSize must be an integer >= 1/);
    expect(() => new ModelRouter({ registry, model: 'iris', policy, warmUp: { runs: -1 } })).toThrow(/warmUp.runs must be an integer >= 0/);
    expect(() => new ModelRouter({ registry, model: 'iris', policy, pool, batching: true })).toThrow(/batching and warmUp configure the router's own pool/);
    expect(() => new ModelRouter({ registry, model: 'iris', policy, pool, warmUp: false })).toThrow(/with your own pool, set them on it/);
    await pool.dispose();
  });
});

describe('ModelRouter: structural monitor and pool', () => {
  it('takes any monitor with record() and any pool with peek() and get(), and records every outcome once', async () => {
    const registry = await irisRegistry(2);
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start(1, 2, 50);
    const records: Array<{ version: unknown; latencyMs: number; success: boolean }> = [];
    const monitor = { record: (version: unknown, latencyMs: number, success: boolean) => void records.push({ version, latencyMs, success }) };
    const inner = new PredictorPool({ registry });
    const asked: number[] = [];
    // Not a PredictorPool: a plain object forwarding to one; its handles answer by promise only.
    const pool = {
      peek: (name: string, version: number) => {
        asked.push(version);
        const handle = inner.peek(name, version);
        return handle && { signature: handle.signature, predict: handle.predict.bind(handle), dispose: async () => {} };
      },
      get: (name: string, version: number) => inner.get(name, version),
    };
    const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool });
    await router.warm();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => router.predict(VIRGINICA, { unitId: `u${i}` })));
    expect(answers.map((a) => a.output.label?.data)).toEqual(answers.map(() => [2]));
    expect(records).toHaveLength(20);
    expect(records.every((r) => r.success && r.latencyMs >= 0 && (r.version === 1 || r.version === 2))).toBe(true);
    expect(asked.length).toBeGreaterThanOrEqual(20);
    expect(() => new ModelRouter({ registry, model: 'iris', policy: canary, monitor: {} as never })).toThrow(/monitor must be a DeploymentMonitor \(or have its record method\), got/);
    expect(() => new ModelRouter({ registry, model: 'iris', policy: canary, pool: { peek: () => undefined } as never })).toThrow(/pool must be a PredictorPool \(or have its peek and get methods\), got/);
    await inner.dispose();
  });

  it('batched through the router, 1 000 concurrent callers with mixed rows each get exactly their unbatched answer, and a bad row fails only its caller', async () => {
    const registry = await irisRegistry(2);
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start(1, 2, 50);
    const plain = track(new ModelRouter({ registry, model: 'iris', policy: canary }));
    const batched = track(new ModelRouter({ registry, model: 'iris', policy: canary, batching: {} }));
    await Promise.all([plain.warm(), batched.warm()]);
    const row = (i: number) => [4 + (i % 7) * 0.5, 2 + (i % 5) * 0.3, 1 + (i % 11) * 0.5, 0.1 + (i % 3) * 0.8];
    const inputs: PredictInput[] = Array.from({ length: 1000 }, (_, i) => (i % 97 === 5 ? [1, 2, Number.NaN, 4] : i % 3 === 0 ? [row(i), row(i + 1), row(i + 2)] : row(i)));
    const want = await Promise.allSettled(inputs.map((x, i) => plain.predict(x, { unitId: `u${i}` })));
    const got = await Promise.allSettled(inputs.map((x, i) => batched.predict(x, { unitId: `u${i}` })));
    for (let i = 0; i < inputs.length; i++) {
      const w = want[i] as PromiseSettledResult<Awaited<ReturnType<ModelRouter['predict']>>>;
      const g = got[i] as PromiseSettledResult<Awaited<ReturnType<ModelRouter['predict']>>>;
      expect(g.status).toBe(w.status);
      if (w.status === 'fulfilled' && g.status === 'fulfilled') {
        expect(g.value.version).toBe(w.value.version);
        expect(g.value.output.label).toEqual(w.value.output.label);
        // A batch may take another kernel path than a lone row: the same values to a few float32 ulps.
        const probabilities = Array.from(w.value.output.probabilities?.data as Float32Array);
        Array.from(g.value.output.probabilities?.data as Float32Array).forEach((p, k) => expect(p).toBeCloseTo(probabilities[k] as number, 5));
        expect(g.value.output.probabilities?.dims).toEqual(w.value.output.probabilities?.dims);
      } else if (w.status === 'rejected' && g.status === 'rejected') {
        expect((g.reason as Error).name).toBe((w.reason as Error).name);
      }
    }
    const failed = got.filter((g) => g.status === 'rejected').length;
    expect(failed).toBe(inputs.filter((_, i) => i % 97 === 5).length);
    const lifetime = (v: number) => batched.monitor.stats(v, { window: 'lifetime' });
    // Bad input is the caller's doing: never counted against a version.
    expect(lifetime(1).totalRequests + lifetime(2).totalRequests).toBe(1000 - failed);
    expect(lifetime(1).failures + lifetime(2).failures).toBe(0);
  });
});

describe('PredictorPool: warm-up of a batching predictor', () => {
  it('runs the warm-up sample alone and then as one batch of the batch size, before the version is handed out', async () => {
    const registry = await irisRegistry(1);
    const seen: number[] = [];
    const pool = new PredictorPool({
      registry,
      create: async (bytes) => {
        const onnx = await OnnxPredictor.create(bytes);
        const logging = new FunctionPredictor<PredictInput, PredictOutput>(
          (input) => {
            seen.push(((input as { dims?: readonly number[] }).dims ?? ((input as Record<string, { dims: readonly number[] }>).input as { dims: readonly number[] }).dims)[0] as number);
            return onnx.predict(input);
          },
          { signature: onnx.signature, dispose: () => onnx.dispose() },
        );
        return new BatchingPredictor(logging, { maxBatchSize: 8 });
      },
    });
    await pool.get('iris', 1);
    // 3 sequential runs of the one-row sample, then 8 concurrent: the first alone, 7 as one batch.
    expect(seen).toEqual([1, 1, 1, 1, 7]);
    await pool.dispose();
  });
});
