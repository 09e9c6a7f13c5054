import { describe, expect, it } from 'vitest';
import type { AnalysisReport } from '../../src/analysis/types.js';
import type { ABTestAnalysisReport } from '../../src/analysis/ab-test-analysis.js';
import {
  ABTestController,
  BlueGreenSwitch,
  CanaryDeployment,
  DeploymentMonitor,
  InvalidStateError,
  ValidationError,
  type ConcludedEvent,
} from '../../src/index.js';
import { FakeClock, seededRandom, simulate } from '../../src/testing/index.js';

describe('CanaryDeployment analysis options', () => {
  function canary(analysis = {}) {
    const clock = new FakeClock(5_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
    const policy = new CanaryDeployment({
      stable: 1, canary: 2, steps: [10, 50, 100], clock: clock.now, monitor,
      analysis: { intervalMs: 10_000, minRequests: 50, maxErrorRate: 0.02, timers: clock, ...analysis },
    });
    const events: string[] = [];
    for (const name of ['analysis', 'held', 'needsAttention', 'stepped', 'promoted', 'rolledBack', 'paused'] as const) {
      policy.on(name, () => events.push(name));
    }
    policy.start();
    return { clock, monitor, policy, events };
  }

  it('startAnalysis() promotes a healthy canary on the fake clock’s timers; every run is an event on the canary', async () => {
    const { clock, monitor, policy, events } = canary();
    const reports: AnalysisReport[] = [];
    policy.on('analysis', (r) => reports.push(r));
    policy.startAnalysis();
    expect(policy.analysis?.running).toBe(true);
    await simulate({ policy, monitor, clock, requests: 10_000, unitIds: 1_000, outcome: () => ({ latencyMs: 2, success: true }) });
    expect(policy.state).toMatchObject({ status: 'promoted', stable: 2 });
    expect(reports.map((r) => r.decision)).toEqual(['advance', 'advance', 'promote']);
    expect(events).toEqual(['analysis', 'stepped', 'analysis', 'stepped', 'analysis', 'promoted']);
    expect(policy.analysis?.running).toBe(false);
  });

  it('analyze() runs one analysis; held and needsAttention reach the canary’s listeners', async () => {
    const { policy, events } = canary({ minRequests: 1_000 });
    for (let i = 0; i < 3; i++) await policy.analyze();
    expect(events).toEqual(['analysis', 'held', 'analysis', 'held', 'analysis', 'paused', 'needsAttention']);
    await expect(policy.analyze()).rejects.toBeInstanceOf(InvalidStateError);
  });

  it('stopAnalysis() stops the loop', async () => {
    const { clock, policy } = canary();
    policy.startAnalysis();
    policy.stopAnalysis();
    expect(policy.analysis?.running).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('needs a monitor with analysis, and analysis for analyze()', async () => {
    expect(() => new CanaryDeployment({ stable: 1, canary: 2, analysis: { maxErrorRate: 0.1 } })).toThrow(/monitor must be the DeploymentMonitor/);
    expect(() => new CanaryDeployment({ stable: 1, canary: 2, monitor: new DeploymentMonitor(), analysis: { maxErrorRate: 7 } })).toThrow(ValidationError);
    const plain = new CanaryDeployment({ stable: 1, canary: 2 });
    await expect(plain.analyze()).rejects.toThrow(/has no automated analysis/);
    expect(() => plain.startAnalysis()).toThrow(InvalidStateError);
    expect(plain.analysis).toBeUndefined();
  });
});

describe('BlueGreenSwitch analysis options', () => {
  it('pre-promotion switches on healthy preview traffic; post-promotion rolls a failing version back', async () => {
    const clock = new FakeClock(5_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
    const analysis = { intervalMs: 10_000, minRequests: 50, maxErrorRate: 0.02, timers: clock };
    const bg = new BlueGreenSwitch({ blue: 1, clock: clock.now, monitor, prePromotionAnalysis: analysis, postPromotionAnalysis: analysis });
    const events: string[] = [];
    for (const name of ['switched', 'rolledBack', 'promotionAborted', 'promotionVerified', 'needsAttention'] as const) bg.on(name, () => events.push(name));
    const reports: AnalysisReport[] = [];
    bg.on('analysis', (r) => reports.push(r));
    bg.deploy(2);
    bg.startAnalysis();
    const random = seededRandom(3);
    // v2 is healthy on preview traffic, then fails 20 % once it serves everyone.
    await simulate({
      policy: bg, monitor, clock, requests: 6_000, until: () => false,
      context: (i) => ({ unitId: `u${i % 500}`, preview: i % 4 === 0 }),
      outcome: (version, _input, assignment) => ({ latencyMs: 3, success: version !== 2 || assignment.reason === 'preview' || random() >= 0.2 }),
    });
    expect(reports.map((r) => `${r.phase}:${r.decision}`)).toEqual(['prePromotion:promote', 'postPromotion:rollback']);
    expect(events).toEqual(['switched', 'rolledBack']);
    expect(bg.state.activeVersion).toBe(1);
    await expect(bg.analyze()).rejects.toThrow(/nothing is pending/);
    bg.stopAnalysis();
    expect(clock.pendingTimers).toBe(0);
  });

  it('needs a monitor with either analysis, and an analysis for analyze()', async () => {
    expect(() => new BlueGreenSwitch({ blue: 1, postPromotionAnalysis: { maxErrorRate: 0.1 } })).toThrow(/monitor must be the DeploymentMonitor .* postPromotionAnalysis/);
    const plain = new BlueGreenSwitch({ blue: 1 });
    await expect(plain.analyze()).rejects.toThrow(/no prePromotionAnalysis or postPromotionAnalysis/);
    expect(() => plain.startAnalysis()).toThrow(InvalidStateError);
  });
});

describe('ABTestController autoConclude and guardrails', () => {
  function controller(options: { failures?: number; conversion?: number } = {}) {
    const clock = new FakeClock(5_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
    const ab = new ABTestController({ clock: clock.now, monitor, random: seededRandom(8) });
    ab.createExperiment('exp', {
      modelA: 1, modelB: 2, metric: { kind: 'binary' }, sequential: true, analyzeEvery: 200,
      autoConclude: true, guardrails: { maxErrorRate: 0.02, minRequests: 100 },
    });
    const concluded: ConcludedEvent[] = [];
    ab.on('concluded', (e) => concluded.push(e));
    const breaches: ABTestAnalysisReport[] = [];
    ab.on('guardrailBreached', (r) => breaches.push(r));
    const random = seededRandom(21);
    const traffic = (requests: number) =>
      simulate({
        policy: ab.policy('exp'), monitor, clock, requests, unitIds: 20_000,
        until: () => ab.results('exp').conclusion !== null,
        outcome: (version, _input, assignment) => {
          const success = version !== 2 || random() >= (options.failures ?? 0);
          if (success) ab.logResult('exp', assignment.variant, random() < (version === 2 ? (options.conversion ?? 0.1) : 0.1));
          return { latencyMs: 4, success };
        },
      });
    return { clock, monitor, ab, concluded, breaches, traffic };
  }

  it('concludes on its own (analyzeEvery) once the sequential test is significant', async () => {
    const { concluded, traffic, ab } = controller({ conversion: 0.17 });
    await traffic(40_000);
    expect(concluded).toHaveLength(1);
    expect(concluded[0]).toMatchObject({ winner: 'b', decision: 'significant' });
    expect(ab.results('exp').conclusion?.winner).toBe('b');
  });

  it('a guardrail stops a breaching challenger, with startAnalysis() checking it on the timers', async () => {
    const { clock, concluded, breaches, traffic, ab } = controller({ failures: 0.1, conversion: 0.3 });
    ab.startAnalysis('exp', { intervalMs: 5_000, timers: clock });
    await traffic(40_000);
    expect(concluded[0]).toMatchObject({ winner: 'a', decision: 'given' });
    expect(breaches[0]?.decision).toBe('stopVariant');
    expect(ab.policy('exp').route({ unitId: 'anyone' }).version).toBe(1);
  });

  it('checks the automation options when the experiment is created, and creates nothing on error', () => {
    const ab = new ABTestController();
    expect(() => ab.createExperiment('x', { modelA: 1, modelB: 2, autoConclude: true })).toThrow(/autoConclude needs experiment 'x' to be sequential/);
    expect(ab.experimentNames).toEqual([]);
    expect(() => ab.createExperiment('y', { modelA: 1, modelB: 2, guardrails: { maxErrorRate: 0.01 } })).toThrow(/monitor must be a DeploymentMonitor/);
    ab.createExperiment('z', { modelA: 1, modelB: 2 });
    expect(() => ab.startAnalysis('z')).toThrow(/nothing to automate/);
  });
});
