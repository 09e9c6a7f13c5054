import { describe, expect, it } from 'vitest';
import {
  ABTestController,
  BanditPolicy,
  CanaryDeployment,
  DeploymentMonitor,
  FunctionPredictor,
  InputShapeError,
  IntegrityError,
  MemoryStorage,
  ModelLoadError,
  ModelRegistry,
  NotFoundError,
  OnnxPredictor,
  PredictorPool,
  ShadowDeployment,
  StaticPolicy,
  ValidationError,
  type ModelVersion,
  type PredictOutput,
  type Predictor,
} from '../../src/index.js';
import { ModelRouter, shadowKey } from '../../src/router/model-router.js';
import { isRoutedError } from '../../src/router/routed-error.js';
import { brokenModel, irisClassifier } from '../fixtures/onnx-models.js';
import { trackRouters } from './tracked-routers.js';

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA = [6.7, 3.0, 5.2, 2.3];

async function irisRegistry(): Promise<{ registry: ModelRegistry; storage: MemoryStorage; versions: ModelVersion[] }> {
  const storage = new MemoryStorage();
  const registry = new ModelRegistry({ storage });
  const versions = [
    await registry.register('iris', irisClassifier()),
    await registry.register('iris', irisClassifier({ producerVersion: '2' })),
    await registry.register('iris', irisClassifier({ producerVersion: '3' })),
  ];
  return { registry, storage, versions };
}

/** A pool whose predictors are plain functions of the version, so failures and delays can be injected. */
function functionPool(registry: ModelRegistry, behave: (version: number, input: unknown) => unknown): PredictorPool<ModelVersion> {
  return new PredictorPool({
    registry,
    create: async (_bytes, record) =>
      new FunctionPredictor(async (input: unknown): Promise<PredictOutput> => {
        const value = await behave(record.version, input);
        return { y: { data: Float32Array.of(Number(value)), dims: [1, 1], type: 'float32' } };
      }) as Predictor,
  });
}

const track = trackRouters();

