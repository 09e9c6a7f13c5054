import { describe, expect, it } from 'vitest';
import { CanaryAnalysis } from '../../src/analysis/canary-analysis.js';
import {
  ABTestController,
  CanaryDeployment,
  DeploymentMonitor,
  FunctionPredictor,
  MemoryStorage,
  ModelRegistry,
  OnnxPredictor,
  PredictorPool,
  ShadowDeployment,
  ValidationError,
  isRoutedError,
  type Assignment,
  type Predictor,
} from '../../src/index.js';
import { ModelRouter } from '../../src/router/model-router.js';
import { FakeClock, seededRandom, simulate, type SimulatedResult, type Simulation } from '../../src/testing/index.js';
import { irisClassifier } from '../fixtures/onnx-models.js';

const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];

/** Per step and version, what the hook saw: [requests, failures]. */
function hookTallies(results: readonly SimulatedResult[], perStep: number): Array<Map<number, [number, number]>> {
  const steps: Array<Map<number, [number, number]>> = [];
  for (const r of results) {
    const step = Math.floor(r.index / perStep);
    const tally = (steps[step] ??= new Map());
    const entry = tally.get(r.version) ?? [0, 0];
    tally.set(r.version, [entry[0] + 1, entry[1] + (r.success ? 0 : 1)]);
  }
  return steps;
}

function timelineTallies(run: Simulation): Array<Map<number, [number, number]>> {
  return run.steps.map((s) => new Map(s.versions.filter((v) => typeof v.version === 'number').map((v) => [v.version as number, [v.requests, v.failures]])));
}

async function irisRouterSetup(failShare: number) {
  const registry = new ModelRegistry({ storage: new MemoryStorage() });
  await registry.register('iris', irisClassifier());
  await registry.register('iris', irisClassifier({ producerVersion: '2' }));
  const random = seededRandom(11);
  // v2 is the real model too, wrapped so a share of its calls fail.
  const pool = new PredictorPool({
    registry,
    create: async (bytes, record) => {
      const onnx = await OnnxPredictor.create(bytes);
      if (record.version !== 2 || failShare === 0) return onnx;
      return new FunctionPredictor(async (input) => {
        if (random() < failShare) throw new Error('v2 crashed');
        return onnx.predict(input);
      }) as Predictor;
    },
  });
  const clock = new FakeClock(1_000_000);
  const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 5_000, buckets: 5 });
  return { registry, pool, clock, monitor };
}

