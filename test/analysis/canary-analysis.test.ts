import { describe, expect, it } from 'vitest';
import { CanaryAnalysis } from '../../src/analysis/canary-analysis.js';
import type { AnalysisReport, GateContext } from '../../src/analysis/types.js';
import { CanaryDeployment, DeploymentMonitor, InvalidStateError, ValidationError } from '../../src/index.js';
import { FakeClock, seededRandom, simulate } from '../../src/testing/index.js';
import type { AnalysisOptions } from '../../src/analysis/options.js';

/** A canary of v2 over v1 on a fake clock: 100 requests/s over 1 000 units, analysed every 10 s on a 10 s window. */
function setup(analysis: AnalysisOptions = {}) {
  const clock = new FakeClock(1_700_000_000_000);
  const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
  const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [5, 10, 25, 50, 100], clock: clock.now, random: seededRandom(1) });
  const controller = new CanaryAnalysis(canary, {
    monitor,
    clock: clock.now,
    intervalMs: 10_000,
    minRequests: 30,
    maxErrorRate: 0.02,
    timers: clock,
    ...analysis,
  });
  const events: string[] = [];
  for (const name of ['stepped', 'promoted', 'rolledBack', 'paused'] as const) canary.on(name, () => events.push(name));
  for (const name of ['held', 'needsAttention'] as const) controller.on(name, () => events.push(name));
  canary.start();
  return { clock, monitor, canary, controller, events };
}

const healthy = () => ({ latencyMs: 10, success: true });

function flaky(failureRate: number, seed = 3) {
  const random = seededRandom(seed);
  return (version: number) => ({ latencyMs: 10, success: version === 2 ? random() >= failureRate : true });
}

