import { ValidationError, describeValue } from '../errors.js';
import { checkNumber } from '../options.js';
import { around, checkAlpha, type Interval } from './comparison.js';
import { checkProportion, type ProportionInput } from './proportions.js';
import { mixtureHalfWidthPerSe, mixturePValue, sequentialRho } from './sequential.js';

/**
 * What an evidence test concluded, with Argo Rollouts' meaning: `'failed'` (the candidate is worse
 * than the baseline beyond the margin, with confidence 1 − α), `'successful'` (shown within the
 * margin, with confidence 1 − α), `'inconclusive'` (not enough evidence either way yet).
 */
export type EvidenceVerdict = 'failed' | 'successful' | 'inconclusive';

/** Options of {@link proportionNonInferiorityTest}. */
export interface NonInferiorityOptions {
  /** Error probability of each verdict over all looks, in (0, 1); default 0.05. */
  alpha?: number;
  /** How much higher the candidate's rate may be and still count as no worse (absolute, 0.01 = 1 point); default 0. */
  margin?: number;
  /**
   * Total units (both versions) at which the confidence sequence is tightest; default 5000. Any
   * value keeps the guarantee; set it near where you expect to decide.
   */
  tuning?: number;
}

/** Result of {@link proportionNonInferiorityTest}. Differences are candidate − baseline. */
export interface NonInferiorityResult {
  test: 'always-valid-non-inferiority';
  alpha: number;
  margin: number;
  /** Bad outcomes / units of each version. */
  baselineRate: number;
  candidateRate: number;
  /** `candidateRate − baselineRate`. */
  difference: number;
  /** The 1 − α confidence sequence of the difference: it holds the true difference at every look at once. */
  differenceCi: Interval;
  /** Standard error of the difference (Agresti–Caffo: each rate counted with one extra bad and one extra good unit). */
  standardError: number;
  /** Always-valid p-value against "the candidate is at most `margin` worse": small means worse beyond the margin. */
  pValueWorse: number;
  /** Always-valid p-value against "the candidate is more than `margin` worse": small means shown non-inferior. */
  pValueNonInferior: number;
  verdict: EvidenceVerdict;
}

/**
 * Non-inferiority of a candidate's rate of bad outcomes (errors, slow requests) against a
 * baseline's, valid however often it is looked at. `successes` in each input counts the bad
 * outcomes. The difference d = p_C − p_B gets the two-sided 1 − α normal-mixture confidence
 * sequence of {@link sequentialTest} (Waudby-Smith et al. 2023; n = both versions' units), and
 * - `failed` when its lower end is above `margin` (d > margin with confidence 1 − α),
 * - `successful` when its upper end is below `margin` (d < margin with confidence 1 − α),
 * - `inconclusive` otherwise.
 * Each verdict is wrong with probability at most α over every look of an unbounded stream of looks
 * (Ville's inequality), so an analysis may judge after every interval. The p-values are the
 * mixture's for the z-score (d − margin)/SE on the side each verdict needs, so
 * `verdict === 'failed'` exactly when `pValueWorse < alpha`. The standard error adds one bad and
 * one good unit to each version (Agresti & Caffo 2000), so a version without any error yet still
 * has a positive variance and no verdict comes from zero counts.
 *
 * @example
 * ```ts
 * proportionNonInferiorityTest({ successes: 40, trials: 4000 }, { successes: 30, trials: 400 }, { margin: 0.01 });
 * // { difference: 0.065, differenceCi: [0.0243…, 0.1057…], verdict: 'failed', … }
 * ```
 */
export function proportionNonInferiorityTest(
  baseline: ProportionInput,
  candidate: ProportionInput,
  options: NonInferiorityOptions = {},
): NonInferiorityResult {
  const { alpha, margin, rho } = checkNonInferiorityOptions(options);
  const b = checkProportion('baseline', baseline);
  const c = checkProportion('candidate', candidate);
  return nonInferiority(b, c, alpha, margin, rho);
}

/** The test on checked inputs. @internal */
export function nonInferiority(b: ProportionInput, c: ProportionInput, alpha: number, margin: number, rho: number): NonInferiorityResult {
  const baselineRate = b.successes / b.trials;
  const candidateRate = c.successes / c.trials;
  const difference = candidateRate - baselineRate;
  const standardError = Math.sqrt(adjustedVariance(b) + adjustedVariance(c));
  const n = b.trials + c.trials;
  const halfWidth = mixtureHalfWidthPerSe(n, rho, alpha) * standardError;
  const z = (difference - margin) / standardError;
  const pValue = mixturePValue(z, n, rho);
  const pValueWorse = z > 0 ? pValue : 1;
  const pValueNonInferior = z < 0 ? pValue : 1;
  const verdict: EvidenceVerdict = pValueWorse < alpha ? 'failed' : pValueNonInferior < alpha ? 'successful' : 'inconclusive';
  return {
    test: 'always-valid-non-inferiority',
    alpha,
    margin,
    baselineRate,
    candidateRate,
    difference,
    differenceCi: around(difference, halfWidth),
    standardError,
    pValueWorse,
    pValueNonInferior,
    verdict,
  };
}

/** Checks the shared options and returns them with ρ. @internal */
export function checkNonInferiorityOptions(options: NonInferiorityOptions, defaultMargin = 0): { alpha: number; margin: number; rho: number } {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(`options must be an object, got ${describeValue(options)}`);
  }
  const alpha = checkAlpha(options.alpha);
  const margin = checkNumber('margin', options.margin ?? defaultMargin, { min: 0, max: 1 });
  const tuning = checkNumber('tuning', options.tuning ?? 5000, { min: 0, exclusiveMin: true });
  return { alpha, margin, rho: sequentialRho(alpha, tuning) };
}

function adjustedVariance(p: ProportionInput): number {
  const rate = (p.successes + 1) / (p.trials + 2);
  return (rate * (1 - rate)) / (p.trials + 2);
}
