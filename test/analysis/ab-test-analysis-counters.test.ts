import { describe, expect, it } from 'vitest';
import { ABTestAnalysis, type ABTestAnalysisReport } from '../../src/analysis/ab-test-analysis.js';
import type { CountersResetEvent } from '../../src/analysis/analysis-controller.js';
import { ABTestController, DeploymentMonitor, ValidationError } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

/**
 * ABTestAnalysis counts its looks with the engine every analysis shares (countAnalysisOutcome and
 * Argo's limits): each look here is driven by hand, with the monitor and results written directly.
 */
function setup() {
  const clock = new FakeClock(1_700_000_000_000);
  const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 60_000, buckets: 6 });
  const ab = new ABTestController({ clock: clock.now });
  ab.createExperiment('e', { modelA: 1, modelB: 2, metric: { kind: 'binary' }, sequential: true });
  /** One look's worth of traffic: `requests` per version, the given share of them failing. */
  const traffic = (requests: number, failing: { 1?: number; 2?: number } = {}) => {
    for (const version of [1, 2] as const) {
      for (let i = 0; i < requests; i++) monitor.record(version, 5, i >= requests * (failing[version] ?? 0));
    }
  };
  /** Results that make 'b' significantly better under the sequential test. */
  const significantResults = () => {
    for (let i = 0; i < 4000; i++) {
      ab.logResult('e', 'a', i % 10 === 0);
      ab.logResult('e', 'b', i % 10 < 3);
    }
  };
  return { clock, monitor, ab, traffic, significantResults };
}

