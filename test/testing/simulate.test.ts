import { describe, expect, it } from 'vitest';
import { CanaryAnalysis } from '../../src/analysis/canary-analysis.js';
import {
  CanaryDeployment,
  DeploymentMonitor,
  FunctionPredictor,
  MemoryStorage,
  ModelRegistry,
  OnnxPredictor,
  PredictorPool,
  ShadowDeployment,
  StaticPolicy,
  ValidationError,
  type Predictor,
} from '../../src/index.js';
import { ModelRouter } from '../../src/router/model-router.js';
import { FakeClock, seededRandom, simulate } from '../../src/testing/index.js';
import { irisClassifier } from '../fixtures/onnx-models.js';

const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];

describe('simulate() in router mode (real predictions)', () => {
  it('drives real ONNX predictions through a router; a candidate whose predictor fails is rolled back', async () => {
    const registry = new ModelRegistry({ storage: new MemoryStorage() });
    await registry.register('iris', irisClassifier());
    await registry.register('iris', irisClassifier({ producerVersion: '2' }));
    const random = seededRandom(4);
    // v2 is the real model too, wrapped so 20 % of its calls fail.
    const pool = new PredictorPool({
      registry,
      create: async (bytes, record) => {
        const onnx = await OnnxPredictor.create(bytes);
        if (record.version !== 2) return onnx;
        return new FunctionPredictor(async (input) => {
          if (random() < 0.2) throw new Error('v2 crashed');
          return onnx.predict(input);
        }) as Predictor;
      },
    });
    const clock = new FakeClock(1_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 5_000, buckets: 5 });
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [10, 50, 100], clock: clock.now });
    const analysis = new CanaryAnalysis(canary, { monitor, clock: clock.now, timers: clock, intervalMs: 5_000, minRequests: 40, maxErrorRate: 0.05 });
    const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool });
    canary.start();
    analysis.start();

    const run = await simulate({ router, clock, analysis, requests: 5_000, requestsPerStep: 200, stepMs: 1_000, unitIds: 2_000, input: (i) => ROWS[i % 3] as number[] });

    expect(canary.state.status).toBe('rolledBack');
    expect(run.maxPercentage).toBe(10);
    expect(run.decisions).toHaveLength(1);
    expect(run.decisions[0]).toMatchObject({ outcome: 'failed', decision: 'rollback', percentage: 10 });
    const first = run.steps[0];
    const v2 = first?.versions.find((v) => v.version === 2);
    expect(v2?.requests).toBeGreaterThan(5);
    expect(v2?.failures).toBeGreaterThan(0);
    expect(first?.versions.find((v) => v.version === 1)?.failures).toBe(0);
    // p99 is the router's real measured latency, not the fake clock's.
    expect(first?.versions.find((v) => v.version === 1)?.p99LatencyMs).toBeGreaterThan(0);
    await pool.dispose();
  });
});

describe('simulate() in policy mode', () => {
  it('reports per step the set percentage, per-version shares, error rates and exact p99', async () => {
    const clock = new FakeClock();
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const canary = new CanaryDeployment({ stable: 1, canary: 2, clock: clock.now });
    canary.start(1, 2, 20);
    const run = await simulate({
      policy: canary, monitor, clock, requests: 1_000, requestsPerStep: 500, stepMs: 5_000, unitIds: 1_000,
      outcome: (version, _input, assignment) => ({ latencyMs: version === 2 ? 30 : 10, success: assignment.variant === 'stable' }),
    });
    expect(run.requests).toBe(1_000);
    expect(run.steps.map((s) => [s.index, s.startMs, s.endMs, s.percentage, s.status, s.requests])).toEqual([
      [0, 0, 5_000, 20, 'progressing', 500],
      [1, 5_000, 10_000, 20, 'progressing', 500],
    ]);
    const [stable, candidate] = run.steps[0]?.versions ?? [];
    expect(stable).toMatchObject({ version: 1, failures: 0, errorRate: 0, p99LatencyMs: 10 });
    expect(candidate).toMatchObject({ version: 2, errorRate: 1, p99LatencyMs: 30 });
    expect((stable?.share ?? 0) + (candidate?.share ?? 0)).toBeCloseTo(1, 10);
    expect(candidate?.share).toBeGreaterThan(0.15);
    expect(candidate?.share).toBeLessThan(0.25);
    // The same outcomes went into the monitor the policy's analysis reads.
    expect(monitor.stats(2, { window: 'lifetime' }).failures).toBe((candidate?.requests ?? 0) + (run.steps[1]?.versions[1]?.requests ?? 0));
  });

  it('mirrors shadow requests under the shadow key, and uses the measured share for policies without a percentage', async () => {
    const clock = new FakeClock();
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const shadow = new ShadowDeployment({ primary: 1, shadow: 3, mirrorPercent: 50 });
    const run = await simulate({ policy: shadow, monitor, clock, requests: 400, unitIds: 400, outcome: () => ({ latencyMs: 1, success: true }) });
    const versions = run.steps[0]?.versions ?? [];
    expect(versions.map((v) => v.version)).toEqual([1, 'shadow:3']);
    expect(versions[1]?.share).toBeGreaterThan(0.35);
    expect(monitor.stats('shadow:3').totalRequests).toBe(run.steps.reduce((n, s) => n + (s.versions[1]?.requests ?? 0), 0));
    expect(run.steps.every((s) => s.percentage === 0)).toBe(true);

    const pinned = await simulate({ policy: new StaticPolicy({ version: 4 }), monitor, clock, requests: 10, outcome: () => ({ latencyMs: 1, success: true }) });
    expect(pinned.maxPercentage).toBe(0);
  });

  it('checks its options, naming the bad one', async () => {
    const clock = new FakeClock();
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const policy = new StaticPolicy({ version: 1 });
    const outcome = () => ({ latencyMs: 1, success: true });
    await expect(simulate({ policy, monitor, clock, requests: 0, outcome })).rejects.toThrow(/requests must be an integer >= 1/);
    await expect(simulate({ policy, monitor, clock: { now: () => 0 } as unknown as FakeClock, requests: 1, outcome })).rejects.toThrow(/clock must be the FakeClock/);
    await expect(simulate({ policy, clock, requests: 1, outcome })).rejects.toThrow(/monitor must be the DeploymentMonitor/);
    await expect(simulate({ policy, monitor, clock, requests: 1 })).rejects.toThrow(/outcome must be a function/);
    await expect(simulate({ monitor, clock, requests: 1, outcome })).rejects.toThrow(/exactly one of policy or router, got neither/);
    await expect(simulate({ policy, monitor, clock, requests: 1, outcome, analyzeEveryMs: 10 })).rejects.toThrow(/analyzeEveryMs needs something to analyze/);
    await expect(simulate({ policy, monitor, clock, requests: 1, outcome: () => ({ latencyMs: -1, success: true }) })).rejects.toThrow(ValidationError);
  });
});
