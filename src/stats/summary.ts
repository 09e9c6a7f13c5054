import { ValidationError, describeValue } from '../errors.js';

/**
 * Streaming sufficient statistics of one sample: how many values, their mean, and M2 (the sum of
 * squared deviations from the mean). A few numbers whatever the traffic, JSON-safe, and mergeable
 * exactly across replicas with {@link mergeSummaries}.
 */
export interface SampleSummary {
  count: number;
  /** The running mean, rounded to a double. */
  mean: number;
  /** Σ (xᵢ − mean)²; the sample variance is `m2 / (count − 1)`. */
  m2: number;
  /**
   * What the double `mean` cannot hold of the exact running mean (at most half a unit in its last
   * place): carried between updates so that a long stream at a large offset (10⁷ values of mean
   * 10⁶ and sd 1) keeps its mean to the last bit instead of drifting by one rounding per value.
   * Absent means 0, so summaries built elsewhere need not set it.
   */
  meanCorrection?: number;
}

/** A sample given either as its raw values or as its {@link SampleSummary}. */
export type SampleInput = readonly number[] | SampleSummary;

/** A summary of no values. */
export function emptySummary(): SampleSummary {
  return { count: 0, mean: 0, m2: 0, meanCorrection: 0 };
}

/**
 * Adds `a` and `b` and returns the rounded sum, leaving the exact rounding error in `roundingError`
 * (Knuth's TwoSum: six flops, no branch). A module-level slot, not a tuple, keeps the hot path free
 * of allocation.
 */
let roundingError = 0;
function twoSum(a: number, b: number): number {
  const sum = a + b;
  const bVirtual = sum - a;
  roundingError = a - (sum - bVirtual) + (b - bVirtual);
  return sum;
}

/**
 * Adds one value to `summary` in place: Welford's update (no sum of squares that cancels
 * catastrophically) with the mean carried as a double plus its rounding error
 * ({@link SampleSummary.meanCorrection}), so the mean does not drift at a large offset. The
 * caller checks `value` is finite; this is the hot path.
 */
export function addObservation(summary: SampleSummary, value: number): void {
  const count = summary.count + 1;
  const old = summary.mean;
  const correction = summary.meanCorrection ?? 0;
  const delta = value - old - correction;
  const increment = correction + delta / count;
  // twoSum(old, increment), inlined on this hot path.
  const mean = old + increment;
  const virtual = mean - old;
  const error = old - (mean - virtual) + (increment - virtual);
  summary.m2 += delta * (value - mean - error);
  summary.mean = mean;
  summary.meanCorrection = error;
  summary.count = count;
}

/**
 * Combines two summaries into the summary of both samples together (Chan, Golub & LeVeque's
 * parallel update), so replicas' statistics add up to exactly what one process would have seen.
 *
 * @example
 * ```ts
 * mergeSummaries(summarize([1, 2]), summarize([3, 4])); // same as summarize([1, 2, 3, 4])
 * ```
 */
export function mergeSummaries(a: SampleSummary, b: SampleSummary): SampleSummary {
  const ca = a.meanCorrection ?? 0;
  const cb = b.meanCorrection ?? 0;
  if (a.count === 0) return { count: b.count, mean: b.mean, m2: b.m2, meanCorrection: cb };
  if (b.count === 0) return { count: a.count, mean: a.mean, m2: a.m2, meanCorrection: ca };
  const count = a.count + b.count;
  const delta = b.mean - a.mean + (cb - ca);
  const mean = twoSum(a.mean, ca + (delta * b.count) / count);
  return {
    count,
    mean,
    m2: a.m2 + b.m2 + (delta * delta * a.count * b.count) / count,
    meanCorrection: roundingError,
  };
}

/** The summary of `values`; a non-finite value is a `ValidationError`. */
export function summarize(values: readonly number[], name = 'values'): SampleSummary {
  if (!Array.isArray(values)) throw new ValidationError(`${name} must be an array of numbers, got ${describeValue(values)}`);
  const summary = emptySummary();
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new ValidationError(`${name}[${i}] must be a finite number, got ${describeValue(v)}`);
    }
    addObservation(summary, v);
  }
  return summary;
}

/** The unbiased sample variance `m2 / (count − 1)`; `NaN` below two values. */
export function summaryVariance(summary: SampleSummary): number {
  return summary.count < 2 ? Number.NaN : summary.m2 / (summary.count - 1);
}

/**
 * Checks that `value` is a well-formed {@link SampleSummary} (count a non-negative integer, mean and
 * m2 finite, m2 ≥ 0, and all zero when count is 0) and returns a copy.
 */
export function checkSummary(name: string, value: unknown): SampleSummary {
  const s = value as Partial<SampleSummary> | null;
  const ok =
    typeof s === 'object' &&
    s !== null &&
    typeof s.count === 'number' &&
    Number.isSafeInteger(s.count) &&
    s.count >= 0 &&
    typeof s.mean === 'number' &&
    Number.isFinite(s.mean) &&
    typeof s.m2 === 'number' &&
    Number.isFinite(s.m2) &&
    s.m2 >= 0 &&
    (s.count > 0 || (s.mean === 0 && s.m2 === 0)) &&
    (s.meanCorrection === undefined ||
      (typeof s.meanCorrection === 'number' && Math.abs(s.meanCorrection) <= Math.abs(s.mean as number) * Number.EPSILON));
  if (!ok) {
    throw new ValidationError(
      `${name} must be { count: integer from 0 to 2^53, mean: finite, m2: finite >= 0, meanCorrection?: at most an ulp of mean }, got ${describeValue(value)}`,
    );
  }
  return { count: s.count as number, mean: s.mean as number, m2: s.m2 as number, meanCorrection: s.meanCorrection ?? 0 };
}

/** A {@link SampleInput} as a summary (raw values are summarised, summaries checked). @internal */
export function toSummary(name: string, input: SampleInput): SampleSummary {
  return Array.isArray(input) ? summarize(input, name) : checkSummary(name, input);
}