describe('ABTestAnalysis counts its looks against the Argo limits', () => {
  it('failureLimit: a breaching challenger is stopped on the look past the limit, not before', async () => {
    const { monitor, ab, traffic, clock } = setup();
    const auto = new ABTestAnalysis(ab, 'e', { monitor, clock: clock.now, autoConclude: false, failureLimit: 2, guardrails: { maxErrorRate: 0.02, minRequests: 50 } });
    traffic(200, { 2: 0.1 });
    const looks: ABTestAnalysisReport[] = [];
    for (let i = 0; i < 3; i++) looks.push(await auto.analyze());
    expect(looks.map((r) => [r.outcome, r.decision, r.counters.failures])).toEqual([
      ['failed', 'hold', 1],
      ['failed', 'hold', 2],
      ['failed', 'stopVariant', 3],
    ]);
    expect(looks[0]?.reason).toMatch(/variant 'b' \(v2\) breached errorRate .*1 of 3 failed looks before the challenger is stopped \(failureLimit 2\)/);
    expect(ab.results('e').conclusion).toMatchObject({ winner: 'a', decision: 'given' });
  });

  it('the default failureLimit (0) stops the challenger at the first breached look, as before', async () => {
    const { monitor, ab, traffic, clock } = setup();
    const auto = new ABTestAnalysis(ab, 'e', { monitor, clock: clock.now, autoConclude: false, guardrails: { maxErrorRate: 0.02, minRequests: 50 } });
    traffic(200, { 2: 0.1 });
    expect(await auto.analyze()).toMatchObject({ outcome: 'failed', decision: 'stopVariant', winner: 'a' });
  });

  it('inconclusiveLimit: a breaching control (nothing to stop) asks for a human past the limit, then counts afresh', async () => {
    const { monitor, ab, traffic, clock } = setup();
    const auto = new ABTestAnalysis(ab, 'e', { monitor, clock: clock.now, autoConclude: false, inconclusiveLimit: 1, guardrails: { maxErrorRate: 0.02, minRequests: 50 } });
    const attention: ABTestAnalysisReport[] = [];
    auto.on('needsAttention', (r) => attention.push(r));
    traffic(200, { 1: 0.1 });
    const looks: ABTestAnalysisReport[] = [];
    for (let i = 0; i < 4; i++) looks.push(await auto.analyze());
    expect(looks.map((r) => [r.outcome, r.decision, r.counters.inconclusives])).toEqual([
      ['inconclusive', 'hold', 1],
      ['inconclusive', 'hold', 2],
      ['inconclusive', 'hold', 1],
      ['inconclusive', 'hold', 2],
    ]);
    expect(attention.map((r) => r.counters.inconclusives)).toEqual([2, 2]);
    expect(auto.counters.inconclusives).toBe(0);
    expect(ab.results('e').conclusion).toBeNull();
  });

  it('too little data for the guardrails is inconclusive, never a pass: no conclusion on it', async () => {
    const { monitor, ab, traffic, clock, significantResults } = setup();
    const auto = new ABTestAnalysis(ab, 'e', { monitor, clock: clock.now, guardrails: { maxErrorRate: 0.02, minRequests: 500 } });
    significantResults();
    traffic(100);
    const look = await auto.analyze();
    expect(look).toMatchObject({ outcome: 'inconclusive', decision: 'hold' });
    expect(look.reason).toMatch(/variant 'a' has 100 of the 500 requests/);
    traffic(400);
    expect(await auto.analyze()).toMatchObject({ outcome: 'successful', decision: 'conclude', winner: 'b' });
  });

  it('consecutiveSuccessLimit: a significant result concludes only after that many looks in a row within the guardrails', async () => {
    const { monitor, ab, traffic, clock, significantResults } = setup();
    const auto = new ABTestAnalysis(ab, 'e', { monitor, clock: clock.now, consecutiveSuccessLimit: 3, guardrails: { maxErrorRate: 0.02, minRequests: 50 } });
    significantResults();
    traffic(200);
    const looks: ABTestAnalysisReport[] = [];
    for (let i = 0; i < 3; i++) looks.push(await auto.analyze());
    expect(looks.map((r) => [r.outcome, r.decision, r.counters.consecutiveSuccesses])).toEqual([
      ['successful', 'hold', 1],
      ['successful', 'hold', 2],
      ['successful', 'conclude', 3],
    ]);
    expect(looks[0]?.reason).toBe('guardrails hold (1 of 3 looks in a row)');
  });

  it('restore() of the experiment starts the counters afresh, with a countersReset event', async () => {
    const { monitor, ab, traffic, clock } = setup();
    const auto = new ABTestAnalysis(ab, 'e', { monitor, clock: clock.now, autoConclude: false, failureLimit: 5, guardrails: { maxErrorRate: 0.02, minRequests: 50 } });
    const resets: CountersResetEvent[] = [];
    auto.on('countersReset', (e) => resets.push(e));
    const saved = ab.snapshot();
    traffic(200, { 2: 0.1 });
    await auto.analyze();
    await auto.analyze();
    expect(auto.counters).toMatchObject({ runs: 2, failures: 2 });
    ab.restore(saved);
    expect(auto.counters).toMatchObject({ runs: 0, failures: 0 });
    ab.policy('e').restore(ab.policy('e').snapshot());
    expect(resets.map((e) => [e.reason, e.previous.failures])).toEqual([
      ['restored', 2],
      ['restored', 0],
    ]);
    auto.dispose();
    ab.restore(saved);
    expect(resets).toHaveLength(2);
  });

  it('restoreCounters() carries on from stored counters (another replica taking over), checked first', async () => {
    const { monitor, ab, traffic, clock } = setup();
    const auto = new ABTestAnalysis(ab, 'e', { monitor, clock: clock.now, autoConclude: false, failureLimit: 2, guardrails: { maxErrorRate: 0.02, minRequests: 50 } });
    const stored = { runs: 2, successes: 0, consecutiveSuccesses: 0, failures: 2, inconclusives: 0, errors: 0, consecutiveErrors: 0 };
    expect(() => auto.restoreCounters({ ...stored, failures: -1 })).toThrow(/counters\.failures must be a non-negative integer, got number -1/);
    expect(auto.counters.runs).toBe(0);
    auto.restoreCounters(stored);
    traffic(200, { 2: 0.1 });
    // The third failed look of the step, counted across the two replicas, stops the challenger.
    expect(await auto.analyze()).toMatchObject({ outcome: 'failed', decision: 'stopVariant', counters: { runs: 3, failures: 3 } });
  });

  it('counters carry the sequential looks: an analysis on another controller restored from them reports the running minimum p-value; bad looks are refused, nothing changed', async () => {
    const first = setup();
    const leader = new ABTestAnalysis(first.ab, 'e', { monitor: first.monitor, clock: first.clock.now, autoConclude: false, guardrails: { maxErrorRate: 0.5, minRequests: 1 } });
    first.traffic(100);
    for (let i = 0; i < 400; i++) {
      first.ab.logResult('e', 'a', i % 10 === 0);
      first.ab.logResult('e', 'b', i % 10 < 2);
    }
    const look = await leader.analyze();
    const carried = JSON.parse(JSON.stringify(leader.counters));
    expect(Object.keys(carried.looks)).toEqual(['b']);

    // Another replica's controller with more results and no effect in them: alone its look's p is higher.
    const other = setup();
    other.traffic(100);
    other.ab.mergeStats('e', first.ab.exportStats('e'));
    for (let i = 0; i < 4_000; i++) {
      other.ab.logResult('e', 'a', i % 10 === 0);
      other.ab.logResult('e', 'b', i % 10 === 0);
    }
    const alone = other.ab.results('e').comparisons.b!.pValue;
    expect(alone).toBeGreaterThan(look.results.comparisons.b!.pValue);
    const taker = new ABTestAnalysis(other.ab, 'e', { monitor: other.monitor, clock: other.clock.now, autoConclude: false, guardrails: { maxErrorRate: 0.5, minRequests: 1 } });
    expect(() => taker.restoreCounters({ ...carried, looks: { c: carried.looks.b } })).toThrow(ValidationError);
    expect(taker.counters).not.toHaveProperty('looks');
    const heard: string[] = [];
    other.ab.on('restored', () => heard.push('restored'));
    taker.on('countersReset', () => heard.push('countersReset'));
    const counts = other.ab.results('e').variants.map((v) => v.count);
    taker.restoreCounters(carried);
    // The looks are put back on their own: the statistics stay, and neither the controller nor the analysis hears a restore.
    expect(heard).toEqual([]);
    expect(other.ab.results('e').variants.map((v) => v.count)).toEqual(counts);
    expect(taker.counters).toMatchObject({ runs: carried.runs, looks: carried.looks });
    expect((await taker.analyze()).results.comparisons.b!.pValue).toBe(look.results.comparisons.b!.pValue);
  });

  it('checks its limits up front with the same option checks as every analysis', () => {
    const { monitor, ab } = setup();
    const make = (limits: object) => new ABTestAnalysis(ab, 'e', { monitor, autoConclude: false, guardrails: { maxErrorRate: 0.02 }, ...limits });
    expect(() => make({ failureLimit: -1 })).toThrow(ValidationError);
    expect(() => make({ failureLimit: -1 })).toThrow(/ABTestAnalysis\.failureLimit must be an integer >= 0, got number -1/);
    expect(() => make({ consecutiveSuccessLimit: 0 })).toThrow(/ABTestAnalysis\.consecutiveSuccessLimit must be an integer >= 1/);
    expect(() => make({ inconclusiveLimit: 1.5 })).toThrow(/ABTestAnalysis\.inconclusiveLimit must be an integer/);
  });
});
