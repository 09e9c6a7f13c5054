import { ValidationError } from '../errors.js';
import { around, checkAlpha, liftFields, relativeLift, type ComparisonOptions, type ComparisonResult } from './comparison.js';
import { studentTwoSidedP, tQuantileOf } from './distributions.js';
import { toSummary, type SampleInput } from './summary.js';

/**
 * Welch's two-sample t-test (unequal variances): t = (x̄_T − x̄_C) / √(s_T²/n_T + s_C²/n_C) with
 * Welch–Satterthwaite degrees of freedom, two-sided p = 2·T_df(−|t|) from Student's t CDF. The
 * same numbers as R's `t.test(treatment, control)` and SciPy's `ttest_ind(equal_var=False)`.
 *
 * @param control - the control sample (raw values or a {@link SampleSummary}), at least 2 values.
 * @param treatment - the treatment sample, at least 2 values.
 * @example
 * ```ts
 * const r = welchTTest([19.8, 20.4, 19.6, 17.8, 18.5], [28.2, 26.6, 20.1, 23.3, 25.2]);
 * r.pValue; // 0.0146…   r.lift; // 0.284…
 * ```
 */
export function welchTTest(control: SampleInput, treatment: SampleInput, options: ComparisonOptions = {}): ComparisonResult {
  const alpha = checkAlpha(options.alpha);
  const c = toSummary('control', control);
  const t = toSummary('treatment', treatment);
  if (c.count < 2 || t.count < 2) {
    throw new ValidationError(`welchTTest needs at least 2 values per sample, got ${c.count} (control) and ${t.count} (treatment)`);
  }
  const vc = c.m2 / (c.count - 1) / c.count;
  const vt = t.m2 / (t.count - 1) / t.count;
  const variance = vc + vt;
  const difference = t.mean - c.mean;
  const standardError = Math.sqrt(variance);
  // Both samples constant: the difference is known exactly, and so is whether it is zero.
  if (standardError === 0) return degenerate(alpha, c.mean, t.mean);
  // In units of the larger variance: squared as they are, variances beyond ~1e154 (values near
  // ±1e77, which results accept) overflow to Infinity / Infinity = NaN degrees of freedom.
  const scale = Math.max(vc, vt);
  const a = vc / scale;
  const b = vt / scale;
  const df = ((a + b) * (a + b)) / ((a * a) / (c.count - 1) + (b * b) / (t.count - 1));
  const statistic = difference / standardError;
  const pValue = studentTwoSidedP(statistic, df);
  const critical = tQuantileOf(1 - alpha / 2, df);
  const rel = relativeLift(c.mean, vc, t.mean, vt);
  return {
    test: 'welch-t',
    alpha,
    controlMean: c.mean,
    treatmentMean: t.mean,
    difference,
    differenceCi: around(difference, critical * standardError),
    standardError,
    ...liftFields(rel, critical),
    statistic,
    df,
    pValue,
    significant: pValue < alpha,
  };
}

function degenerate(alpha: number, controlMean: number, treatmentMean: number): ComparisonResult {
  const difference = treatmentMean - controlMean;
  const lift = controlMean === 0 ? null : difference / controlMean;
  const pValue = difference === 0 ? 1 : 0;
  return {
    test: 'welch-t',
    alpha,
    controlMean,
    treatmentMean,
    difference,
    differenceCi: [difference, difference],
    standardError: 0,
    lift,
    liftCi: lift === null ? null : [lift, lift],
    statistic: difference === 0 ? 0 : Math.sign(difference) * Infinity,
    pValue,
    significant: pValue < alpha,
  };
}
