import type { LatencyHistogram } from '../stats/latency-non-inferiority.js';

/**
 * Everything a version's outcomes say, as counts: requests, failures and the latency histogram
 * (the sketch's bins, ascending). Counts subtract exactly, so the outcomes between two readings of
 * the same monitor are {@link outcomesBetween} the two, merged replicas included.
 */
export interface OutcomeHistogram {
  totalRequests: number;
  failures: number;
  latency: LatencyHistogram;
}

/** No outcomes. */
export const NO_OUTCOMES: OutcomeHistogram = Object.freeze({
  totalRequests: 0,
  failures: 0,
  latency: Object.freeze({ values: new Float64Array(0), counts: new Float64Array(0) }),
});

/**
 * The outcomes recorded after `earlier` and up to `later`, two readings of the same version's
 * lifetime. Bins line up bit for bit (same sketch accuracy), so each bin's count is a difference
 * of two integers and the result is what a monitor started at `earlier` would hold.
 */
export function outcomesBetween(later: OutcomeHistogram, earlier: OutcomeHistogram): OutcomeHistogram {
  const values: number[] = [];
  const counts: number[] = [];
  const a = later.latency;
  const b = earlier.latency;
  let j = 0;
  for (let i = 0; i < a.values.length; i++) {
    const value = a.values[i] as number;
    while (j < b.values.length && (b.values[j] as number) < value) j++;
    const before = j < b.values.length && b.values[j] === value ? (b.counts[j] as number) : 0;
    const count = (a.counts[i] as number) - before;
    if (count > 0) {
      values.push(value);
      counts.push(count);
    }
  }
  return {
    totalRequests: later.totalRequests - earlier.totalRequests,
    failures: later.failures - earlier.failures,
    latency: { values: Float64Array.from(values), counts: Float64Array.from(counts) },
  };
}

/**
 * The outcomes of two disjoint sets of requests together (two replicas' windows): counts add,
 * and the latency bins merge (bins of the same sketch accuracy line up bit for bit).
 */
export function addOutcomes(a: OutcomeHistogram, b: OutcomeHistogram): OutcomeHistogram {
  if (b.totalRequests === 0 && b.latency.values.length === 0) return a;
  if (a.totalRequests === 0 && a.latency.values.length === 0) return b;
  const values: number[] = [];
  const counts: number[] = [];
  const x = a.latency;
  const y = b.latency;
  let i = 0;
  let j = 0;
  while (i < x.values.length || j < y.values.length) {
    const u = i < x.values.length ? (x.values[i] as number) : Number.POSITIVE_INFINITY;
    const v = j < y.values.length ? (y.values[j] as number) : Number.POSITIVE_INFINITY;
    values.push(Math.min(u, v));
    counts.push((u <= v ? (x.counts[i++] as number) : 0) + (v <= u ? (y.counts[j++] as number) : 0));
  }
  return {
    totalRequests: a.totalRequests + b.totalRequests,
    failures: a.failures + b.failures,
    latency: { values: Float64Array.from(values), counts: Float64Array.from(counts) },
  };
}
