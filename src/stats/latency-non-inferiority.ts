import { ValidationError, describeValue } from '../errors.js';
import { checkNumber } from '../options.js';
import { checkNonInferiorityOptions, nonInferiority, type NonInferiorityOptions, type NonInferiorityResult } from './non-inferiority.js';

/**
 * Latencies of one version: raw values in ms, or a histogram of ascending distinct `values` with
 * the `counts` of each (what a DDSketch's bins give, e.g. `DeploymentMonitor.latencyHistogram`).
 */
export type LatencySample = readonly number[] | LatencyHistogram;

/** Ascending distinct values (ms) and how many requests took each. */
export interface LatencyHistogram {
  values: ArrayLike<number>;
  counts: ArrayLike<number>;
}

/** Options of {@link latencyNonInferiorityTest}. */
export interface LatencyNonInferiorityOptions extends Omit<NonInferiorityOptions, 'margin'> {
  /** Which quantile of the baseline sets the bar, in (0, 1); default 0.95 (a p99 needs five times the traffic for the same power). */
  quantile?: number;
  /** The candidate may be this many times slower at that quantile; default 1.2 (20 % slower). */
  maxLatencyRatio?: number;
  /** …and always at least this many ms slower, so sub-millisecond noise never fails a version; default 1. */
  minLatencyDifferenceMs?: number;
}

/** Result of {@link latencyNonInferiorityTest}: the proportion test on "slower than the bar" plus the bar itself. */
export interface LatencyNonInferiorityResult extends Omit<NonInferiorityResult, 'test'> {
  test: 'always-valid-latency-non-inferiority';
  quantile: number;
  /** The baseline's latency at `quantile`, in ms. */
  baselineQuantileMs: number;
  /** The candidate's latency at `quantile`, in ms (for reports; the test uses the counts). */
  candidateQuantileMs: number;
  /** The bar: max(baselineQuantileMs × maxLatencyRatio, baselineQuantileMs + minLatencyDifferenceMs). */
  limitMs: number;
  /** Baseline requests slower than `baselineQuantileMs`, and candidate requests slower than `limitMs`. */
  baselineSlower: number;
  candidateSlower: number;
}

/**
 * Is the candidate's latency at a quantile (default p95) at most `maxLatencyRatio` times the
 * baseline's, on the same window? A latency quantile is turned into a proportion, which the
 * sketches give exactly: with T the baseline's quantile and L = max(T × ratio, T + floor), the
 * share of candidate requests slower than L is compared with the share of baseline requests slower
 * than T by {@link proportionNonInferiorityTest} with margin 0. If the candidate's quantile is at
 * most L, its share above L is at most the baseline's share above T, so `failed` (candidate share
 * higher with confidence 1 − α) means the candidate is slower than the bar and `successful` means
 * it is shown faster than the bar. Load that slows both versions moves T and L with it and fails
 * nothing. The binomial variance of the baseline's share stands for the uncertainty of T itself
 * (the asymptotic variance of F(T̂) at the sample quantile), so the guarantee is asymptotic, as the
 * error-rate test's is.
 *
 * @example
 * ```ts
 * latencyNonInferiorityTest(stableLatencies, canaryLatencies, { maxLatencyRatio: 1.2 }).verdict; // 'failed' for a 1.5× slower canary
 * ```
 */
