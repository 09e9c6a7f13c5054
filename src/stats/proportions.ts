import { ValidationError, describeValue } from '../errors.js';
import { around, checkAlpha, liftFields, relativeLift, type ComparisonOptions, type ComparisonResult } from './comparison.js';
import { normalTwoSidedP, zQuantile } from './distributions.js';

/** A binary metric's sufficient statistics: how many of `trials` were successes. */
export interface ProportionInput {
  successes: number;
  trials: number;
}

/** Checks a {@link ProportionInput} (integers, 0 ≤ successes ≤ trials, trials ≥ 1). @internal */
export function checkProportion(name: string, value: unknown): ProportionInput {
  const p = value as Partial<ProportionInput> | null;
  const ok =
    typeof p === 'object' &&
    p !== null &&
    Number.isInteger(p.successes) &&
    Number.isInteger(p.trials) &&
    (p.trials as number) >= 1 &&
    (p.successes as number) >= 0 &&
    (p.successes as number) <= (p.trials as number);
  if (!ok) {
    throw new ValidationError(
      `${name} must be { successes, trials } with integers 0 <= successes <= trials and trials >= 1, got ` +
        (typeof p === 'object' && p !== null ? `{ successes: ${String(p.successes)}, trials: ${String(p.trials)} }` : describeValue(value)),
    );
  }
  return { successes: p.successes as number, trials: p.trials as number };
}

/**
 * Two-proportion z-test: z = (p̂_T − p̂_C) / √(p̄(1 − p̄)(1/n_T + 1/n_C)) with the pooled rate p̄
 * under the null, two-sided p = 2·Φ(−|z|) — the same test as R's `prop.test(correct = FALSE)`
 * (whose χ² is z²). The interval of the difference is the unpooled Wald interval R reports; the
 * lift interval is the delta method on the unpooled variances.
 *
 * @example
 * ```ts
 * twoProportionZTest({ successes: 120, trials: 1000 }, { successes: 155, trials: 1000 }).pValue; // 0.0231…
 * ```
 */
export function twoProportionZTest(
  control: ProportionInput,
  treatment: ProportionInput,
  options: ComparisonOptions = {},
): ComparisonResult {
  const alpha = checkAlpha(options.alpha);
  const c = checkProportion('control', control);
  const t = checkProportion('treatment', treatment);
  const pc = c.successes / c.trials;
  const pt = t.successes / t.trials;
  const difference = pt - pc;
  const pooled = (c.successes + t.successes) / (c.trials + t.trials);
  const nullSe = Math.sqrt(pooled * (1 - pooled) * (1 / c.trials + 1 / t.trials));
  // Pooled rate 0 or 1: both arms identical (all failures or all successes), no evidence of a difference.
  const statistic = nullSe === 0 ? 0 : difference / nullSe;
  const pValue = nullSe === 0 ? 1 : normalTwoSidedP(statistic);
  const vc = (pc * (1 - pc)) / c.trials;
  const vt = (pt * (1 - pt)) / t.trials;
  const standardError = Math.sqrt(vc + vt);
  const critical = zQuantile(1 - alpha / 2);
  const [low, high] = around(difference, critical * standardError);
  const rel = relativeLift(pc, vc, pt, vt);
  return {
    test: 'two-proportion-z',
    alpha,
    controlMean: pc,
    treatmentMean: pt,
    difference,
    // A difference of two rates lies in [−1, 1]; R clips its interval the same way.
    differenceCi: [Math.max(-1, low), Math.min(1, high)],
    standardError,
    ...liftFields(rel, critical),
    statistic,
    pValue,
    significant: pValue < alpha,
  };
}
