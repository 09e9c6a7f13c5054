import { ValidationError } from '../errors.js';
import { checkNumber } from '../options.js';

/** Which test produced a {@link ComparisonResult}. */
export type ComparisonTest = 'welch-t' | 'two-proportion-z' | 'asymptotic-confidence-sequence';

/** A closed interval `[low, high]`. */
export type Interval = [low: number, high: number];

/**
 * A treatment compared with its control. Differences are `treatment − control`; the relative
 * `lift` is `(treatment − control) / control`.
 */
export interface ComparisonResult {
  test: ComparisonTest;
  /** Significance level the intervals and `significant` use. */
  alpha: number;
  controlMean: number;
  treatmentMean: number;
  /** `treatmentMean − controlMean`. */
  difference: number;
  /** `1 − alpha` interval of the difference (for the sequential test: a confidence sequence). */
  differenceCi: Interval;
  /** Standard error of the difference. */
  standardError: number;
  /** `(treatmentMean − controlMean) / controlMean`; `null` when the control mean is 0. */
  lift: number | null;
  /**
   * `1 − alpha` interval of the relative lift by the delta method, with variance
   * `v_T / μ_C² + v_C · μ_T² / μ_C⁴` (v = squared standard error of each mean); `null` when the
   * control mean is 0.
   */
  liftCi: Interval | null;
  /** The test statistic (t, z, or for the sequential test the z-score of the difference). */
  statistic: number;
  /** Degrees of freedom (Welch–Satterthwaite); only for `'welch-t'`. */
  df?: number;
  /** Two-sided p-value (for the sequential test an always-valid p-value). */
  pValue: number;
  /** `pValue < alpha`. */
  significant: boolean;
}

/** Options every comparison takes. */
export interface ComparisonOptions {
  /** Significance level, in (0, 1); default 0.05. */
  alpha?: number;
}

/** Validates `alpha` (0 < alpha < 1) and returns it. @internal */
export function checkAlpha(alpha: unknown = 0.05, name = 'alpha'): number {
  const a = checkNumber(name, alpha, { min: 0, max: 1, exclusiveMin: true });
  if (a === 1) throw new ValidationError(`${name} must be a finite number > 0 and < 1, got number 1`);
  return a;
}

/** Relative lift and its variance by the delta method; `null` when the control mean is 0. @internal */
export function relativeLift(
  controlMean: number,
  controlVarianceOfMean: number,
  treatmentMean: number,
  treatmentVarianceOfMean: number,
): { lift: number; variance: number } | null {
  if (controlMean === 0) return null;
  const c2 = controlMean * controlMean;
  return {
    lift: (treatmentMean - controlMean) / controlMean,
    variance: treatmentVarianceOfMean / c2 + (controlVarianceOfMean * treatmentMean * treatmentMean) / (c2 * c2),
  };
}

/**
 * The `lift` and `liftCi` fields of a {@link ComparisonResult}: the relative lift with an interval of
 * `halfWidthPerSe` standard errors either side, both `null` when the control mean is 0. @internal
 */
export function liftFields(
  rel: { lift: number; variance: number } | null,
  halfWidthPerSe: number,
): Pick<ComparisonResult, 'lift' | 'liftCi'> {
  return rel ? { lift: rel.lift, liftCi: around(rel.lift, halfWidthPerSe * Math.sqrt(rel.variance)) } : { lift: null, liftCi: null };
}

/** `[center − halfWidth, center + halfWidth]`. @internal */
export function around(center: number, halfWidth: number): Interval {
  return [center - halfWidth, center + halfWidth];
}
