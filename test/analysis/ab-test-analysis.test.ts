import { describe, expect, it } from 'vitest';
import { ABTestAnalysis, type ABTestAnalysisReport } from '../../src/analysis/ab-test-analysis.js';
import { ABTestController, DeploymentMonitor, InvalidStateError, ValidationError, type ConcludedEvent } from '../../src/index.js';
import { FakeClock, seededRandom, simulate } from '../../src/testing/index.js';

const NAME = 'ranker';

/** A 50/50 test of v1 (control 'a') against v2 ('b'), binary conversion, sequential. */
function setup(options: { conversion: Record<number, number>; failures?: Record<number, number>; sequential?: boolean }) {
  const clock = new FakeClock(1_700_000_000_000);
  const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
  const ab = new ABTestController({ clock: clock.now, random: seededRandom(5) });
  ab.createExperiment(NAME, { modelA: 1, modelB: 2, split: 0.5, metric: { kind: 'binary' }, sequential: options.sequential ?? true });
  const random = seededRandom(9);
  const concluded: ConcludedEvent[] = [];
  ab.on('concluded', (e) => concluded.push(e));
  const run = (auto: ABTestAnalysis, requests = 40_000) =>
    simulate<ABTestAnalysisReport>({
      policy: ab.policy(NAME), monitor, clock, requests, unitIds: 20_000, analysis: auto, analyzeEveryMs: 10_000,
      until: () => ab.results(NAME).conclusion !== null,
      outcome: (version, _input, assignment) => {
        const success = random() >= (options.failures?.[version] ?? 0);
        if (success) ab.logResult(NAME, assignment.variant, random() < (options.conversion[version] ?? 0));
        return { latencyMs: 5, success };
      },
    });
  return { clock, monitor, ab, concluded, run };
}

describe('ABTestAnalysis', () => {
  it('auto-concludes on the sequential test once the better version is significant', async () => {
    const { ab, monitor, clock, concluded, run } = setup({ conversion: { 1: 0.1, 2: 0.16 } });
    const auto = new ABTestAnalysis(ab, NAME, { monitor, clock: clock.now, guardrails: { maxErrorRate: 0.02 } });
    const timeline = await run(auto);
    expect(concluded).toHaveLength(1);
    expect(concluded[0]).toMatchObject({ winner: 'b', version: 2, decision: 'significant' });
    const last = timeline.decisions.at(-1);
    expect(last).toMatchObject({ decision: 'conclude', winner: 'b' });
    expect(last?.reason).toMatch(/sequential test significant for 'b'/);
    expect(timeline.decisions.slice(0, -1).every((d) => d.decision === 'hold')).toBe(true);
    // Concluded: everyone gets the winner.
    expect(ab.policy(NAME).route({ unitId: 'anyone' }).version).toBe(2);
  });

  it('holds while nothing is significant (an A/A test never concludes)', async () => {
    const { ab, monitor, clock, concluded, run } = setup({ conversion: { 1: 0.1, 2: 0.1 } });
    const auto = new ABTestAnalysis(ab, NAME, { monitor, clock: clock.now });
    const timeline = await run(auto, 20_000);
    expect(concluded).toHaveLength(0);
    expect(timeline.decisions.length).toBeGreaterThan(10);
    expect(timeline.decisions.every((d) => d.decision === 'hold')).toBe(true);
  });

  it('a guardrail stops a breaching challenger: the experiment concludes on the control at once', async () => {
    const { ab, monitor, clock, concluded, run } = setup({ conversion: { 1: 0.1, 2: 0.3 }, failures: { 2: 0.1 } });
    const auto = new ABTestAnalysis(ab, NAME, { monitor, clock: clock.now, guardrails: { maxErrorRate: 0.02, minRequests: 200 } });
    const breaches: ABTestAnalysisReport[] = [];
    auto.on('guardrailBreached', (r) => breaches.push(r));
    await run(auto);
    expect(concluded).toHaveLength(1);
    expect(concluded[0]).toMatchObject({ winner: 'a', version: 1, decision: 'given' });
    expect(breaches).toHaveLength(1);
    expect(breaches[0]).toMatchObject({ decision: 'stopVariant', winner: 'a' });
    expect(breaches[0]?.guardrails.map((g) => [g.variant, g.breached])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    expect(breaches[0]?.reason).toMatch(/^variant 'b' \(v2\) breached errorRate 0\.\d+ > 0\.02: stopped/);
    await expect(auto.analyze()).rejects.toBeInstanceOf(InvalidStateError);
  });

  it('reports a breaching control without stopping it', async () => {
    const { ab, monitor, clock, concluded, run } = setup({ conversion: { 1: 0.1, 2: 0.1 }, failures: { 1: 0.1 } });
    const auto = new ABTestAnalysis(ab, NAME, { monitor, clock: clock.now, autoConclude: false, guardrails: { maxErrorRate: 0.02 } });
    const breaches: ABTestAnalysisReport[] = [];
    auto.on('guardrailBreached', (r) => breaches.push(r));
    await run(auto, 5_000);
    expect(concluded).toHaveLength(0);
    expect(breaches.length).toBeGreaterThan(0);
    expect(breaches[0]).toMatchObject({ decision: 'hold' });
    expect(breaches[0]?.reason).toMatch(/variant 'a' \(v1\) breached .*the control cannot be stopped/);
  });

  it('start() drives it on the given timers and stops once concluded', async () => {
    const { ab, monitor, clock, concluded } = setup({ conversion: { 1: 0.1, 2: 0.16 } });
    const auto = new ABTestAnalysis(ab, NAME, { monitor, clock: clock.now, timers: clock, intervalMs: 5_000 });
    auto.start();
    const random = seededRandom(2);
    for (let i = 0; i < 40_000 && concluded.length === 0; i++) {
      const a = ab.assign(NAME, `u${i}`);
      if (a) ab.logResult(NAME, a.variant, random() < (a.version === 2 ? 0.16 : 0.1));
      if (i % 100 === 0) await clock.tickAsync(1_000);
    }
    expect(concluded).toHaveLength(1);
    await clock.tickAsync(10_000);
    expect(auto.running).toBe(false);
  });

  it('refuses auto-conclusion on a fixed-horizon experiment, and an automation that does nothing', () => {
    const { ab, monitor } = setup({ conversion: {}, sequential: false });
    expect(() => new ABTestAnalysis(ab, NAME, { monitor })).toThrow(/autoConclude needs experiment 'ranker' to be sequential/);
    expect(() => new ABTestAnalysis(ab, NAME, { monitor, autoConclude: false })).toThrow(ValidationError);
    expect(() => new ABTestAnalysis(ab, NAME, { monitor, autoConclude: false, guardrails: { maxErrorRate: 2 } })).toThrow(/guardrails\.maxErrorRate/);
    expect(new ABTestAnalysis(ab, NAME, { monitor, autoConclude: false, guardrails: { maxP99LatencyMs: 50 } }).autoConclude).toBe(false);
  });
});
