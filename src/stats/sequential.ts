import { ValidationError, describeValue } from '../errors.js';
import { checkNumber, checkOneOf } from '../options.js';
import { around, checkAlpha, liftFields, relativeLift, type ComparisonOptions, type ComparisonResult, type Interval } from './comparison.js';
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

/**
 * What an always-valid test remembers between looks: the smallest p-value seen and the
 * intersection of every confidence sequence so far. JSON-safe; start from `undefined`.
 */
export interface SequentialState {
  /** Looks folded in so far. */
  looks: number;
  /** The running minimum of the p-values. */
  pValue: number;
  /** The running intersection of the difference's sequences. */
  differenceCi: Interval;
  /**
   * The running intersection of the lift's sequences; `null` when the latest look had none (a
   * control mean of 0, or so near 0 that the interval is NaN), restarting from the next look that
   * has one. Infinite bounds are kept as ±`Number.MAX_VALUE`, here and in `differenceCi`.
   */
  liftCi: Interval | null;
}

const WHOLE_LINE: Interval = [-Number.MAX_VALUE, Number.MAX_VALUE];

/**
 * `ci` with infinite bounds at ±`Number.MAX_VALUE`, or `null` when a bound is NaN: a state is
 * stored as JSON, where ±Infinity would come back as null. (A control mean near 0 makes the
 * lift's interval infinite, or NaN where ∞ − ∞ meets.)
 */
function storable(ci: Interval | null): Interval | null {
  if (ci === null || Number.isNaN(ci[0]) || Number.isNaN(ci[1])) return null;
  return [Math.max(ci[0], -Number.MAX_VALUE), Math.min(ci[1], Number.MAX_VALUE)];
}

function intersect(previous: Interval, current: Interval): Interval {
  const low = Math.max(previous[0], current[0]);
  const high = Math.min(previous[1], current[1]);
  // Disjoint only on the (≤ α) event that some sequence missed the effect, or when the effect
  // itself moved; the interval type has no empty value, so report the point between the bounds.
  return low <= high ? [low, high] : [(low + high) / 2, (low + high) / 2];
}

/**
 * Folds one look of {@link sequentialTest} into the running state and returns the result as the
 * literature defines the always-valid quantities (Howard et al. 2021; Johari et al. 2022): the
 * p-value is the running minimum of the p-values so far, the confidence sequence the running
 * intersection of the sequences so far, and `significant` is `pValue < alpha`. Both are exactly
 * as valid as each look (the guarantee holds for all times at once), and once significant a
 * result stays significant however the totals move: recomputing from the current totals instead
 * would let a result that crossed α slip back, so the last look would understate the evidence.
 *
 * A pure function of its arguments: the caller stores the returned state (e.g. beside its
 * summaries) and passes it to the next look of the same comparison.
 *
 * @example
 * ```ts
 * let state: SequentialState | undefined;
 * for (const look of dashboardRefreshes) {
 *   const step = sequentialLook(state, sequentialTest(look.control, look.treatment));
 *   state = step.state;
 *   show(step.result.pValue, step.result.differenceCi); // monotone p, nested intervals
 * }
 * ```
 * @throws ValidationError when `current` is not a sequential result, or `state` is malformed.
 */
export function sequentialLook(state: SequentialState | undefined, current: ComparisonResult): { state: SequentialState; result: ComparisonResult } {
  if (current?.test !== 'asymptotic-confidence-sequence') {
    throw new ValidationError(`sequentialLook needs a result of sequentialTest, got a test of ${String(current?.test)}`);
  }
  const currentDifference = storable(current.differenceCi) ?? WHOLE_LINE;
  const currentLift = storable(current.liftCi);
  if (state === undefined) {
    const first: SequentialState = { looks: 1, pValue: current.pValue, differenceCi: [...currentDifference], liftCi: currentLift && [...currentLift] };
    return { state: first, result: { ...current, differenceCi: [...currentDifference], liftCi: currentLift && [...currentLift] } };
  }
  const previous = checkSequentialState(state);
  const pValue = Math.min(previous.pValue, current.pValue);
  const differenceCi = intersect(previous.differenceCi, currentDifference);
  const liftCi = previous.liftCi && currentLift ? intersect(previous.liftCi, currentLift) : currentLift;
  const next: SequentialState = { looks: previous.looks + 1, pValue, differenceCi, liftCi: liftCi && [...liftCi] };
  return { state: next, result: { ...current, pValue, differenceCi: [...differenceCi], liftCi: liftCi && [...liftCi], significant: pValue < current.alpha } };
}

function isInterval(value: unknown): value is Interval {
  // Finite: a state is stored as JSON, where ±Infinity would come back as null.
  return Array.isArray(value) && value.length === 2 && value.every((v) => Number.isFinite(v)) && value[0] <= value[1];
}

/** Checks a {@link SequentialState} (e.g. from a snapshot) and returns a copy. @throws ValidationError naming the field. */
export function checkSequentialState(value: unknown, name = 'state'): SequentialState {
  const s = value as Partial<SequentialState> | null;
  if (typeof s !== 'object' || s === null) throw new ValidationError(`${name} must be a SequentialState object, got ${describeValue(value)}`);
  if (!Number.isSafeInteger(s.looks) || (s.looks as number) < 1) throw new ValidationError(`${name}.looks must be an integer >= 1, got ${describeValue(s.looks)}`);
  if (typeof s.pValue !== 'number' || !(s.pValue >= 0 && s.pValue <= 1)) throw new ValidationError(`${name}.pValue must be a number in [0, 1], got ${describeValue(s.pValue)}`);
  if (!isInterval(s.differenceCi)) throw new ValidationError(`${name}.differenceCi must be a finite interval [low, high], got ${describeValue(s.differenceCi)}`);
  if (s.liftCi !== null && !isInterval(s.liftCi)) throw new ValidationError(`${name}.liftCi must be a finite interval [low, high] or null, got ${describeValue(s.liftCi)}`);
  return { looks: s.looks as number, pValue: s.pValue, differenceCi: [...s.differenceCi], liftCi: s.liftCi && [...s.liftCi] };
}
