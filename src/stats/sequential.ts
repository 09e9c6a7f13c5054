import { ValidationError } from '../errors.js';
import { checkNumber, checkOneOf } from '../options.js';
import { around, checkAlpha, liftFields, relativeLift, type ComparisonOptions, type ComparisonResult } from './comparison.js';
import type { MetricKind } from './power.js';
import { checkProportion, type ProportionInput } from './proportions.js';
import { toSummary, type SampleInput, type SampleSummary } from './summary.js';

/** Options of {@link sequentialTest}. */
export interface SequentialOptions extends ComparisonOptions {
  /** `'binary'` uses the variance p(1 − p) of a rate; default `'continuous'` (sample variance). */
  kind?: MetricKind;
  /**
   * N*: the total units (both arms) at which the confidence sequence is tightest; default 5000
   * (GrowthBook's). Set it near the size you expect to stop at; any value keeps the guarantee.
   */
  tuning?: number;
  /** Which estimate `pValue` and `significant` are about; default `'absolute'` (the difference). */
  difference?: 'absolute' | 'relative';
}

/** The mixing parameter ρ of the normal-mixture boundary, tuned so the sequence is tightest at `tuning` units. */
export function sequentialRho(alpha: number, tuning: number): number {
  const l = -2 * Math.log(alpha);
  return Math.sqrt((l + Math.log(l + 1)) / tuning);
}

/**
 * Half-width of the 1 − α normal-mixture confidence sequence after `n` units, in standard errors
 * of the estimate: √(2(nρ² + 1)·ln(√(nρ² + 1)/α) / (nρ²)). @internal
 */
export function mixtureHalfWidthPerSe(n: number, rho: number, alpha: number): number {
  const nr2p1 = n * rho * rho + 1;
  return Math.sqrt((2 * nr2p1 * Math.log(Math.sqrt(nr2p1) / alpha)) / (n * rho * rho));
}

/**
 * Always-valid p-value of a z-score after `n` units: min(1, √(nρ² + 1)·exp(−ρ²n·z² / (2(nρ² + 1)))),
 * the reciprocal of the normal-mixture martingale (Ville's inequality makes it valid at every look).
 * @internal
 */
export function mixturePValue(z: number, n: number, rho: number): number {
  const nr2p1 = n * rho * rho + 1;
  return Math.min(1, Math.exp(0.5 * Math.log(nr2p1) - (rho * rho * n * z * z) / (2 * nr2p1)));
}

/**
 * Two-sided test of treatment vs control whose p-value stays valid however often it is looked at:
 * the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2023,
 * arXiv:2103.06476), as GrowthBook's gbstats computes it. With n = n_C + n_T units, an estimate θ̂
 * with standard error SE, s² = SE²·n and ρ from `sequentialRho` (the tuning formula, in sequential.ts), the 1 − α sequence is
 * θ̂ ± s·√(2(nρ² + 1)·ln(√(nρ² + 1)/α) / (nρ)²), and the always-valid p-value is
 * min(1, √(nρ² + 1)·exp(−ρ²·n·(θ̂/SE)² / (2(nρ² + 1)))). This is the mixture SPRT of Johari et al.
 * with mixing variance τ² = ρ²s². The probability that any look, ever, has p < α under no
 * difference is at most α — so a dashboard may refresh after every result.
 *
 * `differenceCi` is the sequence for the difference, `liftCi` the sequence for the relative lift
 * (delta method), whichever of the two `difference` makes the p-value test.
 *
 * @example
 * ```ts
 * sequentialTest(controlSummary, treatmentSummary, { alpha: 0.05 }).significant;
 * ```
 */
export function sequentialTest(
  control: SampleInput | ProportionInput,
  treatment: SampleInput | ProportionInput,
  options: SequentialOptions = {},
): ComparisonResult {
  const alpha = checkAlpha(options.alpha);
  const kind = checkOneOf('kind', options.kind ?? 'continuous', ['binary', 'continuous'] as const);
  const tuning = checkNumber('tuning', options.tuning ?? 5000, { min: 0, exclusiveMin: true });
  const target = checkOneOf('difference', options.difference ?? 'absolute', ['absolute', 'relative'] as const);
  const c = asSummary('control', control);
  const t = asSummary('treatment', treatment);
  const minimum = kind === 'binary' ? 1 : 2;
  if (c.count < minimum || t.count < minimum) {
    throw new ValidationError(
      `sequentialTest needs at least ${minimum} values per sample for a ${kind} metric, got ${c.count} (control) and ${t.count} (treatment)`,
    );
  }
  const perUnitVariance = (s: SampleSummary) => (kind === 'binary' ? s.m2 / s.count : s.m2 / (s.count - 1));
  const vc = perUnitVariance(c) / c.count;
  const vt = perUnitVariance(t) / t.count;
  const n = c.count + t.count;
  const rho = sequentialRho(alpha, tuning);
  const widthPerSe = mixtureHalfWidthPerSe(n, rho, alpha);
  const difference = t.mean - c.mean;
  const standardError = Math.sqrt(vc + vt);
  const rel = relativeLift(c.mean, vc, t.mean, vt);
  const tested = target === 'absolute' ? { estimate: difference, se: standardError } : rel && { estimate: rel.lift, se: Math.sqrt(rel.variance) };
  if (!tested) throw new ValidationError("difference 'relative' needs a non-zero control mean, got 0");
  let statistic: number;
  let pValue: number;
  if (tested.se === 0) {
    statistic = tested.estimate === 0 ? 0 : Math.sign(tested.estimate) * Infinity;
    pValue = tested.estimate === 0 ? 1 : 0;
  } else {
    statistic = tested.estimate / tested.se;
    pValue = mixturePValue(statistic, n, rho);
  }
  return {
    test: 'asymptotic-confidence-sequence',
    alpha,
    controlMean: c.mean,
    treatmentMean: t.mean,
    difference,
    differenceCi: around(difference, widthPerSe * standardError),
    standardError,
    ...liftFields(rel, widthPerSe),
    statistic,
    pValue,
    significant: pValue < alpha,
  };
}

function asSummary(name: string, input: SampleInput | ProportionInput): SampleSummary {
  if (typeof input === 'object' && input !== null && !Array.isArray(input) && 'successes' in input) {
    const { successes, trials } = checkProportion(name, input);
    const p = successes / trials;
    return { count: trials, mean: p, m2: trials * p * (1 - p) };
  }
  return toSummary(name, input as SampleInput);
}
