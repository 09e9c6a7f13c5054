/**
 * Every statistics function against reference values. Source of each number:
 * - test/fixtures/stats-reference.json, written by `Rscript test/stats/generate-reference.R`
 *   (R 4.2.2, Debian's r-base-core): t.test, prop.test, chisq.test, power.prop.test, power.t.test,
 *   and for the sequential test the published formula evaluated in R;
 * - GrowthBook's own gbstats unit tests (packages/stats/tests/frequentist/test_tests.py,
 *   TestSequentialTTest), quoted below with their inputs.
 * (SciPy 1.17 `ttest_ind(equal_var=False)`, `chisquare` and the pooled z agree with the R values to
 * 1e-14 relative; checked when the fixture was made.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  meanConfidenceInterval,
  minimumDetectableEffect,
  sampleSize,
  sequentialTest,
  srmTest,
  summarize,
  twoProportionZTest,
  welchTTest,
  wilsonInterval,
  type SampleSummary,
} from '../../src/index.js';

interface Fixture {
  specVersion: number;
  source: string;
  welch: Array<{ name: string; a: number[]; b: number[]; statistic: number; df: number; pValue: number; differenceCi: number[] }>;
  proportions: Array<{
    name: string;
    a: { successes: number; trials: number };
    b: { successes: number; trials: number };
    chiSquared: number;
    pValue: number;
    differenceCi: number[];
  }>;
  srm: Array<{ name: string; counts: number[]; weights: number[]; statistic: number; df: number; pValue: number }>;
  sampleSizeProportions: Array<{ p1: number; p2: number; power: number; alpha: number; n: number }>;
  mdeProportions: Array<{ p1: number; n: number; power: number; alpha: number; p2: number }>;
  sampleSizeMeans: Array<{ delta: number; sd: number; power: number; alpha: number; n: number }>;
  meanCi: Array<{ x: number[]; ci: number[] }>;
  wilsonCi: Array<{ successes: number; trials: number; ci: number[] }>;
  sequential: Array<{
    a: SampleSummary;
    b: SampleSummary;
    tuning: number;
    alpha: number;
    difference: 'absolute' | 'relative';
    differenceCi: number[];
    liftCi: number[];
    pValue: number;
  }>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/stats-reference.json', import.meta.url), 'utf8')) as Fixture;

/** |actual − expected| ≤ rel·|expected| (p-values down to 1e-33 are compared relatively, not absolutely). */
function close(actual: number, expected: number, rel = 1e-9): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected) + 1e-300);
}

describe('reference fixture', () => {
  it('is the R-generated spec version 1 with enough cases per function', () => {
    expect(fixture.specVersion).toBe(1);
    expect(fixture.source).toMatch(/^R version 4\./);
    for (const key of ['welch', 'proportions', 'srm', 'sampleSizeProportions', 'mdeProportions', 'sampleSizeMeans', 'meanCi', 'wilsonCi', 'sequential'] as const) {
      expect(fixture[key].length, key).toBeGreaterThanOrEqual(5);
    }
  });
});

describe('welchTTest vs R t.test(b, a, var.equal = FALSE)', () => {
  it.each(fixture.welch.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = welchTTest(c.a, c.b);
    close(r.statistic, c.statistic);
    close(r.df as number, c.df);
    close(r.pValue, c.pValue, 1e-8);
    close(r.differenceCi[0], c.differenceCi[0] as number);
    close(r.differenceCi[1], c.differenceCi[1] as number);
    expect(r.test).toBe('welch-t');
    expect(r.significant).toBe(c.pValue < 0.05);
    // The same test from streamed summaries.
    close(welchTTest(summarize(c.a), summarize(c.b)).pValue, c.pValue, 1e-8);
  });

  it('covers n = 5, unequal variances and p < 1e-6', () => {
    expect(fixture.welch.some((c) => c.a.length === 5 && c.b.length === 5)).toBe(true);
    expect(fixture.welch.some((c) => c.pValue < 1e-6)).toBe(true);
    expect(fixture.welch.some((c) => c.name.includes('unequal variances'))).toBe(true);
  });
});