describe('CanaryAnalysis on a fake clock (simulate)', () => {
  it('promote path: a healthy canary walks every step, then is promoted, one analysis per step', async () => {
    const { clock, monitor, canary, controller, events } = setup();
    const run = await simulate({ policy: canary, monitor, clock, analysis: controller, requests: 20_000, analyzeEveryMs: 10_000, unitIds: 1_000, outcome: healthy });

    expect(canary.state).toMatchObject({ status: 'promoted', stable: 2 });
    expect(run.decisions.map((d) => `${d.outcome}:${d.decision}@${d.percentage}`)).toEqual([
      'successful:advance@5',
      'successful:advance@10',
      'successful:advance@25',
      'successful:advance@50',
      'successful:promote@100',
    ]);
    expect(events).toEqual(['stepped', 'stepped', 'stepped', 'stepped', 'promoted']);
    // The timeline stops with the step in which the rollout settled: 5 analyses × 10 s.
    expect(run.steps).toHaveLength(50);
    expect(run.steps.map((s) => s.percentage).filter((p, i, all) => p !== all[i - 1])).toEqual([5, 10, 25, 50, 100]);
    const report = run.decisions[0] as AnalysisReport;
    expect(report.candidate).toMatchObject({ version: 2, window: 'rolling', errorRate: 0 });
    expect(report.candidate.totalRequests).toBeGreaterThanOrEqual(30);
    expect(report.checks).toEqual([{ metric: 'errorRate', kind: 'absolute', value: 0, threshold: 0.02, passed: true }]);
  });

  it('rollback path: a candidate failing 10 % is rolled back at its first analysis, never above 10 % of traffic', async () => {
    const { clock, monitor, canary, controller, events } = setup();
    const run = await simulate({ policy: canary, monitor, clock, analysis: controller, requests: 20_000, analyzeEveryMs: 10_000, unitIds: 1_000, outcome: flaky(0.1) });

    expect(canary.state.status).toBe('rolledBack');
    expect(run.maxPercentage).toBeLessThanOrEqual(10);
    expect(run.decisions).toHaveLength(1);
    expect(run.decisions[0]).toMatchObject({ outcome: 'failed', decision: 'rollback', percentage: 5 });
    expect(run.decisions[0]?.checks[0]?.value).toBeGreaterThan(0.02);
    expect(events).toEqual(['rolledBack']);
    expect(canary.state.history.at(-1)?.reason).toMatch(/^analysis failed: errorRate 0\.\d+ > 0\.02$/);
    // Once rolled back nobody reaches v2 any more.
    expect(run.steps.at(-1)?.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(canary.route({ unitId: 'unit-1' }).version).toBe(1);
  });

  it('failureLimit: tolerates that many failed runs in a step before rolling back', async () => {
    const { clock, monitor, canary, controller } = setup({ failureLimit: 2 });
    const run = await simulate({ policy: canary, monitor, clock, analysis: controller, requests: 20_000, analyzeEveryMs: 10_000, unitIds: 1_000, outcome: flaky(0.5) });
    expect(run.decisions.map((d) => d.decision)).toEqual(['hold', 'hold', 'rollback']);
    expect(run.decisions.map((d) => d.counters.failures)).toEqual([1, 2, 3]);
    expect(canary.state.status).toBe('rolledBack');
  });

  it('inconclusive path: too little canary traffic pauses the rollout after inconclusiveLimit and asks for attention', async () => {
    const { clock, monitor, canary, controller, events } = setup({ minRequests: 5_000 });
    const attention: AnalysisReport[] = [];
    controller.on('needsAttention', (r) => attention.push(r));
    const run = await simulate({ policy: canary, monitor, clock, analysis: controller, requests: 6_000, analyzeEveryMs: 10_000, unitIds: 1_000, outcome: healthy });

    expect(run.decisions.map((d) => `${d.outcome}:${d.decision}`)).toEqual([
      'inconclusive:hold',
      'inconclusive:hold',
      'inconclusive:pause',
    ]);
    expect(canary.state).toMatchObject({ status: 'paused', percentage: 5 });
    expect(events).toEqual(['held', 'held', 'paused', 'needsAttention']);
    expect(attention[0]?.reason).toMatch(/too little data: \d+ candidate requests, need 5000/);
    // A human resumes: the counters start again, so the next inconclusive run only holds.
    canary.resume('looked at it');
    expect(controller.counters.inconclusives).toBe(0);
    expect((await controller.analyze()).decision).toBe('hold');
  });

  it('gates refusing: beforePromote holds the canary at 100 % and beforeStep caps the ramp', async () => {
    const refusals: GateContext[] = [];
    const promote = setup({
      gates: {
        beforePromote: async (ctx) => {
          refusals.push(ctx);
          return false;
        },
      },
    });
    const run = await simulate({ policy: promote.canary, monitor: promote.monitor, clock: promote.clock, analysis: promote.controller, requests: 8_000, analyzeEveryMs: 10_000, unitIds: 1_000, outcome: healthy });
    expect(promote.canary.state).toMatchObject({ status: 'progressing', percentage: 100 });
    expect(run.decisions.slice(4).every((d) => d.decision === 'hold' && /beforePromote gate refused/.test(d.reason))).toBe(true);
    expect(refusals.length).toBe(run.decisions.length - 4);
    expect(refusals[0]).toMatchObject({ action: 'promote', stable: 1, candidate: 2, percentage: 100, nextPercentage: 100 });

    const step = setup({ gates: { beforeStep: (ctx) => ctx.nextPercentage <= 25 } });
    const capped = await simulate({ policy: step.canary, monitor: step.monitor, clock: step.clock, analysis: step.controller, requests: 8_000, analyzeEveryMs: 10_000, unitIds: 1_000, outcome: healthy });
    expect(step.canary.state).toMatchObject({ status: 'progressing', percentage: 25 });
    expect(capped.maxPercentage).toBe(25);
    expect(capped.decisions.at(-1)?.reason).toMatch(/beforeStep gate refused/);
  });

  it('a gate that throws is an error run; past consecutiveErrorLimit it rolls back', async () => {
    const { clock, monitor, canary, controller } = setup({
      consecutiveErrorLimit: 1,
      gates: {
        beforeStep: () => {
          throw new Error('webhook unreachable');
        },
      },
    });
    const run = await simulate({ policy: canary, monitor, clock, analysis: controller, requests: 8_000, analyzeEveryMs: 10_000, unitIds: 1_000, outcome: healthy });
    expect(run.decisions.map((d) => `${d.outcome}:${d.decision}`)).toEqual(['error:hold', 'error:rollback']);
    expect(run.decisions[0]?.reason).toBe('could not be measured: webhook unreachable');
    expect(run.decisions[0]?.error).toBeInstanceOf(Error);
    expect(canary.state.status).toBe('rolledBack');
  });

  it('relative limits judge the canary against the stable version’s own live numbers', async () => {
    const { clock, monitor, canary, controller } = setup({ maxErrorRate: undefined, relative: { maxLatencyRatio: 1.5 } });
    const run = await simulate({
      policy: canary, monitor, clock, analysis: controller, requests: 20_000, analyzeEveryMs: 10_000, unitIds: 1_000,
      outcome: (version) => ({ latencyMs: version === 2 ? 20 : 10, success: true }),
    });
    expect(canary.state.status).toBe('rolledBack');
    expect(run.decisions[0]).toMatchObject({ outcome: 'failed', decision: 'rollback', baseline: { version: 1, window: 'rolling' } });
    expect(run.decisions[0]?.checks).toEqual([
      { metric: 'p99LatencyMs', kind: 'relative', value: expect.closeTo(20, 0), threshold: expect.closeTo(15, 0), baseline: expect.closeTo(10, 0), passed: false },
    ]);
  });

  it('consecutiveSuccessLimit: needs that many successful runs in a row per step', async () => {
    const { clock, monitor, canary, controller } = setup({ consecutiveSuccessLimit: 2 });
    const run = await simulate({ policy: canary, monitor, clock, analysis: controller, requests: 20_000, analyzeEveryMs: 10_000, unitIds: 1_000, outcome: healthy });
    expect(run.decisions.map((d) => d.decision)).toEqual(['hold', 'advance', 'hold', 'advance', 'hold', 'advance', 'hold', 'advance', 'hold', 'promote']);
  });

  it('refuses to analyse a canary that is not progressing, and checks its options', async () => {
    const { canary, controller, monitor } = setup();
    canary.pause();
    await expect(controller.analyze()).rejects.toBeInstanceOf(InvalidStateError);
    expect(() => new CanaryAnalysis(canary, { monitor, maxErrorRate: 2 })).toThrow(/analysis\.maxErrorRate must be/);
    expect(() => new CanaryAnalysis(canary, { monitor: {} as DeploymentMonitor, maxErrorRate: 0.1 })).toThrow(ValidationError);
  });
});

describe('CanaryAnalysis on real timers', () => {
  it('start() drives the rollout on a short interval until it settles, then stops itself', async () => {
    const monitor = new DeploymentMonitor();
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [50, 100] });
    const controller = new CanaryAnalysis(canary, { monitor, intervalMs: 15, minRequests: 20, maxErrorRate: 0.05 });
    for (let i = 0; i < 40; i++) {
      monitor.record(1, 3);
      monitor.record(2, 3);
    }
    canary.start();
    const promoted = new Promise((resolve) => canary.once('promoted', resolve));
    const started = Date.now();
    controller.start();
    expect(controller.running).toBe(true);
    await promoted;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(canary.state.status).toBe('promoted');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(controller.running).toBe(false);
  });
});