describe('ModelRouter.predict', () => {
  it('routes through the policy, answers from the real ONNX model and records the outcome', async () => {
    const { registry } = await irisRegistry();
    const monitor = new DeploymentMonitor();
    const canary = new CanaryDeployment({ stable: 1, canary: 2, name: 'iris-v2' });
    canary.start(1, 2, 50);
    const router = track(new ModelRouter({ registry, model: 'iris', policy: canary, monitor }));

    const seen = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const unitId = `user-${i}`;
      const result = await router.predict([SETOSA, VIRGINICA], { unitId });
      const expected = canary.route({ unitId });
      expect(result.version).toBe(expected.version);
      expect(result.variant).toBe(expected.variant);
      expect([...(result.output.label?.data ?? [])]).toEqual([0, 2]);
      expect(result.latencyMs).toBeGreaterThanOrEqual(0);
      seen.set(result.version, (seen.get(result.version) ?? 0) + 1);
    }
    expect(monitor.stats(1).totalRequests).toBe(seen.get(1));
    expect(monitor.stats(2).totalRequests).toBe(seen.get(2));
    expect(seen.get(1)).toBeGreaterThan(50);
    expect(seen.get(2)).toBeGreaterThan(50);
    expect(monitor.stats(2).failures).toBe(0);
  });

  it("honours an explicit version ref: a number, 'latest' and '@alias', variant 'explicit'", async () => {
    const { registry } = await irisRegistry();
    await registry.setAlias('iris', 'production', 2);
    const monitor = new DeploymentMonitor();
    const router = track(new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }), monitor }));

    expect(await router.predict(SETOSA, { version: 3 })).toMatchObject({ version: 3, variant: 'explicit' });
    expect(await router.predict(SETOSA, { version: 'latest' })).toMatchObject({ version: 3, variant: 'explicit' });
    expect(await router.predict(SETOSA, { version: '@production' })).toMatchObject({ version: 2, variant: 'explicit' });
    expect((await router.predict(SETOSA)).version).toBe(1);
    expect(monitor.stats(3).totalRequests).toBe(2);
    expect(monitor.stats(2).totalRequests).toBe(1);
    await expect(router.predict(SETOSA, { version: 9 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(router.predict(SETOSA, { version: '@nope' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(router.predict(SETOSA, { version: 'v2' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('records a predictor error as a failure and rethrows it, same class, with version and variant', async () => {
    const { registry } = await irisRegistry();
    const monitor = new DeploymentMonitor();
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start(1, 2, 100);
    const pool = functionPool(registry, (version) => {
      if (version === 2) throw new RangeError('model exploded');
      return 1;
    });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool }));

    const error = await router.predict(SETOSA, { unitId: 'u' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect(isRoutedError(error)).toBe(true);
    expect(error).toMatchObject({ message: 'model exploded', model: 'iris', version: 2, variant: 'canary' });
    expect(monitor.stats(2)).toMatchObject({ totalRequests: 1, failures: 1 });
  });

  it('rethrows an InputShapeError without counting it against the version', async () => {
    const { registry } = await irisRegistry();
    const monitor = new DeploymentMonitor();
    const router = track(new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }), monitor }));
    await router.predict(SETOSA);

    const error = await router.predict([1, 2, 3]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputShapeError);
    expect(error).toMatchObject({ version: 1, variant: 'stable' });
    await expect(router.predict([[1, 2, 3, Number.NaN]])).rejects.toBeInstanceOf(InputShapeError);
    expect(monitor.stats(1)).toMatchObject({ totalRequests: 1, failures: 0 });
  });

  it('answers from stable with a fallback event when the candidate blob is corrupted, counting the candidate failure', async () => {
    const { registry, storage, versions } = await irisRegistry();
    const candidate = versions[1] as ModelVersion;
    const bytes = (await storage.get(`blobs/sha256/${candidate.sha256}`))?.data as Uint8Array;
    const corrupted = Uint8Array.from(bytes);
    corrupted[corrupted.length - 1] = (corrupted[corrupted.length - 1] as number) ^ 0xff;
    await storage.put(`blobs/sha256/${candidate.sha256}`, corrupted);

    const monitor = new DeploymentMonitor();
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start(1, 2, 100);
    let loads = 0;
    const pool = new PredictorPool({ registry, create: (b) => (loads++, OnnxPredictor.create(b)) });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool }));
    const fallbacks: Array<{ routed: number; fallback: number; error: unknown }> = [];
    router.on('fallback', (e) => fallbacks.push({ routed: e.routed.version, fallback: e.fallback.version, error: e.error }));

    for (let i = 0; i < 20; i++) {
      const result = await router.predict(SETOSA, { unitId: `user-${i}` });
      expect(result).toMatchObject({ version: 1, variant: 'stable' });
      expect([...(result.output.label?.data ?? [])]).toEqual([0]);
    }
    expect(fallbacks).toHaveLength(20);
    expect(fallbacks[0]).toMatchObject({ routed: 2, fallback: 1 });
    expect(fallbacks[0]?.error).toBeInstanceOf(IntegrityError);
    // Within loadRetryMs the broken candidate is not loaded again: one attempt, one stable load.
    expect(loads).toBe(1);
    expect(monitor.stats(2)).toMatchObject({ totalRequests: 20, failures: 20 });
    expect(monitor.stats(1)).toMatchObject({ totalRequests: 20, failures: 0 });
  });

  it('falls back on a ModelLoadError, retries the candidate after loadRetryMs, and serves it once fixed', async () => {
    const storage = new MemoryStorage();
    const registry = new ModelRegistry({ storage });
    await registry.register('iris', irisClassifier());
    await registry.register('iris', brokenModel(), { validate: false });
    let now = 0;
    let broken = true;
    const pool = new PredictorPool({
      registry,
      create: (bytes, record) => OnnxPredictor.create(record.version === 2 && !broken ? irisClassifier() : bytes),
    });
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start(1, 2, 100);
    const router = track(new ModelRouter({ registry, model: 'iris', policy: canary, pool, clock: () => now, loadRetryMs: 1000 }));
    const errors: unknown[] = [];
    router.on('fallback', (e) => errors.push(e.error));

    expect((await router.predict(SETOSA)).version).toBe(1);
    expect(errors[0]).toBeInstanceOf(ModelLoadError);
    broken = false;
    now = 999;
    expect((await router.predict(SETOSA)).version).toBe(1);
    now = 1000;
    expect(await router.predict(SETOSA)).toMatchObject({ version: 2, variant: 'canary' });
    expect(errors).toHaveLength(2);
  });

  it('rethrows the load error when there is nothing to fall back to', async () => {
    const storage = new MemoryStorage();
    const registry = new ModelRegistry({ storage });
    await registry.register('iris', brokenModel(), { validate: false });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }) }));
    const error = await router.predict(SETOSA).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error).toMatchObject({ version: 1, variant: 'stable' });
  });

  it('follows the pool: a version the pool evicted is loaded again on its next request', async () => {
    const { registry } = await irisRegistry();
    const loads: number[] = [];
    const pool = new PredictorPool({ registry, maxLoaded: 1, create: (b, record) => (loads.push(record.version), OnnxPredictor.create(b)) });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }), pool }));
    await router.predict(SETOSA);
    await router.predict(SETOSA);
    expect(loads).toEqual([1]);
    await router.predict(SETOSA, { version: 2 }); // LRU: v1 out
    expect(pool.keys()).toEqual(['iris@2']);
    expect((await router.predict(SETOSA)).version).toBe(1);
    expect(loads).toEqual([1, 2, 1]);
    expect(pool.keys()).toEqual(['iris@1']);
  });

  it("keeps a busy version recent in the pool's LRU although it skips the pool's lookup", async () => {
    const { registry } = await irisRegistry();
    const pool = new PredictorPool({ registry, maxLoaded: 2 });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }), pool }));
    await router.predict(SETOSA);
    await router.predict(SETOSA, { version: 2 }); // LRU order now: v1, v2
    for (let i = 0; i < 1024; i++) await router.predict(SETOSA);
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.keys()).toEqual(['iris@2', 'iris@1']);
    await router.predict(SETOSA, { version: 3 }); // evicts the least recent: v2, not the busy v1
    expect(pool.keys()).toEqual(['iris@1', 'iris@3']);
  });

  it('refuses wrong predict option types with a ValidationError, counted against no version', async () => {
    const { registry } = await irisRegistry();
    const monitor = new DeploymentMonitor();
    const router = track(new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }), monitor }));
    await router.predict(SETOSA);
    const wrong: unknown[] = [null, 'user-1', { signal: null }, { signal: {} }, { unitId: 42 }, { force: true }];
    for (const options of wrong) {
      const error = await router.predict(SETOSA, options as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(options)).toBeInstanceOf(ValidationError);
    }
    await expect(router.predict(SETOSA, { signal: null } as never)).rejects.toThrow('signal must be an AbortSignal, got null');
    await expect(router.predict(SETOSA, null as never)).rejects.toThrow('predict options must be an object like { unitId, signal }, got null');
    expect(monitor.stats(1)).toMatchObject({ totalRequests: 1, failures: 0 });
    expect(monitor.versionsSeen).toEqual([1]);
  });

  it('never fails a request nor charges a version when the pool evicts under it (6 versions, maxLoaded 1 and 4)', async () => {
    // Issue 13 defect 1: a canary 1 → 2 at 50 % and explicit requests for v3–v6, all at once.
    const storage = new MemoryStorage();
    const registry = new ModelRegistry({ storage });
    for (let i = 0; i < 6; i++) await registry.register('iris', irisClassifier({ producerVersion: String(i) }));
    for (const maxLoaded of [1, 4]) {
      const monitor = new DeploymentMonitor();
      const canary = new CanaryDeployment({ stable: 1, canary: 2 });
      canary.start(1, 2, 50);
      const pool = new PredictorPool({ registry, maxLoaded });
      const router = track(new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool }));
      const errors: unknown[] = [];
      for (let round = 0; round < 4; round++) {
        await Promise.all(
          Array.from({ length: 250 }, (_, i) =>
            router.predict(SETOSA, i % 5 === 0 ? { version: 3 + (i % 4) } : { unitId: `u${i}` }).catch((e: unknown) => void errors.push(e)),
          ),
        );
      }
      expect(errors, `maxLoaded ${maxLoaded}`).toEqual([]);
      for (const version of [1, 2]) expect(monitor.stats(version).failures, `v${version}`).toBe(0);
      expect(monitor.stats(1).totalRequests + monitor.stats(2).totalRequests).toBe(800);
    }
  });

  it('checks its options, naming the bad one', async () => {
    const { registry } = await irisRegistry();
    const policy = new StaticPolicy({ version: 1 });
    expect(() => new ModelRouter({ registry, model: 'Bad/Name', policy })).toThrow(ValidationError);
    expect(() => new ModelRouter({ registry, model: 'iris', policy: {} as StaticPolicy })).toThrow(/policy must be a routing policy/);
    expect(() => new ModelRouter({ registry, model: 'iris', policy, maxShadowInFlight: -1 })).toThrow(/maxShadowInFlight/);
    expect(() => new ModelRouter({ registry, model: 'iris', policy, loadRetryMs: Number.NaN })).toThrow(/loadRetryMs/);
  });
});