describe('twoProportionZTest vs R prop.test(correct = FALSE)', () => {
  it.each(fixture.proportions.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = twoProportionZTest(c.a, c.b);
    close(r.statistic ** 2, c.chiSquared);
    close(r.pValue, c.pValue, 1e-8);
    close(r.differenceCi[0], c.differenceCi[0] as number);
    close(r.differenceCi[1], c.differenceCi[1] as number);
    expect(Math.sign(r.statistic)).toBe(Math.sign(c.b.successes / c.b.trials - c.a.successes / c.a.trials));
  });

  it('covers n = 5 and p < 1e-6', () => {
    expect(fixture.proportions.some((c) => c.a.trials === 5)).toBe(true);
    expect(fixture.proportions.some((c) => c.pValue < 1e-6)).toBe(true);
  });
});

describe('srmTest vs R chisq.test(counts, p = weights)', () => {
  it.each(fixture.srm.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = srmTest(c.counts, c.weights);
    close(r.statistic as number, c.statistic);
    expect(r.df).toBe(c.df);
    close(r.pValue as number, c.pValue, 1e-8);
    expect(r.mismatch).toBe(c.pValue < 0.001);
  });

  it('keeps precision far below 1e-16 (upper tail taken directly, not as 1 − CDF)', () => {
    const extreme = fixture.srm.find((c) => c.pValue < 1e-20);
    expect(extreme).toBeDefined();
    close(srmTest(extreme!.counts, extreme!.weights).pValue as number, extreme!.pValue, 1e-8);
  });
});

describe('sampleSize / minimumDetectableEffect vs R power.prop.test and power.t.test', () => {
  it.each(fixture.sampleSizeProportions.map((c) => [`p1 ${c.p1} → p2 ${c.p2}, power ${c.power}, alpha ${c.alpha}`, c] as const))(
    'binary %s',
    (_name, c) => {
      const r = sampleSize({ kind: 'binary', baseline: c.p1, mde: c.p2 / c.p1 - 1, power: c.power, alpha: c.alpha });
      expect(r.control).toBe(Math.ceil(c.n));
      expect(r.treatment).toBe(Math.ceil(c.n));
      expect(r.total).toBe(2 * Math.ceil(c.n));
    },
  );

  it.each(fixture.mdeProportions.map((c) => [`p1 ${c.p1}, n ${c.n}, power ${c.power}, alpha ${c.alpha}`, c] as const))(
    'binary MDE %s',
    (_name, c) => {
      const mde = minimumDetectableEffect({ kind: 'binary', baseline: c.p1, sampleSize: c.n, power: c.power, alpha: c.alpha });
      close(c.p1 * (1 + mde), c.p2, 1e-8);
    },
  );

  it.each(fixture.sampleSizeMeans.map((c) => [`delta ${c.delta}, sd ${c.sd}, power ${c.power}, alpha ${c.alpha}`, c] as const))(
    'continuous %s: the normal approximation is within one unit of R’s exact noncentral-t n',
    (_name, c) => {
      const r = sampleSize({ kind: 'continuous', baseline: 10, mde: c.delta / 10, stdev: c.sd, power: c.power, alpha: c.alpha });
      expect(r.control).toBeLessThanOrEqual(Math.ceil(c.n));
      expect(r.control).toBeGreaterThanOrEqual(Math.ceil(c.n) - 2);
      // Continuous MDE is the exact inverse of the unrounded size.
      const mde = minimumDetectableEffect({ kind: 'continuous', baseline: 10, stdev: c.sd, sampleSize: r.control, power: c.power, alpha: c.alpha });
      expect(mde).toBeLessThanOrEqual(c.delta / 10);
      expect(mde).toBeGreaterThan((c.delta / 10) * 0.999);
    },
  );
});

