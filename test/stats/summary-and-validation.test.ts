import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { checkSummary, summaryVariance } from '../../src/stats/summary.js';
import {
  addObservation,
  emptySummary,
  mergeSummaries,
  minimumDetectableEffect,
  sampleSize,
  sequentialTest,
  srmTest,
  summarize,
  twoProportionZTest,
  welchTTest,
} from '../../src/index.js';

describe('streaming summaries', () => {
  it('Welford matches the two-pass mean and variance, without cancellation at a large offset', () => {
    const values = [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16];
    const s = summarize(values);
    expect(s.count).toBe(4);
    expect(s.mean).toBe(1e9 + 10);
    expect(summaryVariance(s)).toBe(30); // (36 + 9 + 9 + 36) / 3
  });

  it('merging any split of a sample gives the summary of the whole (Chan et al.)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 0, maxLength: 60 }),
        fc.array(fc.nat(60), { maxLength: 4 }),
        (values, cuts) => {
          const bounds = [0, ...cuts.map((c) => Math.min(c, values.length)).sort((x, y) => x - y), values.length];
          let merged = emptySummary();
          for (let i = 0; i + 1 < bounds.length; i++) merged = mergeSummaries(merged, summarize(values.slice(bounds[i], bounds[i + 1])));
          const whole = summarize(values);
          expect(merged.count).toBe(whole.count);
          expect(merged.mean).toBeCloseTo(whole.mean, 6);
          expect(Math.abs(merged.m2 - whole.m2)).toBeLessThanOrEqual(1e-9 * Math.max(1, whole.m2));
        },
      ),
    );
  });

  it('addObservation updates in place and summaryVariance is NaN below two values', () => {
    const s = emptySummary();
    expect(summaryVariance(s)).toBeNaN();
    addObservation(s, 3);
    expect(s).toEqual({ count: 1, mean: 3, m2: 0, meanCorrection: 0 });
    expect(summaryVariance(s)).toBeNaN();
  });

  it('checkSummary rejects malformed summaries', () => {
    for (const bad of [null, {}, { count: -1, mean: 0, m2: 0 }, { count: 1.5, mean: 0, m2: 0 }, { count: 2, mean: NaN, m2: 0 }, { count: 2, mean: 0, m2: -1 }, { count: 0, mean: 1, m2: 0 }]) {
      expect(() => checkSummary('s', bad)).toThrow(ValidationError);
    }
  });
});

describe('bad input is a ValidationError naming what was expected', () => {
  it('tests', () => {
    expect(() => welchTTest([1], [1, 2])).toThrow(/at least 2 values/);
    expect(() => welchTTest([1, NaN], [1, 2])).toThrow(/control\[1\] must be a finite number/);
    expect(() => welchTTest([1, 2], [1, 2], { alpha: 1 })).toThrow(ValidationError);
    expect(() => twoProportionZTest({ successes: 6, trials: 5 }, { successes: 1, trials: 5 })).toThrow(/control must be/);
    expect(() => twoProportionZTest({ successes: 1, trials: 5 }, { successes: 0.5, trials: 5 })).toThrow(/treatment must be/);
    expect(() => sequentialTest([1, 2], [1, 2], { tuning: 0 })).toThrow(/tuning/);
    expect(() => sequentialTest([0, 0], [1, 1], { difference: 'relative' })).toThrow(/non-zero control mean/);
  });

  it('srmTest', () => {
    expect(() => srmTest([10], [1])).toThrow(/at least 2/);
    expect(() => srmTest([10, -1], [1, 1])).toThrow(/counts\[1\]/);
    expect(() => srmTest([10, 10], [1, NaN])).toThrow(/weights\[1\]/);
    expect(() => srmTest([10, 10], [1, 1, 1])).toThrow(/one entry per count/);
  });

  it('sizing', () => {
    expect(() => sampleSize({ kind: 'binary', baseline: 1.2, mde: 0.1 })).toThrow(/baseline/);
    expect(() => sampleSize({ kind: 'binary', baseline: 0.6, mde: 1 })).toThrow(/inside \(0, 1\)/);
    expect(() => sampleSize({ kind: 'continuous', baseline: 1, mde: 0.1 })).toThrow(/stdev/);
    expect(() => sampleSize({ kind: 'binary', baseline: 0.1, mde: 0 })).toThrow(/mde/);
    expect(() => sampleSize({ kind: 'binary', baseline: 0.1, mde: 0.1, power: 1 })).toThrow(/power/);
    expect(() => minimumDetectableEffect({ kind: 'binary', baseline: 0.1, sampleSize: 0 })).toThrow(/sampleSize/);
  });
});

describe('edge cases stay honest', () => {
  it('constant samples: identical → p = 1, different → p = 0', () => {
    expect(welchTTest([2, 2, 2], [2, 2]).pValue).toBe(1);
    expect(welchTTest([2, 2, 2], [3, 3]).pValue).toBe(0);
    expect(twoProportionZTest({ successes: 0, trials: 50 }, { successes: 0, trials: 40 }).pValue).toBe(1);
  });

  it('a zero control mean has no relative lift', () => {
    const r = welchTTest([-1, 1, 0], [1, 2, 3]);
    expect(r.lift).toBeNull();
    expect(r.liftCi).toBeNull();
  });

  it('SRM: below 8 units per variant is not enough data; units on a zero-weight variant are a mismatch', () => {
    expect(srmTest([7, 30], [1, 1])).toMatchObject({ status: 'not enough data', mismatch: false, pValue: null });
    expect(srmTest([8, 8], [1, 1])).toMatchObject({ status: 'ok', mismatch: false, pValue: 1 });
    expect(srmTest([100, 100, 1], [1, 1, 0])).toMatchObject({ status: 'mismatch', mismatch: true, pValue: 0 });
    expect(srmTest([100, 100, 0], [1, 1, 0])).toMatchObject({ status: 'ok', df: 1 });
  });

  it('unequal arms need more units in total than equal ones', () => {
    const equal = sampleSize({ kind: 'binary', baseline: 0.1, mde: 0.2 });
    const skewed = sampleSize({ kind: 'binary', baseline: 0.1, mde: 0.2, ratio: 0.25 });
    expect(skewed.treatment).toBeCloseTo(skewed.control * 0.25, -1);
    expect(skewed.total).toBeGreaterThan(equal.total);
  });
});
