import { ValidationError } from '../errors.js';
import { checkAlpha, type Interval } from './comparison.js';
import { tQuantileOf, zQuantile } from './distributions.js';
import { checkProportion, type ProportionInput } from './proportions.js';
import { toSummary, type SampleInput } from './summary.js';

/**
 * Student t interval of a mean: x̄ ± t_{n−1, 1−α/2} · s/√n (R's `t.test(x)$conf.int`).
 * Needs at least 2 values.
 */
export function meanConfidenceInterval(sample: SampleInput, alpha = 0.05): Interval {
  const a = checkAlpha(alpha);
  const s = toSummary('sample', sample);
  if (s.count < 2) throw new ValidationError(`meanConfidenceInterval needs at least 2 values, got ${s.count}`);
  const half = tQuantileOf(1 - a / 2, s.count - 1) * Math.sqrt(s.m2 / (s.count - 1) / s.count);
  return [s.mean - half, s.mean + half];
}

/**
 * Wilson score interval of a proportion (R's `prop.test(x, n, correct = FALSE)$conf.int`): unlike
 * the Wald interval it stays inside [0, 1] and keeps its coverage at small n and rates near 0 or 1.
 */
export function wilsonInterval(proportion: ProportionInput, alpha = 0.05): Interval {
  const a = checkAlpha(alpha);
  const { successes, trials } = checkProportion('proportion', proportion);
  const z = zQuantile(1 - a / 2);
  const p = successes / trials;
  const z2n = (z * z) / trials;
  const center = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / trials + z2n / (4 * trials));
  return [Math.max(0, center - half), Math.min(1, center + half)];
}
