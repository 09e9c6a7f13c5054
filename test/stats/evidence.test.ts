/**
 * The canary evidence tests and the off-policy estimators against reference values:
 * test/fixtures/evidence-reference.json, written by `python3 test/stats/generate-evidence-reference.py`
 * (NumPy + SciPy), which integrates the normal-mixture martingale numerically and root-finds the
 * ends of the confidence sequence instead of using the closed forms this library uses; the IPS
 * cases are computed by hand below.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValidationError, ZeroPropensityError } from '../../src/errors.js';
import {
  latencyNonInferiorityTest,
  offPolicyEstimate,
  proportionNonInferiorityTest,
  type LoggedDecision,
  type ProportionInput,
} from '../../src/index.js';

interface Expected {
  difference: number;
  standardError: number;
  differenceCi: number[];
  pValueWorse: number;
  pValueNonInferior: number;
  verdict: string;
}
interface Fixture {
  specVersion: number;
  source: string;
  proportions: Array<{
    name: string;
    baseline: ProportionInput;
    candidate: ProportionInput;
    options: { alpha: number; margin: number; tuning: number };
    expected: Expected;
  }>;
  latency: Array<{
    name: string;
    baseline: number[];
    candidate: number[];
    options: { quantile: number; maxLatencyRatio: number; minLatencyDifferenceMs: number; alpha: number; tuning: number };
    expected: Expected & { baselineQuantileMs: number; candidateQuantileMs: number; limitMs: number; baselineSlower: number; candidateSlower: number };
  }>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/evidence-reference.json', import.meta.url), 'utf8')) as Fixture;

function close(actual: number, expected: number, rel = 1e-8): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected) + 1e-15);
}

function expectEvidence(r: Omit<Expected, 'verdict'> & { verdict: string }, e: Expected): void {
  close(r.difference, e.difference);
  close(r.standardError, e.standardError);
  close(r.differenceCi[0] as number, e.differenceCi[0] as number, 1e-7);
  close(r.differenceCi[1] as number, e.differenceCi[1] as number, 1e-7);
  close(r.pValueWorse, e.pValueWorse, 1e-7);
  close(r.pValueNonInferior, e.pValueNonInferior, 1e-7);
  expect(r.verdict).toBe(e.verdict);
}

describe('evidence reference fixture', () => {
  it('is the SciPy-generated spec version 1 and covers every verdict', () => {
    expect(fixture.specVersion).toBe(1);
    expect(fixture.source).toMatch(/SciPy/);
    for (const cases of [fixture.proportions, fixture.latency]) {
      expect(new Set(cases.map((c) => c.expected.verdict))).toEqual(new Set(['failed', 'successful', 'inconclusive']));
    }
  });
});

describe('proportionNonInferiorityTest vs the numerically integrated mixture', () => {
  it.each(fixture.proportions.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = proportionNonInferiorityTest(c.baseline, c.candidate, c.options);
    expectEvidence(r, c.expected);
    expect(r.test).toBe('always-valid-non-inferiority');
    expect(r.baselineRate).toBe(c.baseline.successes / c.baseline.trials);
    // The verdicts are the confidence sequence's ends against the margin.
    expect(r.verdict === 'failed').toBe(r.differenceCi[0] > c.options.margin);
    expect(r.verdict === 'successful').toBe(r.differenceCi[1] < c.options.margin);
  });

  it('the demo\'s broken v3 (7 / 22 errors) is not yet a failure at 22 requests, and is at 60', () => {
    const baseline = { successes: 4, trials: 418 };
    expect(proportionNonInferiorityTest(baseline, { successes: 7, trials: 22 }, { margin: 0.01 }).verdict).toBe('inconclusive');
    expect(proportionNonInferiorityTest({ successes: 10, trials: 1140 }, { successes: 19, trials: 60 }, { margin: 0.01 }).verdict).toBe('failed');
  });

  it('names bad options and inputs', () => {
    const ok = { successes: 1, trials: 10 };
    expect(() => proportionNonInferiorityTest(ok, ok, { margin: -0.1 })).toThrow(/margin must be a finite number >= 0 <= 1, got number -0.1/);
    expect(() => proportionNonInferiorityTest(ok, ok, { alpha: 1 })).toThrow(ValidationError);
    expect(() => proportionNonInferiorityTest(ok, ok, { tuning: 0 })).toThrow(/tuning must be/);
    expect(() => proportionNonInferiorityTest(ok, { successes: 3, trials: 2 })).toThrow(/candidate must be \{ successes, trials \}/);
  });
});

describe('latencyNonInferiorityTest vs NumPy quantiles and the integrated mixture', () => {
  it.each(fixture.latency.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = latencyNonInferiorityTest(c.baseline, c.candidate, c.options);
    expectEvidence(r, c.expected);
    expect(r.baselineQuantileMs).toBe(c.expected.baselineQuantileMs);
    expect(r.candidateQuantileMs).toBe(c.expected.candidateQuantileMs);
    close(r.limitMs, c.expected.limitMs, 1e-12);
    expect([r.baselineSlower, r.candidateSlower]).toEqual([c.expected.baselineSlower, c.expected.candidateSlower]);
    // The same test from histograms (what the monitor's sketches give).
    expect(latencyNonInferiorityTest(histogram(c.baseline), histogram(c.candidate), c.options)).toEqual(r);
  });

  it('a slowdown that hits both versions alike changes nothing', () => {
    const c = fixture.latency[0] as Fixture['latency'][number];
    const calm = latencyNonInferiorityTest(c.baseline, c.candidate, c.options);
    const spike = latencyNonInferiorityTest(c.baseline.map((v) => v * 8), c.candidate.map((v) => v * 8), c.options);
    expect(spike.verdict).toBe(calm.verdict);
    expect([spike.baselineSlower, spike.candidateSlower]).toEqual([calm.baselineSlower, calm.candidateSlower]);
  });

  it('names bad samples and options', () => {
    expect(() => latencyNonInferiorityTest([], [1])).toThrow(/baseline must hold at least one latency/);
    expect(() => latencyNonInferiorityTest([1, -2], [1])).toThrow(/baseline\[1\] must be a finite latency >= 0/);
    expect(() => latencyNonInferiorityTest({ values: [2, 1], counts: [1, 1] }, [1])).toThrow(/ascending/);
    expect(() => latencyNonInferiorityTest([1], [1], { maxLatencyRatio: 0.9 })).toThrow(/maxLatencyRatio must be a finite number >= 1/);
    expect(() => latencyNonInferiorityTest([1], [1], { quantile: 1 })).toThrow(/quantile must be/);
    expect(() => latencyNonInferiorityTest([1], [1], { minLatencyDifferenceMs: -1 })).toThrow(/minLatencyDifferenceMs/);
  });
});

function histogram(values: readonly number[]): { values: number[]; counts: number[] } {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const sorted = [...counts.keys()].sort((a, b) => a - b);
  return { values: sorted, counts: sorted.map((v) => counts.get(v) as number) };
}

describe('offPolicyEstimate', () => {
  // Target: always 'a'. Weights 2, 0, 4, 0; w·r = 2, 0, 0, 0.
  const records: LoggedDecision[] = [
    { variant: 'a', propensity: 0.5, reward: 1 },
    { variant: 'b', propensity: 0.5, reward: 0 },
    { variant: 'a', propensity: 0.25, reward: 0 },
    { variant: 'b', propensity: 0.75, reward: 1 },
  ];
  const alwaysA = (_ctx: unknown, variant: string) => (variant === 'a' ? 1 : 0);
  const z = 1.959963984540054;

  it('IPS by hand: mean 2/4, sd of (2, 0, 0, 0) = 1, SE 1/√4', () => {
    const r = offPolicyEstimate(records, alwaysA);
    close(r.ips.estimate, 0.5);
    close(r.ips.standardError, 0.5);
    close(r.ips.ci[0], 0.5 - z * 0.5);
    close(r.ips.ci[1], 0.5 + z * 0.5);
  });

  it('self-normalised by hand: 2/6, SE √(4·(2/3)² + 16·(1/3)²)/6', () => {
    const r = offPolicyEstimate(records, alwaysA);
    const se = Math.sqrt(4 * (2 / 3) ** 2 + 16 * (1 / 3) ** 2) / 6;
    close(r.selfNormalized?.estimate as number, 1 / 3);
    close(r.selfNormalized?.standardError as number, se);
    close(r.selfNormalized?.ci[1] as number, 1 / 3 + z * se);
    close(r.effectiveSampleSize, 36 / 20);
    expect(r.maxWeight).toBe(4);
    expect(r.records).toBe(4);
  });

  it('passes each record\'s context to the target policy, and a 90 % interval is narrower', () => {
    const seen: unknown[] = [];
    const withContext = records.map((r, i) => ({ ...r, context: { user: i } }));
    const r90 = offPolicyEstimate(withContext, (ctx, variant) => (seen.push(ctx), variant === 'a' ? 1 : 0), { alpha: 0.1 });
    expect(seen).toEqual([{ user: 0 }, { user: 1 }, { user: 2 }, { user: 3 }]);
    expect(r90.ips.ci[1] - r90.ips.ci[0]).toBeLessThan(2 * z * 0.5);
  });

  it('the logging policy evaluated on its own log gives the plain mean reward', () => {
    const same = (_ctx: unknown, variant: string) => (variant === 'a' ? 0.5 : 0.5);
    const log = records.map((r) => ({ ...r, propensity: 0.5 }));
    const r = offPolicyEstimate(log, same);
    close(r.ips.estimate, 0.5);
    close(r.selfNormalized?.estimate as number, 0.5);
  });

  it('a target that never picks a logged variant has IPS 0 and no self-normalised estimate', () => {
    const r = offPolicyEstimate(records, () => 0);
    expect(r.ips.estimate).toBe(0);
    expect(r.selfNormalized).toBeNull();
    expect(r.effectiveSampleSize).toBe(0);
  });

  it('a zero propensity is a ZeroPropensityError naming the record', () => {
    const bad = [...records, { variant: 'c', propensity: 0, reward: 1 }];
    const err = (() => {
      try {
        offPolicyEstimate(bad, alwaysA);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ZeroPropensityError);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ZeroPropensityError).index).toBe(4);
    expect((err as Error).message).toMatch(/records\[4\]\.propensity is 0: the logging policy could never have chosen variant 'c'/);
  });

  it('names every other bad input', () => {
    expect(() => offPolicyEstimate([records[0] as LoggedDecision], alwaysA)).toThrow(/at least 2 logged decisions/);
    expect(() => offPolicyEstimate([...records, { variant: 'a', propensity: 1.5, reward: 1 }], alwaysA)).toThrow(
      /records\[4\]\.propensity must be a probability in \(0, 1\], got number 1.5/,
    );
    expect(() => offPolicyEstimate([...records, { variant: 'a', propensity: 0.5, reward: Number.NaN }], alwaysA)).toThrow(/records\[4\]\.reward/);
    expect(() => offPolicyEstimate(records, () => 2)).toThrow(/targetPolicy must return a probability in \[0, 1\], got number 2 for records\[0\]/);
    expect(() => offPolicyEstimate(records, 'a' as never)).toThrow(/targetPolicy must be a function/);
  });
});
