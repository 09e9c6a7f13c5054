/**
 * Distribution drift between two output sketches: population stability index over the
 * baseline's quantile bins and the two-sample Kolmogorov–Smirnov statistic, both computed from
 * sketch bins (no raw values are kept).
 *
 * @module
 */
import type { Sketch } from './sketch.js';
import { sketchHistogram } from './sketch.js';

/** PSI verdict bands commonly used in credit scoring and model monitoring: < 0.1, 0.1–0.25, ≥ 0.25. */
export type DriftVerdict = 'insufficient-data' | 'stable' | 'moderate' | 'significant';

/** Result of {@link DeploymentMonitor.drift}. */
export interface DriftReport {
  /**
   * Population stability index Σ (a − e)·ln(a / e) over `bins` bins cut at the baseline's
   * quantiles (e = baseline share, a = current share; empty shares count as 0.0001).
   */
  psi: number;
  /** Two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical CDFs. */
  ks: number;
  /** Asymptotic p-value of `ks` (Kolmogorov distribution with n = n₁n₂/(n₁+n₂)). */
  ksPValue: number;
  /** Outputs recorded for the version judged and for the baseline. */
  samples: number;
  baselineSamples: number;
  /** From `psi`: `stable` < 0.1 ≤ `moderate` < 0.25 ≤ `significant`; `insufficient-data` below `minSamples`. */
  verdict: DriftVerdict;
}

/** Share given to an empty bin so the PSI stays finite (the usual convention). */
const EMPTY_SHARE = 1e-4;

/** PSI thresholds: the common "no / moderate / significant shift" bands. */
export const PSI_MODERATE = 0.1;
export const PSI_SIGNIFICANT = 0.25;

/**
 * PSI of `current` against `baseline`, with bins cut at the baseline's 1/bins, 2/bins, …
 * quantiles. Both sketches share one mapping, so a bin's representative value is identical in
 * both and every value falls on the same side of every cut.
 */
export function populationStabilityIndex(current: Sketch, baseline: Sketch, bins: number): number {
  if (current.count === 0 || baseline.count === 0) return 0;
  const cuts: number[] = [];
  for (let k = 1; k < bins; k++) {
    const cut = baseline.getValueAtQuantile(k / bins);
    if (cuts.length === 0 || cut > (cuts[cuts.length - 1] as number)) cuts.push(cut);
  }
  const expected = binShares(baseline, cuts);
  const actual = binShares(current, cuts);
  let psi = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i] as number, EMPTY_SHARE);
    const a = Math.max(actual[i] as number, EMPTY_SHARE);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/** Share of a sketch's values in each interval (−∞, c₀], (c₀, c₁], …, (cₖ, ∞). */
function binShares(sketch: Sketch, cuts: readonly number[]): Float64Array {
  const shares = new Float64Array(cuts.length + 1);
  const { values, counts } = sketchHistogram(sketch);
  let bin = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number;
    while (bin < cuts.length && value > (cuts[bin] as number)) bin++;
    shares[bin] = (shares[bin] as number) + (counts[i] as number) / sketch.count;
  }
  return shares;
}

/**
 * Two-sample KS statistic from sketch bins. Values that share a bin cannot be told apart, so
 * this is the exact statistic of the binned data and never exceeds the statistic of the raw
 * values by more than the mass of one bin's worth of ties.
 */
export function kolmogorovSmirnov(a: Sketch, b: Sketch): number {
  if (a.count === 0 || b.count === 0) return 0;
  const ha = sketchHistogram(a);
  const hb = sketchHistogram(b);
  let i = 0;
  let j = 0;
  let cdfA = 0;
  let cdfB = 0;
  let d = 0;
  while (i < ha.values.length || j < hb.values.length) {
    const va = i < ha.values.length ? (ha.values[i] as number) : Number.POSITIVE_INFINITY;
    const vb = j < hb.values.length ? (hb.values[j] as number) : Number.POSITIVE_INFINITY;
    const v = Math.min(va, vb);
    if (va === v) cdfA += (ha.counts[i++] as number) / a.count;
    if (vb === v) cdfB += (hb.counts[j++] as number) / b.count;
    d = Math.max(d, Math.abs(cdfA - cdfB));
  }
  return d;
}

/**
 * Asymptotic p-value of a two-sample KS statistic `d` for sample sizes `n1` and `n2`
 * (Kolmogorov's Q with Stephens' small-sample correction, as in Numerical Recipes `probks`).
 */
export function kolmogorovPValue(d: number, n1: number, n2: number): number {
  if (n1 === 0 || n2 === 0) return 1;
  const root = Math.sqrt((n1 * n2) / (n1 + n2));
  const lambda = (root + 0.12 + 0.11 / root) * d;
  // Below 0.2 the series converges too slowly to sum, and Q(λ) is 1 to 10 decimals there.
  if (lambda < 0.2) return 1;
  let sum = 0;
  let sign = 1;
  for (let k = 1; k <= 100; k++) {
    const term = sign * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) <= 1e-12 * Math.abs(sum)) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

export function driftVerdict(psi: number): DriftVerdict {
  if (psi >= PSI_SIGNIFICANT) return 'significant';
  if (psi >= PSI_MODERATE) return 'moderate';
  return 'stable';
}
