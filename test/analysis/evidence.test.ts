import { describe, expect, it } from 'vitest';
import { CanaryAnalysis } from '../../src/analysis/canary-analysis.js';
import type { AnalysisOptions } from '../../src/analysis/options.js';
import { BlueGreenAnalysis, BlueGreenSwitch, CanaryDeployment, DeploymentMonitor, ValidationError, judgeEvidence, outcomesBetween } from '../../src/index.js';
import { FakeClock, seededRandom } from '../../src/testing/index.js';

const EVIDENCE: AnalysisOptions = { method: 'evidence', minRequests: 20, relative: { maxErrorRateIncrease: 0.01, maxLatencyRatio: 1.2 }, inconclusiveLimit: 1000 };

function setup(monitor?: DeploymentMonitor, clock = new FakeClock(1_700_000_000_000), options: AnalysisOptions = EVIDENCE) {
  const m = monitor ?? new DeploymentMonitor({ clock: clock.now, windowMs: 60_000 });
  const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [10, 50], clock: clock.now });
  const analysis = new CanaryAnalysis(canary, { monitor: m, clock: clock.now, ...options });
  return { clock, monitor: m, canary, analysis };
}

/** Records `n` outcomes per version with the given error rates and latency (ms) into `record`. */
function traffic(record: (version: number, latencyMs: number, success: boolean) => void, seed: number, n: { 1: number; 2: number }, errors: { 1: number; 2: number }, latency = { 1: 20, 2: 20 }) {
  const random = seededRandom(seed);
  for (const v of [1, 2] as const) {
    for (let i = 0; i < n[v]; i++) record(v, latency[v] * (0.5 + random()), random() >= errors[v]);
  }
}

