/**
 * The distribution functions the tests need, from `@stdlib` (well-kept, accurate to double
 * precision in the tails) rather than hand-rolled special functions. Tail probabilities are taken
 * from the side that keeps their precision: `2·T(−|t|)` rather than `2·(1 − T(|t|))`, which would
 * round p-values below ~1e-16 to 0.
 *
 * @module
 */
import gammainc from '@stdlib/math-base-special-gammainc';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** Two-sided p-value of a standard normal statistic: 2·Φ(−|z|). @internal */
export function normalTwoSidedP(z: number): number {
  return Math.min(1, 2 * normalCdf(-Math.abs(z), 0, 1));
}

/** Two-sided p-value of a Student t statistic with `df` degrees of freedom: 2·T_df(−|t|). @internal */
export function studentTwoSidedP(t: number, df: number): number {
  return Math.min(1, 2 * tCdf(-Math.abs(t), df));
}

/** Upper tail P(X ≥ x) of χ² with `df` degrees of freedom: the regularised upper incomplete gamma Q(df/2, x/2). @internal */
export function chiSquareUpperTail(x: number, df: number): number {
  if (x <= 0) return 1;
  return gammainc(x / 2, df / 2, true, true);
}

/** The standard normal quantile Φ⁻¹(p). @internal */
export function zQuantile(p: number): number {
  return normalQuantile(p, 0, 1);
}

/** The Student t quantile with `df` degrees of freedom (the normal one when `df` is infinite). @internal */
export function tQuantileOf(p: number, df: number): number {
  return Number.isFinite(df) ? tQuantile(p, df) : normalQuantile(p, 0, 1);
}
