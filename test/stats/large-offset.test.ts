import { describe, expect, it } from 'vitest';
import { addObservation, emptySummary, mergeSummaries, sequentialTest, welchTTest, type SampleSummary } from '../../src/index.js';
import { seededRandom } from '../../src/testing/index.js';

// Deviations with mean 0 and variance 1.25 that are exact in binary, so the exact summary of
// `offset + deviations` is known: mean = offset, m2 = 1.25 n.
const PATTERN = [-1.5, -0.5, 0.5, 1.5];

/** n values `offset + d`, the deviations of each block of four shuffled by a seeded source. */
function stream(n: number, offset: number, seed: number): SampleSummary {
  const random = seededRandom(seed);
  const summary = emptySummary();
  const block = [...PATTERN];
  for (let i = 0; i < n; i += 4) {
    for (let j = 3; j > 0; j--) {
      const k = Math.floor(random() * (j + 1));
      [block[j], block[k]] = [block[k]!, block[j]!];
    }
    for (const d of block) addObservation(summary, offset + d);
  }
  return summary;
}

const relativeError = (actual: number, exact: number) => Math.abs(actual - exact) / Math.abs(exact);

describe('streaming summaries at a large offset (|mean| / sd ≈ 10⁶)', () => {
  const n = 4_000_000;
  const lift = 2 ** -9; // exact in binary at 10⁶, so the treatment's exact mean is 10⁶ + 2⁻⁹
  const control = stream(n, 1e6, 1);
  const treatment = stream(n, 1e6 + lift, 2);
  const exactControl = { count: n, mean: 1e6, m2: 1.25 * n };
  const exactTreatment = { count: n, mean: 1e6 + lift, m2: 1.25 * n };

  it('keeps the running mean to the last bit and m2 to 1e-12', () => {
    expect(control.mean).toBe(1e6);
    expect(treatment.mean).toBe(1e6 + lift);
    expect(relativeError(control.m2, exactControl.m2)).toBeLessThan(1e-12);
    expect(relativeError(treatment.m2, exactTreatment.m2)).toBeLessThan(1e-12);
  });

  it('gives the Welch p-value of the exact summaries, and of the same data without the offset (the test is shift-invariant)', () => {
    const exact = welchTTest(exactControl, exactTreatment).pValue;
    expect(exact).toBeGreaterThan(0.01);
    expect(exact).toBeLessThan(0.02);
    expect(relativeError(welchTTest(control, treatment).pValue, exact)).toBeLessThan(1e-9);
    const unshifted = welchTTest(stream(n, 0, 1), stream(n, lift, 2)).pValue;
    expect(relativeError(welchTTest(control, treatment).pValue, unshifted)).toBeLessThan(1e-9);
  });

  it('gives the sequential p-value and interval of the exact summaries', () => {
    const exact = sequentialTest(exactControl, exactTreatment, { tuning: 2 * n });
    const streamed = sequentialTest(control, treatment, { tuning: 2 * n });
    expect(relativeError(streamed.pValue, exact.pValue)).toBeLessThan(1e-9);
    expect(relativeError(streamed.difference, exact.difference)).toBeLessThan(1e-9);
  });

  it('merging replicas keeps the same precision', () => {
    const merged = [1, 2, 3, 4].map((seed) => stream(n / 4, 1e6, seed)).reduce(mergeSummaries);
    expect(merged.mean).toBe(1e6);
    expect(relativeError(merged.m2, exactControl.m2)).toBeLessThan(1e-12);
  });
});