export function latencyNonInferiorityTest(
  baseline: LatencySample,
  candidate: LatencySample,
  options: LatencyNonInferiorityOptions = {},
): LatencyNonInferiorityResult {
  const { alpha, rho } = checkNonInferiorityOptions({ ...options, margin: 0 });
  const quantile = checkNumber('quantile', options.quantile ?? 0.95, { min: 0, max: 1, exclusiveMin: true });
  if (quantile === 1) throw new ValidationError('quantile must be a finite number > 0 and < 1, got number 1');
  const ratio = checkNumber('maxLatencyRatio', options.maxLatencyRatio ?? 1.2, { min: 1 });
  const floor = checkNumber('minLatencyDifferenceMs', options.minLatencyDifferenceMs ?? 1, { min: 0 });
  const b = toHistogram('baseline', baseline);
  const c = toHistogram('candidate', candidate);
  const baselineQuantileMs = valueAtQuantile(b, quantile);
  const limitMs = Math.max(baselineQuantileMs * ratio, baselineQuantileMs + floor);
  const baselineSlower = countAbove(b, baselineQuantileMs);
  const candidateSlower = countAbove(c, limitMs);
  const { test: _proportionTest, ...evidence } = nonInferiority(
    { successes: baselineSlower, trials: b.total },
    { successes: candidateSlower, trials: c.total },
    alpha,
    0,
    rho,
  );
  return {
    test: 'always-valid-latency-non-inferiority',
    ...evidence,
    quantile,
    baselineQuantileMs,
    candidateQuantileMs: valueAtQuantile(c, quantile),
    limitMs,
    baselineSlower,
    candidateSlower,
  };
}

interface CheckedHistogram {
  values: ArrayLike<number>;
  counts: ArrayLike<number>;
  total: number;
}

function toHistogram(name: string, sample: LatencySample): CheckedHistogram {
  if (Array.isArray(sample)) {
    const values = (sample as readonly unknown[]).map((v, i) => {
      if (typeof v !== 'number' || !(v >= 0 && v < Infinity)) {
        throw new ValidationError(`${name}[${i}] must be a finite latency >= 0 (ms), got ${describeValue(v)}`);
      }
      return v;
    });
    if (values.length === 0) throw new ValidationError(`${name} must hold at least one latency, got an empty array`);
    values.sort((x, y) => x - y);
    return { values, counts: new Array<number>(values.length).fill(1), total: values.length };
  }
  const h = sample as Partial<LatencyHistogram> | null;
  if (typeof h !== 'object' || h === null || !isArrayLike(h.values) || !isArrayLike(h.counts) || h.values.length !== h.counts.length) {
    throw new ValidationError(`${name} must be an array of latencies or { values, counts } of equal length, got ${describeValue(sample)}`);
  }
  let total = 0;
  for (let i = 0; i < h.values.length; i++) {
    const v = h.values[i] as number;
    const count = h.counts[i] as number;
    if (!(v >= 0 && v < Infinity) || (i > 0 && !(v > (h.values[i - 1] as number)))) {
      throw new ValidationError(`${name}.values must be ascending finite latencies >= 0, got ${describeValue(v)} at index ${i}`);
    }
    if (!(count >= 0 && Number.isSafeInteger(count))) {
      throw new ValidationError(`${name}.counts[${i}] must be an integer >= 0, got ${describeValue(count)}`);
    }
    total += count;
  }
  if (total === 0) throw new ValidationError(`${name} must hold at least one latency, got counts summing to 0`);
  return { values: h.values, counts: h.counts, total };
}

function isArrayLike(value: unknown): value is ArrayLike<number> {
  return Array.isArray(value) || ArrayBuffer.isView(value);
}

/** The latency at quantile `q` of a histogram (0 when it is empty), as {@link latencyNonInferiorityTest} reads it. @internal */
export function histogramQuantile(h: LatencyHistogram, q: number): number {
  let total = 0;
  for (let i = 0; i < h.counts.length; i++) total += h.counts[i] as number;
  return total === 0 ? 0 : valueAtQuantile({ ...h, total }, q);
}

/** The smallest value with at least ⌈q·n⌉ values at or below it (the inverse of the empirical CDF). */
function valueAtQuantile(h: CheckedHistogram, q: number): number {
  const rank = Math.max(1, Math.ceil(q * h.total));
  let seen = 0;
  for (let i = 0; i < h.values.length; i++) {
    seen += h.counts[i] as number;
    if (seen >= rank) return h.values[i] as number;
  }
  return h.values[h.values.length - 1] as number;
}

function countAbove(h: CheckedHistogram, threshold: number): number {
  let above = 0;
  for (let i = h.values.length - 1; i >= 0 && (h.values[i] as number) > threshold; i--) above += h.counts[i] as number;
  return above;
}