describe('meanConfidenceInterval vs R t.test(x)$conf.int, wilsonInterval vs R prop.test(x, n, correct = FALSE)$conf.int', () => {
  it.each(fixture.meanCi.map((c) => [c.x.length, c] as const))('t interval, n = %i', (_n, c) => {
    const [lo, hi] = meanConfidenceInterval(c.x);
    close(lo, c.ci[0] as number);
    close(hi, c.ci[1] as number);
  });

  it.each(fixture.wilsonCi.map((c) => [`${c.successes}/${c.trials}`, c] as const))('Wilson %s', (_name, c) => {
    const [lo, hi] = wilsonInterval(c);
    expect(Math.abs(lo - (c.ci[0] as number))).toBeLessThan(1e-12);
    close(hi, c.ci[1] as number);
  });
});

describe('sequentialTest', () => {
  it.each(fixture.sequential.map((c, i) => [i, c] as const))('formula evaluated in R, case %i', (_i, c) => {
    const r = sequentialTest(c.a, c.b, { alpha: c.alpha, tuning: c.tuning, difference: c.difference });
    close(r.differenceCi[0], c.differenceCi[0] as number);
    close(r.differenceCi[1], c.differenceCi[1] as number);
    close((r.liftCi as number[])[0] as number, c.liftCi[0] as number);
    close((r.liftCi as number[])[1] as number, c.liftCi[1] as number);
    close(r.pValue, c.pValue);
    expect(r.test).toBe('asymptotic-confidence-sequence');
  });

  // gbstats TestSequentialTTest.test_sequential_test_runs: SampleMeanStatistic(sum=1396.87,
  // sum_squares=52377.9767, n=3000) vs (sum=2422.7, sum_squares=134698.29, n=3461), tuning 1000,
  // relative: expected 0.50336, ci (-0.55844, 1.56516), pValue 1.
  it('matches gbstats test_sequential_test_runs (means, tuning 1000)', () => {
    const a = { count: 3000, mean: 1396.87 / 3000, m2: 52377.9767 - 1396.87 ** 2 / 3000 };
    const b = { count: 3461, mean: 2422.7 / 3461, m2: 134698.29 - 2422.7 ** 2 / 3461 };
    const r = sequentialTest(a, b, { tuning: 1000, difference: 'relative' });
    expect(r.lift).toBeCloseTo(0.50336, 5);
    expect(r.liftCi![0]).toBeCloseTo(-0.55844, 5);
    expect(r.liftCi![1]).toBeCloseTo(1.56516, 5);
    expect(r.pValue).toBe(1);
  });

  // gbstats TestSequentialTTest.test_sequential_test_runs_prop: ProportionStatistic(sum=1396, n=3000)
  // vs (sum=2422, n=3461), default tuning 5000, relative: expected 0.50386, ci (0.40098, 0.60675), pValue 0.0 (rounded).
  it('matches gbstats test_sequential_test_runs_prop (proportions, default tuning)', () => {
    const r = sequentialTest({ successes: 1396, trials: 3000 }, { successes: 2422, trials: 3461 }, { kind: 'binary', difference: 'relative' });
    expect(r.lift).toBeCloseTo(0.50386, 5);
    expect(r.liftCi![0]).toBeCloseTo(0.40098, 5);
    expect(r.liftCi![1]).toBeCloseTo(0.60675, 5);
    expect(r.pValue).toBeLessThan(5e-6);
    expect(r.significant).toBe(true);
  });

  it('rejects exactly when its confidence sequence excludes zero', () => {
    for (const c of fixture.sequential) {
      const r = sequentialTest(c.a, c.b, { alpha: c.alpha, tuning: c.tuning, difference: c.difference });
      const ci = c.difference === 'absolute' ? r.differenceCi : (r.liftCi as number[]);
      expect(r.significant).toBe((ci[0] as number) > 0 || (ci[1] as number) < 0);
    }
  });
});
