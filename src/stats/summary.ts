import { ValidationError, describeValue } from '../errors.js';

/**
 * Streaming sufficient statistics of one sample: how many values, their mean, and M2 (the sum of
 * squared deviations from the mean). Three numbers whatever the traffic, JSON-safe, and mergeable
 * exactly across replicas with {@link mergeSummaries}.
 */
export interface SampleSummary {
  count: number;
  mean: number;
  /** Σ (xᵢ − mean)²; the sample variance is `m2 / (count − 1)`. */
  m2: number;
}

/** A sample given either as its raw values or as its {@link SampleSummary}. */
export type SampleInput = readonly number[] | SampleSummary;

/** A summary of no values. */
export function emptySummary(): SampleSummary {
  return { count: 0, mean: 0, m2: 0 };
}

/**
 * Adds one value to `summary` in place (Welford's update, numerically stable: no sum of squares
 * that cancels catastrophically). The caller checks `value` is finite; this is the hot path.
 */
export function addObservation(summary: SampleSummary, value: number): void {
  const count = summary.count + 1;
  const delta = value - summary.mean;
  const mean = summary.mean + delta / count;
  summary.m2 += delta * (value - mean);
  summary.mean = mean;
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
  if (a.count === 0) return { count: b.count, mean: b.mean, m2: b.m2 };
  if (b.count === 0) return { count: a.count, mean: a.mean, m2: a.m2 };
  const count = a.count + b.count;
  const delta = b.mean - a.mean;
  return {
    count,
    mean: a.mean + (delta * b.count) / count,
    m2: a.m2 + b.m2 + (delta * delta * a.count * b.count) / count,
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
    Number.isInteger(s.count) &&
    s.count >= 0 &&
    typeof s.mean === 'number' &&
    Number.isFinite(s.mean) &&
    typeof s.m2 === 'number' &&
    Number.isFinite(s.m2) &&
    s.m2 >= 0 &&
    (s.count > 0 || (s.mean === 0 && s.m2 === 0));
  if (!ok) {
    throw new ValidationError(
      `${name} must be { count: integer >= 0, mean: finite, m2: finite >= 0 }, got ${describeValue(value)}`,
    );
  }
  return { count: s.count as number, mean: s.mean as number, m2: s.m2 as number };
}

/** A {@link SampleInput} as a summary (raw values are summarised, summaries checked). @internal */
export function toSummary(name: string, input: SampleInput): SampleSummary {
  return Array.isArray(input) ? summarize(input, name) : checkSummary(name, input);
}