describe('ModelRouter shadow mirroring', () => {
  it('never fails the caller when the shadow throws; counts it under the shadow key and in the policy', async () => {
    const { registry } = await irisRegistry();
    const monitor = new DeploymentMonitor();
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, comparison: 'regression' });
    const pool = functionPool(registry, (version) => {
      if (version === 2) throw new Error('shadow broke');
      return 1;
    });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: shadow, monitor, pool }));
    const failures: unknown[] = [];
    router.on('shadowFailed', (e) => failures.push(e));

    for (let i = 0; i < 10; i++) expect(await router.predict(SETOSA, { unitId: `u${i}` })).toMatchObject({ version: 1, variant: 'primary' });
    await router.drainShadows();
    expect(failures).toHaveLength(10);
    expect(monitor.stats(shadowKey(2))).toMatchObject({ totalRequests: 10, failures: 10 });
    expect(monitor.stats(2).totalRequests).toBe(0);
    expect(monitor.stats(1)).toMatchObject({ totalRequests: 10, failures: 0 });
    expect(shadow.report().shadowErrors).toBe(10);
    expect(router.shadowCounters).toMatchObject({ mirrored: 10, failed: 10, completed: 0, inFlight: 0 });
  });

  it('answers before a 1 s shadow finishes, then compares both outputs through the policy', async () => {
    const { registry } = await irisRegistry();
    const monitor = new DeploymentMonitor();
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, comparison: 'regression' });
    const pool = functionPool(registry, async (version) => {
      if (version === 2) await new Promise((resolve) => setTimeout(resolve, 1000));
      return version;
    });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: shadow, monitor, pool }));

    const started = performance.now();
    const result = await router.predict(SETOSA);
    const callerMs = performance.now() - started;
    expect(result.version).toBe(1);
    expect(callerMs).toBeLessThan(500);
    expect(router.shadowCounters.inFlight).toBe(1);
    await router.drainShadows();
    expect(shadow.report()).toMatchObject({ comparisons: 1, meanAbsoluteDifference: 1 });
    expect(monitor.stats(shadowKey(2)).totalRequests).toBe(1);
    expect(monitor.stats(shadowKey(2)).p50LatencyMs).toBeGreaterThanOrEqual(900);
    expect(monitor.stats(1).p99LatencyMs).toBeLessThan(500);
  });

  it('drops mirrors beyond maxShadowInFlight and counts them, instead of queueing', async () => {
    const { registry } = await irisRegistry();
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const pool = functionPool(registry, async (version) => {
      if (version === 2) await gate;
      return version;
    });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: shadow, pool, maxShadowInFlight: 2 }));
    const dropped: number[] = [];
    router.on('shadowDropped', (e) => dropped.push(e.dropped));

    for (let i = 0; i < 5; i++) await router.predict(SETOSA);
    expect(router.shadowCounters).toMatchObject({ mirrored: 2, dropped: 3, inFlight: 2 });
    expect(dropped).toEqual([1, 2, 3]);
    release();
    await router.drainShadows();
    expect(router.shadowCounters).toMatchObject({ mirrored: 2, completed: 2, dropped: 3, inFlight: 0 });
  });

  it('mirrors only the share the policy asks for', async () => {
    const { registry } = await irisRegistry();
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 0 });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: shadow }));
    for (let i = 0; i < 5; i++) await router.predict(SETOSA, { unitId: `u${i}` });
    expect(router.shadowCounters.mirrored).toBe(0);
  });
});

