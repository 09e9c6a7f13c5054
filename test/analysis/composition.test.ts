import { describe, expect, it } from 'vitest';
import type { AnalysisReport } from '../../src/analysis/types.js';
import type { ABTestAnalysisReport } from '../../src/analysis/ab-test-analysis.js';
import {
  ABTestAnalysis,
  ABTestController,
  BlueGreenSwitch,
  CanaryAnalysis,
  CanaryDeployment,
  DeploymentMonitor,
  InvalidStateError,
  ValidationError,
  blueGreenAnalysis,
  canaryAnalysis,
  type ConcludedEvent,
  type CountersResetEvent,
} from '../../src/index.js';
import { FakeClock, seededRandom, simulate } from '../../src/testing/index.js';

describe('canaryAnalysis(): an analysis composed around a pure canary', () => {
  function canary(options = {}) {
    const clock = new FakeClock(5_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
    const policy = new CanaryDeployment({ stable: 1, canary: 2, steps: [10, 50, 100], clock: clock.now });
    const analysis = canaryAnalysis(policy, {
      monitor, clock: clock.now, intervalMs: 10_000, minRequests: 50, maxErrorRate: 0.02, timers: clock, ...options,
    });
    const events: string[] = [];
    for (const name of ['analysis', 'held', 'needsAttention'] as const) analysis.on(name, () => events.push(name));
    for (const name of ['stepped', 'promoted', 'rolledBack', 'paused'] as const) policy.on(name, () => events.push(name));
    policy.start();
    return { clock, monitor, policy, analysis, events };
  }

  it('start() promotes a healthy canary on the fake clock’s timers; every run is an event of the analysis', async () => {
    const { clock, monitor, policy, analysis, events } = canary();
    const reports: AnalysisReport[] = [];
    analysis.on('analysis', (r) => reports.push(r));
    analysis.start();
    expect(analysis.running).toBe(true);
    await simulate({ policy, analysis, monitor, clock, requests: 10_000, unitIds: 1_000, outcome: () => ({ latencyMs: 2, success: true }) });
    expect(policy.state).toMatchObject({ status: 'promoted', stable: 2 });
    expect(reports.map((r) => r.decision)).toEqual(['advance', 'advance', 'promote']);
    expect(events).toEqual(['analysis', 'stepped', 'analysis', 'stepped', 'analysis', 'promoted']);
    expect(analysis.running).toBe(false);
    expect(analysis.settled).toBe(true);
  });

  it('analyze() runs one analysis; held and needsAttention reach the analysis’s listeners', async () => {
    const { analysis, events } = canary({ minRequests: 1_000 });
    for (let i = 0; i < 3; i++) await analysis.analyze();
    expect(events).toEqual(['analysis', 'held', 'analysis', 'held', 'analysis', 'paused', 'needsAttention']);
    await expect(analysis.analyze()).rejects.toBeInstanceOf(InvalidStateError);
  });

  it('stop() stops the loop', async () => {
    const { clock, analysis } = canary();
    analysis.start();
    analysis.stop();
    expect(analysis.running).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('needs a monitor and valid options, and is the same as new CanaryAnalysis()', () => {
    const policy = new CanaryDeployment({ stable: 1, canary: 2 });
    expect(() => canaryAnalysis(policy, { maxErrorRate: 0.1 } as never)).toThrow(/monitor must be a DeploymentMonitor/);
    expect(() => canaryAnalysis(policy, { monitor: new DeploymentMonitor(), maxErrorRate: 7 })).toThrow(ValidationError);
    expect(canaryAnalysis(policy, { monitor: new DeploymentMonitor(), maxErrorRate: 0.1 })).toBeInstanceOf(CanaryAnalysis);
  });

  it('refuses a second analysis of the same canary until the first is disposed, so two never drive one rollout', async () => {
    const { policy, analysis, monitor } = canary();
    expect(() => new CanaryAnalysis(policy, { monitor, maxErrorRate: 0.1 })).toThrow(InvalidStateError);
    analysis.dispose();
    const second = new CanaryAnalysis(policy, { monitor, maxErrorRate: 0.1, minRequests: 1 });
    monitor.record(2, 1);
    await expect(second.analyze()).resolves.toMatchObject({ decision: 'advance' });
    // The disposed analysis no longer follows the canary: its counters did not move with the step.
    expect(analysis.counters.runs).toBe(0);
  });

  it('restore() of the canary under analysis starts its counters afresh, with a countersReset event', async () => {
    const { policy, analysis, clock } = canary({ minRequests: 1_000, inconclusiveLimit: 5 });
    const snapshot = policy.snapshot();
    await analysis.analyze();
    await analysis.analyze();
    expect(analysis.counters).toMatchObject({ runs: 2, inconclusives: 2 });
    const resets: CountersResetEvent[] = [];
    analysis.on('countersReset', (e) => resets.push(e));
    clock.advance(1_000);
    policy.restore(snapshot);
    expect(analysis.counters).toMatchObject({ runs: 0, inconclusives: 0, successes: 0, failures: 0 });
    expect(resets).toEqual([{ reason: 'restored', previous: expect.objectContaining({ runs: 2, inconclusives: 2 }), at: 5_001_000 }]);
  });
});

describe('blueGreenAnalysis(): both of Argo’s phases composed around a pure switch', () => {
  it('pre-promotion switches on healthy preview traffic; post-promotion rolls a failing version back', async () => {
    const clock = new FakeClock(5_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
    const options = { intervalMs: 10_000, minRequests: 50, maxErrorRate: 0.02, timers: clock };
    const bg = new BlueGreenSwitch({ blue: 1, clock: clock.now });
    const analyses = blueGreenAnalysis(bg, { monitor, clock: clock.now, prePromotion: options, postPromotion: options });
    const events: string[] = [];
    for (const name of ['switched', 'rolledBack'] as const) bg.on(name, () => events.push(name));
    for (const name of ['promotionAborted', 'promotionVerified', 'needsAttention'] as const) analyses.on(name, () => events.push(name));
    const reports: AnalysisReport[] = [];
    analyses.on('analysis', (r) => reports.push(r));
    bg.deploy(2);
    analyses.start();
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
    await expect(analyses.analyze()).rejects.toThrow(/nothing is pending/);
    analyses.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('needs a monitor and at least one phase', () => {
    const bg = new BlueGreenSwitch({ blue: 1 });
    expect(() => blueGreenAnalysis(bg, { postPromotion: { maxErrorRate: 0.1 } } as never)).toThrow(/monitor must be a DeploymentMonitor .* postPromotionAnalysis/);
    expect(() => blueGreenAnalysis(bg, { monitor: new DeploymentMonitor() })).toThrow(/needs prePromotion or postPromotion/);
    // The failed composition took nothing: a valid one still may.
    expect(blueGreenAnalysis(bg, { monitor: new DeploymentMonitor(), postPromotion: { maxErrorRate: 0.1 } }).phases).toHaveLength(1);
  });

  it('restore() of the switch re-reads the pending phase and starts its counters afresh, with an event', async () => {
    const clock = new FakeClock(5_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const bg = new BlueGreenSwitch({ blue: 1, clock: clock.now });
    const analyses = blueGreenAnalysis(bg, { monitor, clock: clock.now, prePromotion: { minRequests: 10, maxErrorRate: 0.1, inconclusiveLimit: 5 } });
    const pre = analyses.prePromotion as NonNullable<typeof analyses.prePromotion>;
    const waiting = new BlueGreenSwitch({ blue: 1, green: 2 }).snapshot(); // v2 waits in the idle slot
    expect(pre.active).toBe(false);
    const resets: CountersResetEvent[] = [];
    analyses.on('countersReset', (e) => resets.push(e));
    bg.restore(waiting);
    expect(pre.active).toBe(true);
    await analyses.analyze();
    expect(pre.counters.inconclusives).toBe(1);
    bg.restore(waiting);
    expect(pre.counters.runs).toBe(0);
    expect(resets.map((e) => [e.reason, e.previous.runs])).toEqual([['restored', 0], ['restored', 1]]);
  });

  it('counters give both phases and the pending one as plain data; restoreCounters carries on from them and refuses what is not theirs', async () => {
    const clock = new FakeClock(5_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const bg = new BlueGreenSwitch({ blue: 1, clock: clock.now });
    const options = { minRequests: 10, maxErrorRate: 0.1, consecutiveSuccessLimit: 3 };
    const analyses = blueGreenAnalysis(bg, { monitor, clock: clock.now, prePromotion: options, postPromotion: options });
    expect(analyses.counters).toEqual({ active: null, prePromotion: expect.objectContaining({ runs: 0 }), postPromotion: expect.objectContaining({ runs: 0 }) });
    bg.deploy(2);
    for (let i = 0; i < 20; i++) monitor.record(2, 5);
    for (let i = 0; i < 20; i++) monitor.record(1, 5);
    await analyses.analyze();
    await analyses.analyze();
    const taken = analyses.counters;
    expect(taken).toMatchObject({ active: 'prePromotion', prePromotion: { runs: 2, consecutiveSuccesses: 2 }, postPromotion: { runs: 0 } });
    expect(JSON.parse(JSON.stringify(taken))).toEqual(taken);

    // Another composition of the same state (a replica taking over) carries on: the third success switches.
    const other = new BlueGreenSwitch({ blue: 1, clock: clock.now });
    other.restore(bg.snapshot());
    const carried = blueGreenAnalysis(other, { monitor, clock: clock.now, prePromotion: options, postPromotion: options });
    carried.restoreCounters(taken);
    expect((await carried.analyze()).decision).toBe('promote');
    expect(other.state.activeVersion).toBe(2);
    expect(carried.counters.active).toBe('postPromotion');

    const before = analyses.counters;
    const bad: Array<[unknown, RegExp]> = [
      [null, /counters must be an object with active, prePromotion and postPromotion, got null/],
      [{ ...taken, active: 'canary' }, /counters.active must be 'prePromotion', 'postPromotion' or null, got string "canary"/],
      [{ ...taken, prePromotion: { ...taken.prePromotion, failures: -1 } }, /counters.prePromotion.failures must be a non-negative integer, got number -1/],
      [{ ...taken, postPromotion: undefined }, /counters.postPromotion.runs must be a non-negative integer, got undefined/],
      [{ ...taken, active: 'postPromotion' }, /counters.active must be the phase pending now \(string "prePromotion"\).*got string "postPromotion"/],
    ];
    for (const [value, message] of bad) {
      expect(() => analyses.restoreCounters(value as never)).toThrow(ValidationError);
      expect(() => analyses.restoreCounters(value as never)).toThrow(message);
    }
    expect(analyses.counters).toEqual(before);
    const preOnly = blueGreenAnalysis(new BlueGreenSwitch({ blue: 1 }), { monitor, prePromotion: options });
    expect(() => preOnly.restoreCounters({ active: null, prePromotion: taken.prePromotion, postPromotion: taken.prePromotion })).toThrow(/counters.postPromotion must be null: that phase is not configured/);
  });
});

  it('a phase that ended without a transition (a refused preview) says so in its counters: a composition restored from them does not open it again; a bad end is refused', async () => {
    const clock = new FakeClock(5_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const bg = new BlueGreenSwitch({ blue: 1, clock: clock.now });
    const options = { minRequests: 10, maxErrorRate: 0.1 };
    const analyses = blueGreenAnalysis(bg, { monitor, clock: clock.now, prePromotion: options, postPromotion: options });
    bg.deploy(2);
    for (let i = 0; i < 20; i++) monitor.record(2, 5, i % 2 === 0); // 50 % errors: refused
    for (let i = 0; i < 20; i++) monitor.record(1, 5);
    expect((await analyses.analyze()).decision).toBe('abort');
    const taken = JSON.parse(JSON.stringify(analyses.counters));
    expect(taken).toEqual({ active: null, prePromotion: expect.objectContaining({ runs: 0, ended: { candidate: 2, baseline: 1 } }), postPromotion: expect.objectContaining({ runs: 0 }) });

    const other = new BlueGreenSwitch({ blue: 1, clock: clock.now });
    other.restore(bg.snapshot()); // v2 still waits in the idle slot
    const carried = blueGreenAnalysis(other, { monitor, clock: clock.now, prePromotion: options, postPromotion: options });
    expect(carried.prePromotion!.active).toBe(true);
    carried.restoreCounters(taken);
    expect(carried.prePromotion!.active).toBe(false);
    await expect(carried.analyze()).rejects.toThrow(InvalidStateError);
    const before = carried.counters;
    expect(() => carried.restoreCounters({ ...taken, prePromotion: { ...taken.prePromotion, ended: { candidate: '2' } } })).toThrow(
      /counters.prePromotion.ended must be \{ candidate, baseline \}/,
    );
    expect(carried.counters).toEqual(before);
    // A new deploy opens the phase again, and the end is forgotten.
    other.deploy(3);
    expect(carried.prePromotion!.active).toBe(true);
    expect(carried.counters.prePromotion).not.toHaveProperty('ended');
  });

describe('ABTestAnalysis: autoConclude and guardrails composed around a pure controller', () => {
  function controller(options: { failures?: number; conversion?: number } = {}) {
    const clock = new FakeClock(5_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
    const ab = new ABTestController({ clock: clock.now, random: seededRandom(8) });
    ab.createExperiment('exp', { modelA: 1, modelB: 2, metric: { kind: 'binary' }, sequential: true, analyzeEvery: 200 });
    const analysis = new ABTestAnalysis(ab, 'exp', { monitor, clock: clock.now, guardrails: { maxErrorRate: 0.02, minRequests: 100 } });
    const concluded: ConcludedEvent[] = [];
    ab.on('concluded', (e) => concluded.push(e));
    const breaches: ABTestAnalysisReport[] = [];
    analysis.on('guardrailBreached', (r) => breaches.push(r));
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
    return { clock, monitor, ab, analysis, concluded, breaches, traffic };
  }

  it('concludes on its own at the controller’s looks (analyzeEvery) once the sequential test is significant', async () => {
    const { concluded, traffic, ab } = controller({ conversion: 0.17 });
    await traffic(40_000);
    expect(concluded).toHaveLength(1);
    expect(concluded[0]).toMatchObject({ winner: 'b', decision: 'significant' });
    expect(ab.results('exp').conclusion?.winner).toBe('b');
  });

  it('a guardrail stops a breaching challenger, with start() checking it on the timers', async () => {
    const { clock, concluded, breaches, traffic, ab, analysis } = controller({ failures: 0.1, conversion: 0.3 });
    analysis.start({ intervalMs: 5_000, timers: clock });
    await traffic(40_000);
    expect(concluded[0]).toMatchObject({ winner: 'a', decision: 'given' });
    expect(breaches[0]?.decision).toBe('stopVariant');
    expect(ab.policy('exp').route({ unitId: 'anyone' }).version).toBe(1);
    expect(analysis.settled).toBe(true);
  });

  it('checks its options when composed, and one analysis per experiment', () => {
    const ab = new ABTestController();
    ab.createExperiment('x', { modelA: 1, modelB: 2 });
    expect(() => new ABTestAnalysis(ab, 'x', {})).toThrow(/autoConclude needs experiment 'x' to be sequential/);
    expect(() => new ABTestAnalysis(ab, 'x', { autoConclude: false, guardrails: { maxErrorRate: 0.01 } })).toThrow(/monitor must be a DeploymentMonitor/);
    const first = new ABTestAnalysis(ab, 'x', { monitor: new DeploymentMonitor(), autoConclude: false, guardrails: { maxErrorRate: 0.01 } });
    expect(() => new ABTestAnalysis(ab, 'x', { monitor: new DeploymentMonitor(), autoConclude: false, guardrails: { maxErrorRate: 0.01 } })).toThrow(InvalidStateError);
    first.dispose();
    expect(() => new ABTestAnalysis(ab, 'x', { monitor: new DeploymentMonitor(), autoConclude: false, guardrails: { maxErrorRate: 0.01 } })).not.toThrow();
  });
});
