import { ValidationError, describeValue } from '../errors.js';
import { checkNumber } from '../options.js';
import { normalizeWeights } from './weights.js';
import { chiSquareUpperTail } from './distributions.js';

/** Outcome of a sample-ratio-mismatch check. */
export type SrmStatus = 'ok' | 'mismatch' | 'not enough data';

/** Result of {@link srmTest}. */
export interface SrmResult {
  /** `'not enough data'` while any variant with a positive weight has fewer than `minimumCount` units. */
  status: SrmStatus;
  /** `status === 'mismatch'`. */
  mismatch: boolean;
  /** Pearson's χ² = Σ (observed − expected)² / expected; `null` when there is not enough data. */
  statistic: number | null;
  /** Degrees of freedom: variants with a positive weight − 1. */
  df: number;
  /** Upper-tail χ² probability of `statistic`; `null` when there is not enough data. */
  pValue: number | null;
  /** Units each variant should have had under the configured weights. */
  expected: number[];
}

/** Options of {@link srmTest}. */
export interface SrmOptions {
  /** Flag a mismatch below this p-value; default 0.001 (GrowthBook's, strict because the check runs on every look). */
  threshold?: number;
  /** Units every variant needs before the check is trusted; default 8 (below it the χ² approximation is poor). */
  minimumCount?: number;
}

/**
 * Sample ratio mismatch: are the observed units per variant consistent with the configured
 * weights? Pearson's χ² goodness of fit with df = k − 1 and its exact χ² upper tail (R's
 * `chisq.test(counts, p = weights, rescale.p = TRUE)`). A mismatch means the assignment or the
 * logging is broken, so no comparison in the experiment can be trusted. Units logged for a variant
 * whose weight is 0 are a mismatch outright (p = 0).
 *
 * @param counts - units observed per variant.
 * @param weights - configured weights, in the same order (normalised here; need not sum to 1).
 * @example
 * ```ts
 * srmTest([10400, 9600], [0.5, 0.5]); // { status: 'mismatch', pValue: 1.5e-8, … }
 * ```
 */
export function srmTest(counts: readonly number[], weights: readonly number[], options: SrmOptions = {}): SrmResult {
  const threshold = checkNumber('threshold', options.threshold ?? 0.001, { min: 0, max: 1, exclusiveMin: true });
  const minimumCount = checkNumber('minimumCount', options.minimumCount ?? 8, { min: 0, integer: true });
  if (!Array.isArray(counts) || counts.length < 2) {
    throw new ValidationError(`counts must be an array of at least 2 numbers, got ${describeValue(counts)}`);
  }
  counts.forEach((c, i) => checkNumber(`counts[${i}]`, c, { min: 0 }));
  const shares = normalizeWeights(weights);
  if (shares.length !== counts.length) {
    throw new ValidationError(`weights must have one entry per count (${counts.length}), got ${shares.length}`);
  }
  let total = 0;
  for (const c of counts) total += c;
  const expected = shares.map((w) => w * total);
  let df = -1;
  let enough = true;
  let unexpectedUnits = false;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i] as number;
    if ((shares[i] as number) > 0) {
      df++;
      if (count < minimumCount) enough = false;
    } else if (count > 0) {
      unexpectedUnits = true;
    }
  }
  if (unexpectedUnits) return { status: 'mismatch', mismatch: true, statistic: Infinity, df, pValue: 0, expected };
  if (!enough || df < 1) return { status: 'not enough data', mismatch: false, statistic: null, df, pValue: null, expected };
  let statistic = 0;
  for (let i = 0; i < counts.length; i++) {
    const e = expected[i] as number;
    if (e > 0) statistic += ((counts[i] as number) - e) ** 2 / e;
  }
  const pValue = chiSquareUpperTail(statistic, df);
  const mismatch = pValue < threshold;
  return { status: mismatch ? 'mismatch' : 'ok', mismatch, statistic, df, pValue, expected };
}