describe('ModelRouter.versions', () => {
  it('lists what the policy routes to now, with traffic shares and registry records', async () => {
    const { registry } = await irisRegistry();
    const canary = new CanaryDeployment({ stable: 1, canary: 3 });
    const router = track(new ModelRouter({ registry, model: 'iris', policy: canary }));
    expect((await router.versions()).map(({ version, variant, share }) => ({ version, variant, share }))).toEqual([
      { version: 1, variant: 'stable', share: 1 },
    ]);
    canary.start(1, 3, 25);
    const listed = await router.versions();
    expect(listed.map(({ version, variant, share }) => ({ version, variant, share }))).toEqual([
      { version: 1, variant: 'stable', share: 0.75 },
      { version: 3, variant: 'canary', share: 0.25 },
    ]);
    expect(listed[1]?.record).toMatchObject({ name: 'iris', version: 3 });
  });

  it('lists every variant of an A/B test, a shadow and a bandit, each with its share', async () => {
    const { registry } = await irisRegistry();
    const shares = async (policy: ConstructorParameters<typeof ModelRouter>[0]['policy']) =>
      (await track(new ModelRouter({ registry, model: 'iris', policy })).versions()).map(({ version, variant, share, mirrorShare }) =>
        mirrorShare === undefined ? { version, variant, share } : { version, variant, share, mirrorShare },
      );
    const ab = new ABTestController();
    ab.createExperiment('ab', { variants: [{ name: 'a', version: 1, weight: 2 }, { name: 'b', version: 2 }, { name: 'c', version: 3 }], coverage: 0.5 });
    expect(await shares(ab.policy('ab'))).toEqual([
      { version: 1, variant: 'a', share: 0.75 }, // half the units are outside the coverage and get the control
      { version: 2, variant: 'b', share: 0.125 },
      { version: 3, variant: 'c', share: 0.125 },
    ]);
    ab.conclude('ab', 'c');
    expect((await shares(ab)).map((t) => t.share)).toEqual([0, 0, 1]);
    expect(await shares(new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 30 }))).toEqual([
      { version: 1, variant: 'primary', share: 1 },
      { version: 2, variant: 'shadow', share: 0, mirrorShare: 0.3 },
    ]);
    const bandit = new BanditPolicy({ arms: [{ variant: 'x', version: 1 }, { variant: 'y', version: 3 }], algorithm: 'epsilon-greedy', epsilon: 0.2, floor: 0.05 });
    for (let i = 0; i < 50; i++) bandit.reward('y', true);
    // y is best: 0.05 + 0.9 × 0.8; x gets the floor plus ε of the rest.
    const banditShares = await shares(bandit);
    expect(banditShares.map((t) => [t.version, t.variant])).toEqual([[1, 'x'], [3, 'y']]);
    expect(banditShares[0]?.share).toBeCloseTo(0.05 + 0.9 * 0.2, 12);
    expect(banditShares[1]?.share).toBeCloseTo(0.05 + 0.9 * 0.8, 12);
  });
});