describe('simulate() onResult in policy mode', () => {
  it('sees every request exactly once, in order, with the served version and variant and the outcome it had', async () => {
    const clock = new FakeClock();
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const canary = new CanaryDeployment({ stable: 1, canary: 2, clock: clock.now });
    canary.start(1, 2, 30);
    const random = seededRandom(3);
    const asked: Array<{ assignment: Assignment; latencyMs: number; success: boolean }> = [];
    const seen: SimulatedResult[] = [];
    const run = await simulate({
      policy: canary, monitor, clock, requests: 450, requestsPerStep: 200, stepMs: 2_000, unitIds: 97,
      input: (i) => [i, 0, 0, 0],
      outcome: (_version, _input, assignment) => {
        const answer = { latencyMs: Math.round(random() * 50), success: random() >= 0.1 };
        asked.push({ assignment, ...answer });
        return answer;
      },
      onResult: (r) => {
        // Called before the clock moves on: the request's time is its slot in the step.
        expect(clock.now()).toBe(r.index * 10);
        seen.push(r);
      },
    });

    expect(run.requests).toBe(450);
    expect(seen.map((r) => r.index)).toEqual(Array.from({ length: 450 }, (_, i) => i));
    seen.forEach((r, i) => {
      const { assignment, latencyMs, success } = asked[i]!;
      expect(r).toEqual({
        index: i, context: { unitId: `unit-${i % 97}` }, input: [i, 0, 0, 0],
        version: assignment.version, variant: assignment.variant, success, latencyMs, output: undefined,
      });
    });
    expect(new Set(seen.map((r) => `${r.version}/${r.variant}`))).toEqual(new Set(['1/stable', '2/canary']));
    // What the hook saw adds up to the timeline, step by step, failures included.
    expect(hookTallies(seen, 200)).toEqual(timelineTallies(run));
    expect(seen.filter((r) => !r.success).length).toBeGreaterThan(0);
  });

  it('reports a mirrored request once, under the version that answered it, never the shadow', async () => {
    const clock = new FakeClock();
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const shadow = new ShadowDeployment({ primary: 1, shadow: 3, mirrorPercent: 100 });
    const seen: SimulatedResult[] = [];
    await simulate({ policy: shadow, monitor, clock, requests: 50, unitIds: 50, outcome: (v) => ({ latencyMs: v, success: true }), onResult: (r) => void seen.push(r) });
    expect(monitor.stats('shadow:3', { window: 'lifetime' }).totalRequests).toBe(50);
    expect(seen).toHaveLength(50);
    expect(seen.every((r) => r.version === 1 && r.latencyMs === 1)).toBe(true);
  });

  it('a throwing hook stops the run and rejects with its own error; the request it saw stays recorded', async () => {
    const clock = new FakeClock();
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const canary = new CanaryDeployment({ stable: 1, canary: 2, clock: clock.now });
    const analysis = new CanaryAnalysis(canary, { monitor, clock: clock.now, intervalMs: 1_000, minRequests: 10, maxErrorRate: 0.5 });
    canary.start();
    let outcomes = 0;
    const boom = new Error('metric sink down');
    const run = simulate({
      policy: canary, analysis, monitor, clock, requests: 1_000, analyzeEveryMs: 1_000,
      outcome: () => {
        outcomes++;
        return { latencyMs: 1, success: true };
      },
      onResult: (r) => {
        if (r.index === 5) throw boom;
      },
    });
    await expect(run).rejects.toBe(boom);
    expect(outcomes).toBe(6);
    expect(monitor.stats(1, { window: 'lifetime' }).totalRequests + monitor.stats(2, { window: 'lifetime' }).totalRequests).toBe(6);
    // Its analysis timer is gone with it.
    expect(clock.pendingTimers).toBe(0);

    const rejected = new Error('async sink down');
    await expect(
      simulate({ policy: canary, monitor, clock, requests: 10, outcome: () => ({ latencyMs: 1, success: true }), onResult: () => Promise.reject(rejected) }),
    ).rejects.toBe(rejected);
  });

  it('awaits an async hook before sending the next request', async () => {
    const clock = new FakeClock();
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const canary = new CanaryDeployment({ stable: 1, canary: 2, clock: clock.now });
    canary.start(1, 2, 50);
    const order: string[] = [];
    await simulate({
      policy: canary, monitor, clock, requests: 3,
      outcome: () => {
        order.push('send');
        return { latencyMs: 1, success: true };
      },
      onResult: async (r) => {
        await new Promise((resolve) => setImmediate(resolve));
        order.push(`logged ${r.index}`);
      },
    });
    expect(order).toEqual(['send', 'logged 0', 'send', 'logged 1', 'send', 'logged 2']);
  });

  it('checks onResult up front, naming it, and sends nothing when it is wrong', async () => {
    const clock = new FakeClock();
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const canary = new CanaryDeployment({ stable: 1, canary: 2, clock: clock.now });
    canary.start();
    const outcome = () => ({ latencyMs: 1, success: true });
    const run = simulate({ policy: canary, monitor, clock, requests: 10, outcome, onResult: 'log' as unknown as () => void });
    await expect(run).rejects.toThrow(ValidationError);
    await expect(run).rejects.toThrow('onResult must be a function, got string "log"');
    expect(monitor.stats(1, { window: 'lifetime' }).totalRequests).toBe(0);
    expect(clock.now()).toBe(0);
  });
});

