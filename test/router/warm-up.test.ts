import { describe, expect, it } from 'vitest';
import {
  BatchingPredictor,
  BlueGreenSwitch,
  blueGreenAnalysis,
  CanaryDeployment,
  DeploymentMonitor,
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

  // Latencies are timed in CPU time: on a shared 2-core machine other tenants preempt about 1 % of
  // requests for 10–80 ms of wall time, right at the p99 the relative limit compares, so a wall-clock
  // verdict would measure the neighbours. A cold first run costs CPU time as much as wall time.
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };

  it('a blue-green pre-promotion analysis with relative.maxLatencyRatio gives the same verdict in 20 of 20 identical runs', async () => {
    const verdicts: string[] = [];
    const details: string[] = [];
    for (let run = 0; run < 20; run++) {
      const registry = await irisRegistry(2);
      const monitor = new DeploymentMonitor();
      const bg = new BlueGreenSwitch({ blue: 1 });
      const analyses = blueGreenAnalysis(bg, { monitor, prePromotion: { minRequests: 1_000, relative: { maxLatencyRatio: 3 } } });
      const router = track(new ModelRouter({ registry, model: 'iris', policy: bg, monitor, clock: cpuMs }));
      await router.warm();
      bg.deploy(2);
      await router.warm();
      // Active and preview requests alternate, so both versions meet the same moments of the machine.
      for (let i = 0; i < 2_000; i++) await router.predict(VIRGINICA, { unitId: `u${i}`, preview: (i & 1) === 1 });
      const report = await analyses.analyze();
      verdicts.push(report.outcome);
      details.push(JSON.stringify(report.checks ?? report));
      await router.pool.dispose();
    }
    expect(verdicts, details.join('\n')).toEqual(Array.from({ length: 20 }, () => 'successful'));
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
