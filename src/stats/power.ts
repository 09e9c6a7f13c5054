import { ValidationError, describeValue } from '../errors.js';
import { checkNumber, checkOneOf } from '../options.js';
import { checkAlpha } from './comparison.js';
import { zQuantile } from './distributions.js';

/** What a metric measures: a rate of 0/1 outcomes, or any real number. */
export type MetricKind = 'binary' | 'continuous';

/** The design every sizing question shares. */
export interface ExperimentDesign {
  kind: MetricKind;
  /** The control's rate (binary, in (0, 1)) or mean (continuous, non-zero). */
  baseline: number;
  /** Standard deviation of a continuous metric (assumed the same in both arms); required for `'continuous'`. */
  stdev?: number;
  /** Two-sided significance level; default 0.05. */
  alpha?: number;
  /** Probability of detecting the effect when it is there; default 0.8. */
  power?: number;
  /** Treatment units per control unit (0.25 for an 80/20 split); default 1. */
  ratio?: number;
}

/** Options of {@link sampleSize}. */
export interface SampleSizeOptions extends ExperimentDesign {
  /** Minimum detectable effect, relative to the baseline: 0.1 means +10 % (−0.1 a 10 % drop). */
  mde: number;
}

/** Options of {@link minimumDetectableEffect}. */
export interface MdeOptions extends ExperimentDesign {
  /** Units in the control arm (the treatment arm has `ratio` times as many). */
  sampleSize: number;
}

/** Units each arm needs. */
export interface SampleSizeResult {
  control: number;
  treatment: number;
  total: number;
}

interface Design {
  kind: MetricKind;
  baseline: number;
  stdev: number;
  zAlpha: number;
  zPower: number;
  ratio: number;
}

function checkDesign(options: ExperimentDesign): Design {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(`options must be an object, got ${describeValue(options)}`);
  }
  const kind = checkOneOf('kind', options.kind, ['binary', 'continuous'] as const);
  const alpha = checkAlpha(options.alpha);
  const power = checkNumber('power', options.power ?? 0.8, { min: 0, max: 1, exclusiveMin: true });
  if (power === 1) throw new ValidationError('power must be a finite number > 0 and < 1, got number 1');
  const ratio = checkNumber('ratio', options.ratio ?? 1, { min: 0, exclusiveMin: true });
  let baseline: number;
  let stdev = Number.NaN;
  if (kind === 'binary') {
    baseline = checkNumber('baseline', options.baseline, { min: 0, max: 1, exclusiveMin: true });
    if (baseline === 1) throw new ValidationError('baseline must be a rate > 0 and < 1 for a binary metric, got number 1');
  } else {
    baseline = checkNumber('baseline', options.baseline);
    if (baseline === 0) throw new ValidationError('baseline must be non-zero for a continuous metric (the mde is relative to it), got number 0');
    stdev = checkNumber('stdev', options.stdev, { min: 0, exclusiveMin: true });
  }
  return { kind, baseline, stdev, zAlpha: zQuantile(1 - alpha / 2), zPower: zQuantile(power), ratio };
}

/** Control units needed to detect `delta` (absolute), unrounded. */
function controlUnits(d: Design, delta: number): number {
  const { zAlpha, zPower, ratio: k } = d;
  if (d.kind === 'continuous') return ((zAlpha + zPower) ** 2 * d.stdev * d.stdev * (1 + 1 / k)) / (delta * delta);
  const p1 = d.baseline;
  const p2 = p1 + delta;
  const pooled = (p1 + k * p2) / (1 + k);
  const root = zAlpha * Math.sqrt(pooled * (1 - pooled) * (1 + 1 / k)) + zPower * Math.sqrt(p1 * (1 - p1) + (p2 * (1 - p2)) / k);
  return (root * root) / (delta * delta);
}

/**
 * Units per arm for a two-sided test to detect a relative change of `mde` with probability `power`.
 * Binary metrics use the pooled-variance (Fleiss, no continuity correction) formula that R's
 * `power.prop.test` solves, generalised to unequal arms:
 * n_C = (z_{1−α/2}·√(p̄q̄(1 + 1/k)) + z_{power}·√(p_C q_C + p_T q_T / k))² / Δ².
 * Continuous metrics use the normal approximation n_C = (z_{1−α/2} + z_{power})² · σ²(1 + 1/k) / Δ²
 * (within one unit of R's exact `power.t.test` once n is in the hundreds).
 *
 * @example
 * ```ts
 * sampleSize({ kind: 'binary', baseline: 0.1, mde: 0.2 }); // { control: 3841, treatment: 3841, total: 7682 }
 * ```
 */
export function sampleSize(options: SampleSizeOptions): SampleSizeResult {
  const d = checkDesign(options);
  const mde = checkNumber('mde', options.mde);
  if (mde === 0) throw new ValidationError('mde must be a non-zero relative effect (0.1 = +10 %), got number 0');
  const delta = d.baseline * mde;
  if (d.kind === 'binary' && !(d.baseline + delta > 0 && d.baseline + delta < 1)) {
    throw new ValidationError(`mde must keep the treatment rate inside (0, 1): baseline ${d.baseline} × (1 + ${mde}) = ${d.baseline + delta}`);
  }
  const n = controlUnits(d, delta);
  const control = Math.ceil(n);
  const treatment = Math.ceil(n * d.ratio);
  return { control, treatment, total: control + treatment };
}

/**
 * The smallest relative lift (upwards) that `sampleSize` control units (and `ratio` times as many
 * treatment units) detect with probability `power`: the inverse of {@link sampleSize}.
 *
 * @example
 * ```ts
 * minimumDetectableEffect({ kind: 'binary', baseline: 0.1, sampleSize: 3000 }); // 0.2275…
 * ```
 */
export function minimumDetectableEffect(options: MdeOptions): number {
  const d = checkDesign(options);
  const n = checkNumber('sampleSize', options.sampleSize, { min: 0, exclusiveMin: true });
  if (d.kind === 'continuous') {
    return ((d.zAlpha + d.zPower) * d.stdev * Math.sqrt((1 + 1 / d.ratio) / n)) / Math.abs(d.baseline);
  }
  // Units needed fall monotonically as the treatment rate moves up from the baseline: bisect on it.
  let lo = 0;
  let hi = 1 - d.baseline;
  if (controlUnits(d, hi * (1 - 1e-12)) > n) {
    throw new ValidationError(`sampleSize ${n} is too small to detect any lift from baseline ${d.baseline} with this power`);
  }
  for (let i = 0; i < 200 && hi - lo > 1e-15; i++) {
    const mid = (lo + hi) / 2;
    if (controlUnits(d, mid) > n) lo = mid;
    else hi = mid;
  }
  return hi / d.baseline;
}