describe('simulate() onResult in router mode (real predictions)', () => {
  it('sees every request once, in order, with its real output, or its routed error and latency 0 when it failed', async () => {
    const { registry, pool, clock, monitor } = await irisRouterSetup(0.3);
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [40, 100], clock: clock.now });
    const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool });
    canary.start();
    const onnx = await OnnxPredictor.create(irisClassifier());
    const expectedLabels = await Promise.all(ROWS.map(async (row) => Number((await onnx.predict(row))['label']?.data[0])));
    await onnx.dispose();

    const seen: SimulatedResult[] = [];
    const run = await simulate({ router, clock, requests: 300, requestsPerStep: 100, unitIds: 150, input: (i) => ROWS[i % 3] as number[], onResult: (r) => void seen.push(r) });

    expect(seen.map((r) => r.index)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    for (const r of seen) {
      expect(r.context).toEqual({ unitId: `unit-${r.index % 150}` });
      expect(r.input).toBe(ROWS[r.index % 3]);
      expect([1, 2]).toContain(r.version);
      expect(r.variant).toBe(r.version === 1 ? 'stable' : 'canary');
      if (r.success) {
        expect(Number(r.output?.['label']?.data[0])).toBe(expectedLabels[r.index % 3]);
        expect(r.latencyMs).toBeGreaterThan(0);
        expect(r.error).toBeUndefined();
      } else {
        expect(r.version).toBe(2);
        expect(r.output).toBeUndefined();
        expect(r.latencyMs).toBe(0);
        expect(isRoutedError(r.error) && r.error.version === 2 && r.error.variant === 'canary').toBe(true);
      }
    }
    expect(seen.some((r) => !r.success)).toBe(true);
    expect(hookTallies(seen, 100)).toEqual(timelineTallies(run));
    await pool.dispose();
  });

  it('logs an A/B metric per request: the experiment counts exactly what the hook was given, per variant', async () => {
    const { registry, pool, clock, monitor } = await irisRouterSetup(0);
    const ab = new ABTestController({ clock: clock.now, random: seededRandom(5) });
    ab.createExperiment('iris', { modelA: 1, modelB: 2, metric: { kind: 'binary' } });
    const router = new ModelRouter({ registry, model: 'iris', policy: ab.policy('iris'), monitor, pool });
    const perVariant = new Map<string, { count: number; correct: number }>();
    await simulate({
      router, clock, requests: 200, requestsPerStep: 50, unitIds: 200, input: (i) => ROWS[i % 3] as number[],
      onResult: (r) => {
        // ROWS[0] is a setosa (class 0): "correct" is a real property of each answer.
        const correct = r.index % 3 !== 0 || Number(r.output?.['label']?.data[0]) === 0;
        ab.logResult('iris', r.variant, correct);
        const entry = perVariant.get(r.variant) ?? { count: 0, correct: 0 };
        perVariant.set(r.variant, { count: entry.count + 1, correct: entry.correct + (correct ? 1 : 0) });
      },
    });
    const results = ab.results('iris');
    expect([...perVariant.keys()].sort()).toEqual(['a', 'b']);
    for (const v of results.variants) {
      const logged = perVariant.get(v.name)!;
      expect(v.count).toBe(logged.count);
      expect(v.mean).toBeCloseTo(logged.correct / logged.count, 12);
    }
    expect(results.variants.reduce((n, v) => n + v.count, 0)).toBe(200);
    await pool.dispose();
  });

  it("a throwing hook rejects with its own error, not as the request's failure, and the analysis timer is cleared", async () => {
    const { registry, pool, clock, monitor } = await irisRouterSetup(0);
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [50, 100], clock: clock.now });
    const analysis = new CanaryAnalysis(canary, { monitor, clock: clock.now, intervalMs: 1_000, minRequests: 10, maxErrorRate: 0.05 });
    const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool });
    canary.start();
    const boom = new Error('hook bug');
    let calls = 0;
    const run = simulate({
      router, clock, analysis, analyzeEveryMs: 1_000, requests: 100, unitIds: 100, input: (i) => ROWS[i % 3] as number[],
      onResult: () => {
        calls++;
        if (calls === 3) throw boom;
      },
    });
    await expect(run).rejects.toBe(boom);
    expect(calls).toBe(3);
    const recorded = [1, 2].map((v) => monitor.stats(v, { window: 'lifetime' }));
    expect(recorded.reduce((n, s) => n + s.totalRequests, 0)).toBe(3);
    expect(recorded.reduce((n, s) => n + s.failures, 0)).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    await pool.dispose();
  });
});