describe("CanaryAnalysis with method: 'evidence'", () => {
  it('checks its options up front, naming the bad one', () => {
    expect(() => setup(undefined, undefined, { method: 'evidence', maxErrorRate: 0.02 })).toThrow(/analysis.method 'evidence' judges the candidate against the baseline.*got no relative/);
    expect(() => setup(undefined, undefined, { ...EVIDENCE, relative: { maxLatencyRatio: 0.9 } })).toThrow(/analysis.relative.maxLatencyRatio must be >= 1 with method 'evidence'/);
    expect(() => setup(undefined, undefined, { maxErrorRate: 0.02, evidence: { alpha: 0.1 } })).toThrow(/analysis.evidence only applies with method 'evidence'/);
    expect(() => setup(undefined, undefined, { ...EVIDENCE, evidence: { alpha: 2 } })).toThrow(ValidationError);
    expect(() => setup(undefined, undefined, { ...EVIDENCE, evidence: { latencyQuantile: 1 } })).toThrow(/analysis.evidence.latencyQuantile/);
    expect(() => setup(undefined, undefined, { ...EVIDENCE, method: 'bayes' as never })).toThrow(/analysis.method must be one of 'threshold', 'evidence'/);
  });

  it('is refused for a blue-green switch, which has no concurrent split to compare', () => {
    const monitor = new DeploymentMonitor();
    const bg = new BlueGreenSwitch({ blue: 1, green: 2 });
    expect(() => new BlueGreenAnalysis(bg, 'postPromotion', { monitor, ...EVIDENCE })).toThrow(
      /postPromotionAnalysis.method 'evidence' needs a canary's concurrent split of the same traffic; a blue-green switch has none/,
    );
  });

  it('judges only what both versions served since the step began, and the report carries the evidence', async () => {
    const { monitor, canary, analysis } = setup();
    // History before the rollout: a bad stretch of v1 that must not make v2 look good.
    traffic((v, l, s) => monitor.record(v, l, s), 1, { 1: 5000, 2: 0 }, { 1: 0.2, 2: 0 });
    canary.start();
    traffic((v, l, s) => monitor.record(v, l, s), 2, { 1: 3000, 2: 400 }, { 1: 0.01, 2: 0.08 });
    const report = await analysis.analyze();
    expect(report.outcome).toBe('failed');
    expect(report.decision).toBe('rollback');
    expect(report.candidate).toMatchObject({ version: 2, window: 'rollout', totalRequests: 400 });
    expect(report.baseline).toMatchObject({ version: 1, window: 'rollout', totalRequests: 3000 });
    const errorCheck = report.checks.find((c) => c.metric === 'errorRate');
    expect(errorCheck).toMatchObject({ kind: 'evidence', passed: false, baseline: report.baseline?.errorRate });
    expect(errorCheck?.evidence?.test).toBe('always-valid-non-inferiority');
    expect(errorCheck?.evidence?.differenceCi[0]).toBeGreaterThan(0.01);
    // Judged at α / 2: two steps below 100 % share the rollout's 0.05.
    expect(errorCheck?.evidence?.alpha).toBe(0.025);
    expect(errorCheck?.evidence?.pValueWorse).toBeLessThan(0.025);
    expect(report.reason).toMatch(/^errorRate 0\.0\d+ vs baseline 0\.0\d+: beyond the margin of \+0\.01 \(difference 0\.0\d+, sequence \[0\.\d+, 0\.\d+\], p [\d.e-]+\)/);
    expect(canary.state.history.at(-1)?.reason).toMatch(/^analysis failed: errorRate/);
  });

  it('judgeEvidence is the same judgement as a pure function of two windows of outcomes', async () => {
    const { monitor, canary, analysis } = setup();
    canary.start();
    const atStart = { 1: monitor.outcomes(1), 2: monitor.outcomes(2) };
    traffic((v, l, s) => monitor.record(v, l, s), 7, { 1: 9000, 2: 1000 }, { 1: 0.01, 2: 0.03 }, { 1: 20, 2: 21 });
    const window = { 1: outcomesBetween(monitor.outcomes(1), atStart[1]), 2: outcomesBetween(monitor.outcomes(2), atStart[2]) };
    expect(window[2].totalRequests).toBe(1000);
    const pure = judgeEvidence(window[1], window[2], { maxErrorRateIncrease: 0.01, maxLatencyRatio: 1.2, alpha: 0.025, minRequests: 20 });
    const report = await analysis.analyze();
    expect(pure.outcome).toBe(report.outcome);
    expect(pure.checks).toEqual(report.checks);
    expect(pure.reason).toBe(report.reason);
  });

  it('is inconclusive while evidence accrues, then successful, and a new step starts a new window', async () => {
    const { monitor, canary, analysis } = setup();
    canary.start();
    traffic((v, l, s) => monitor.record(v, l, s), 3, { 1: 300, 2: 30 }, { 1: 0.01, 2: 0.01 });
    const early = await analysis.analyze();
    expect(early.outcome).toBe('inconclusive');
    expect(early.reason).toMatch(/^not enough evidence yet: errorRate .*not yet shown within or beyond the margin/);
    traffic((v, l, s) => monitor.record(v, l, s), 4, { 1: 40_000, 2: 4000 }, { 1: 0.01, 2: 0.01 });
    const later = await analysis.analyze();
    expect(later.outcome).toBe('successful');
    expect(later.checks.map((c) => [c.metric, c.passed])).toEqual([['errorRate', true], ['latency', true]]);
    expect(canary.state.percentage).toBe(50);
    const next = await analysis.analyze();
    expect(next.candidate.totalRequests).toBe(0);
    expect(next.outcome).toBe('inconclusive');
  });

  it('a slowdown hitting both versions fails nothing; a candidate 1.5× slower fails on latency', async () => {
    const shared = setup();
    shared.canary.start();
    traffic((v, l, s) => shared.monitor.record(v, l, s), 5, { 1: 20_000, 2: 2000 }, { 1: 0, 2: 0 }, { 1: 300, 2: 300 });
    expect((await shared.analysis.analyze()).outcome).toBe('successful');

    const slow = setup();
    slow.canary.start();
    traffic((v, l, s) => slow.monitor.record(v, l, s), 6, { 1: 20_000, 2: 2000 }, { 1: 0, 2: 0 }, { 1: 20, 2: 30 });
    const report = await slow.analysis.analyze();
    expect(report.outcome).toBe('failed');
    const latency = report.checks.find((c) => c.metric === 'latency');
    expect(latency).toMatchObject({ kind: 'evidence', passed: false });
    expect(latency?.evidence?.test).toBe('always-valid-latency-non-inferiority');
    expect(report.reason).toMatch(/p95 latency [\d.]+ ms vs baseline [\d.]+ ms: beyond the [\d.]+ ms bar/);
  });

  it('a fleet-wide monitor merged from replicas reaches the same verdicts and numbers as one monitor', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const single = setup(undefined, clock);
    const merged = setup(new DeploymentMonitor({ clock: clock.now, windowMs: 60_000 }), clock);
    single.canary.start();
    merged.canary.start();
    for (let interval = 0; interval < 4; interval++) {
      // Two replicas, each recording into its own monitor; their snapshots are merged into the fleet's.
      for (let replica = 0; replica < 2; replica++) {
        const local = new DeploymentMonitor({ clock: clock.now, windowMs: 60_000 });
        const seed = 100 + interval * 2 + replica;
        traffic((v, l, s) => local.record(v, l, s), seed, { 1: 2000, 2: 220 }, { 1: 0.01, 2: 0.05 });
        traffic((v, l, s) => single.monitor.record(v, l, s), seed, { 1: 2000, 2: 220 }, { 1: 0.01, 2: 0.05 });
        merged.monitor.merge(local.snapshot());
      }
      clock.advance(10_000);
      const [a, b] = [await single.analysis.analyze(), await merged.analysis.analyze()];
      expect(b.outcome).toBe(a.outcome);
      expect(b.checks).toEqual(a.checks);
      expect(b.candidate).toEqual(a.candidate);
      if (a.outcome === 'failed') break;
    }
    expect(single.canary.state.status).toBe('rolledBack');
    expect(merged.canary.state.status).toBe('rolledBack');
  });
});
