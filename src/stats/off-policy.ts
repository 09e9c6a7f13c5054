import { ValidationError, ZeroPropensityError, describeValue } from '../errors.js';
import { checkFunction } from '../options.js';
import { around, checkAlpha, type Interval } from './comparison.js';
import { zQuantile } from './distributions.js';

/** One logged decision: what the logging policy chose, with which probability, and what it earned. */
export interface LoggedDecision<C = unknown> {
  /** Whatever the target policy needs to decide (features, a unit id); passed to it untouched. */
  context?: C;
  /** The variant the logging policy chose. */
  variant: string;
  /** The probability with which it chose that variant for this request, in (0, 1] (`Assignment.propensity`). */
  propensity: number;
  /** The observed reward (a conversion 0/1, revenue, −latency …). */
  reward: number;
}

/** The policy to evaluate: the probability it would choose `variant` for `context`, in [0, 1]. */
export type TargetPolicy<C = unknown> = (context: C | undefined, variant: string) => number;

/** One estimate of a policy's value with its normal-approximation interval. */
export interface PolicyValueEstimate {
  estimate: number;
  standardError: number;
  /** 1 − α interval. */
  ci: Interval;
}

/** Result of {@link offPolicyEstimate}. */
export interface OffPolicyResult {
  records: number;
  alpha: number;
  /** Inverse propensity scoring: mean of w·r with w = π(variant | context) / propensity. Unbiased. */
  ips: PolicyValueEstimate;
  /** Self-normalised IPS: Σ w·r / Σ w. Slightly biased, far less variable; `null` when every weight is 0. */
  selfNormalized: PolicyValueEstimate | null;
  /** (Σ w)² / Σ w²: how many records the weighted log is worth; far below `records` means the estimates rest on a few records. */
  effectiveSampleSize: number;
  /** Largest weight seen. */
  maxWeight: number;
}

/** Options of {@link offPolicyEstimate}. */
export interface OffPolicyOptions {
  /** The intervals are 1 − α; default 0.05. */
  alpha?: number;
}

/**
 * The value (mean reward per request) another policy would have had, estimated from decisions a
 * logging policy made, without running it. With importance weights wᵢ = π(aᵢ | xᵢ) / μᵢ (μᵢ the
 * logged propensity):
 * - IPS (Horvitz–Thompson): V̂ = (1/n) Σ wᵢrᵢ, SE = sd(wᵢrᵢ)/√n;
 * - self-normalised IPS (Swaminathan & Joachims 2015): V̂ = Σ wᵢrᵢ / Σ wᵢ, SE by the delta method
 *   √(Σ wᵢ²(rᵢ − V̂)²) / Σ wᵢ;
 * each with the interval V̂ ± z_{1−α/2}·SE. Both need every logged propensity to be the
 * probability the logging policy really used, and positive wherever the target policy could act:
 * a record with propensity 0 is a {@link ZeroPropensityError}, any other bad value a
 * `ValidationError` naming the record.
 *
 * @example
 * ```ts
 * const alwaysB: TargetPolicy = (_ctx, variant) => (variant === 'b' ? 1 : 0);
 * offPolicyEstimate(records, alwaysB).selfNormalized?.ci; // what serving only 'b' would have earned
 * ```
 */
export function offPolicyEstimate<C>(
  records: readonly LoggedDecision<C>[],
  targetPolicy: TargetPolicy<C>,
  options: OffPolicyOptions = {},
): OffPolicyResult {
  const alpha = checkAlpha(options.alpha);
  const target = checkFunction<TargetPolicy<C>>('targetPolicy', targetPolicy);
  if (!Array.isArray(records) || records.length < 2) {
    throw new ValidationError(`records must be an array of at least 2 logged decisions, got ${describeValue(records)}`);
  }
  const n = records.length;
  const weights = new Float64Array(n);
  const rewards = new Float64Array(n);
  let sumW = 0;
  let sumW2 = 0;
  let sumWR = 0;
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    const record = records[i] as LoggedDecision<C>;
    const { propensity, reward, variant } = checkRecord(record, i);
    const probability: unknown = target(record.context, variant);
    if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) {
      throw new ValidationError(`targetPolicy must return a probability in [0, 1], got ${describeValue(probability)} for records[${i}]`);
    }
    const w = probability / propensity;
    weights[i] = w;
    rewards[i] = reward;
    sumW += w;
    sumW2 += w * w;
    sumWR += w * reward;
    if (w > maxWeight) maxWeight = w;
  }
  const z = zQuantile(1 - alpha / 2);
  const ipsValue = sumWR / n;
  let ipsSquares = 0;
  for (let i = 0; i < n; i++) ipsSquares += ((weights[i] as number) * (rewards[i] as number) - ipsValue) ** 2;
  const ipsSe = Math.sqrt(ipsSquares / (n - 1) / n);
  let selfNormalized: PolicyValueEstimate | null = null;
  if (sumW > 0) {
    const value = sumWR / sumW;
    let squares = 0;
    for (let i = 0; i < n; i++) squares += ((weights[i] as number) * ((rewards[i] as number) - value)) ** 2;
    const se = Math.sqrt(squares) / sumW;
    selfNormalized = { estimate: value, standardError: se, ci: around(value, z * se) };
  }
  return {
    records: n,
    alpha,
    ips: { estimate: ipsValue, standardError: ipsSe, ci: around(ipsValue, z * ipsSe) },
    selfNormalized,
    effectiveSampleSize: sumW2 > 0 ? (sumW * sumW) / sumW2 : 0,
    maxWeight,
  };
}

function checkRecord(record: unknown, i: number): { propensity: number; reward: number; variant: string } {
  if (typeof record !== 'object' || record === null) {
    throw new ValidationError(`records[${i}] must be { variant, propensity, reward, context? }, got ${describeValue(record)}`);
  }
  const { propensity, reward, variant } = record as Partial<LoggedDecision>;
  if (typeof variant !== 'string') throw new ValidationError(`records[${i}].variant must be a string, got ${describeValue(variant)}`);
  if (propensity === 0) {
    throw new ZeroPropensityError(
      `records[${i}].propensity is 0: the logging policy could never have chosen variant '${variant}', so the record has no importance weight; log the probability the policy actually used (Assignment.propensity, > 0)`,
      i,
    );
  }
  if (typeof propensity !== 'number' || !(propensity > 0 && propensity <= 1)) {
    throw new ValidationError(`records[${i}].propensity must be a probability in (0, 1], got ${describeValue(propensity)}`);
  }
  if (typeof reward !== 'number' || !Number.isFinite(reward)) {
    throw new ValidationError(`records[${i}].reward must be a finite number, got ${describeValue(reward)}`);
  }
  return { propensity, reward, variant };
}
