/**
 * The Must-show simulations of the evidence method, on small seeded sets so the suite stays
 * CI-sized; bench/evidence-simulations.ts runs the full sets whose figures are in
 * docs/automated-rollouts.md (1 000 A/A rollouts, 200 per threshold tuning, 200 bandit seeds).
 */
import { describe, expect, it } from 'vitest';
import { EVIDENCE, medianRequestsToRollback, offPolicyCoverage, rollbackRate, rollouts, thresholds } from './fixtures/canary-evidence.js';

/** The threshold tunings measured by the full run: 0.03 rolls back ≈ α (2.5 %) of A/A rollouts, 0.045 none, like the evidence method. */
const AT_ALPHA = 0.03;
const AT_EVIDENCE_RATE = 0.045;

describe('evidence method: seeded canary rollouts through simulate()', () => {
  it('A/A: the evidence method rolls back at most α = 5 % of 100 identical candidates; the fixed limits beside it', async () => {
    const evidence = rollbackRate(await rollouts(100, EVIDENCE));
    const atAlpha = rollbackRate(await rollouts(100, thresholds(AT_ALPHA)));
    const strict = rollbackRate(await rollouts(100, thresholds(AT_EVIDENCE_RATE)));
    expect(evidence).toBeLessThanOrEqual(0.05);
    expect(atAlpha).toBeGreaterThan(evidence);
    expect(strict).toBeLessThanOrEqual(0.02);
  }, 120_000);

  it('+3 points of errors at 5 %: every candidate rolled back; fewer than half the threshold method at the same false-rollback rate', async () => {
    const bad = { extraErrorRate: 0.03 };
    const evidence = await rollouts(40, EVIDENCE, bad);
    expect(rollbackRate(evidence)).toBe(1);
    const matched = await rollouts(40, thresholds(AT_EVIDENCE_RATE), bad);
    expect(medianRequestsToRollback(evidence)).toBeLessThanOrEqual(medianRequestsToRollback(matched) / 2);
    // Honest side: limits tuned to α (not to the evidence method's lower rate) are faster.
    const atAlpha = await rollouts(40, thresholds(AT_ALPHA), bad);
    expect(medianRequestsToRollback(atAlpha)).toBeLessThan(medianRequestsToRollback(evidence));
  }, 120_000);

  it('a latency spike hitting both versions never rolls back under evidence, while maxP99LatencyMs does', async () => {
    const spike = { spike: { from: 15, to: 45, factor: 4 } };
    expect(rollbackRate(await rollouts(20, EVIDENCE, spike))).toBe(0);
    expect(rollbackRate(await rollouts(20, thresholds(AT_ALPHA, 60), spike))).toBe(1);
  }, 120_000);

  it('a candidate truly 1.5× slower is rolled back every time', async () => {
    expect(rollbackRate(await rollouts(20, EVIDENCE, { slowdown: 1.5 }))).toBe(1);
  }, 120_000);
});

describe('off-policy evaluation from a bandit run\'s propensities', () => {
  it('IPS and self-normalised IPS of the uniform policy cover its true value in ≥ 90 % of 200 seeds at 95 %', async () => {
    const coverage = await offPolicyCoverage(200);
    expect(coverage.ips).toBeGreaterThanOrEqual(0.9);
    expect(coverage.snips).toBeGreaterThanOrEqual(0.9);
  }, 120_000);
});
