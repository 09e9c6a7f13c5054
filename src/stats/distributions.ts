/**
 * The distribution functions the tests need: the standard normal, Student t and χ² tails and the
 * normal and t quantiles, built on ./special-functions.ts and checked against SciPy and mpmath to 1e-13
 * relative (test/stats/distributions.test.ts). Tail probabilities are taken from the side that
 * keeps their precision: `2·T(−|t|)` rather than `2·(1 − T(|t|))`, which would round p-values below
 * ~1e-16 to 0.
 *
 * @module
 */
import { logBeta, regularizedBeta, regularizedGamma } from './special-functions.js';

/** Φ(x), the standard normal CDF: ½·Q(½, x²/2) below zero, its complement above. @internal */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const tail = 0.5 * regularizedGamma(0.5, (x * x) / 2, true);
  return x < 0 ? tail : 1 - tail;
}

/** The Student t CDF with ν = `df` > 0 degrees of freedom, from I_{ν/(ν+t²)}(ν/2, ½). @internal */
export function studentCdf(t: number, df: number): number {
  if (Number.isNaN(t) || Number.isNaN(df)) return Number.NaN;
  if (df === Infinity) return normalCdf(t);
  const t2 = t * t;
  // x = ν/(ν+t²) and 1 − x = t²/(ν+t²), each computed directly.
  const tail = t2 === Infinity ? 0 : 0.5 * regularizedBeta(df / (df + t2), t2 / (df + t2), df / 2, 0.5);
  return t < 0 ? tail : 1 - tail;
}

/** Two-sided p-value of a standard normal statistic: 2·Φ(−|z|). @internal */
export function normalTwoSidedP(z: number): number {
  return Math.min(1, 2 * normalCdf(-Math.abs(z)));
}

/** Two-sided p-value of a Student t statistic with `df` degrees of freedom: 2·T_df(−|t|). @internal */
export function studentTwoSidedP(t: number, df: number): number {
  return Math.min(1, 2 * studentCdf(-Math.abs(t), df));
}

/** Upper tail P(X ≥ x) of χ² with `df` degrees of freedom: the regularised upper incomplete gamma Q(df/2, x/2). @internal */
export function chiSquareUpperTail(x: number, df: number): number {
  if (x <= 0) return 1;
  return regularizedGamma(df / 2, x / 2, true);
}

// Wichura's AS 241 (PPND16), Applied Statistics 37 (1988): relative accuracy about 1e-16.
const CENTRAL_NUMERATOR = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987,
  67265.7709270087, 33430.57558358813, 2509.0809287301227,
];
const CENTRAL_DENOMINATOR = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597,
  39307.89580009271, 28729.085735721943, 5226.495278852546,
];
const NEAR_NUMERATOR = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045,
  1.2704582524523684, 0.2417807251774506, 0.022723844989269184, 0.0007745450142783414,
];
const NEAR_DENOMINATOR = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008,
  0.015198666563616457, 0.0005475938084995345, 1.0507500716444169e-09,
];
const FAR_NUMERATOR = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487,
  0.026532189526576124, 0.0012426609473880784, 2.7115555687434876e-05, 2.0103343992922881e-07,
];
const FAR_DENOMINATOR = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133,
  1.8463183175100548e-05, 1.421511758316446e-07, 2.0442631033899397e-15,
];

function ratio(numerator: readonly number[], denominator: readonly number[], r: number): number {
  let n = 0;
  let d = 0;
  for (let i = numerator.length - 1; i >= 0; i--) {
    n = n * r + (numerator[i] as number);
    d = d * r + (denominator[i] as number);
  }
  return n / d;
}

/** The standard normal quantile Φ⁻¹(p). @internal */
export function zQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) return q * ratio(CENTRAL_NUMERATOR, CENTRAL_DENOMINATOR, 0.180625 - q * q);
  const r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  const z = r <= 5 ? ratio(NEAR_NUMERATOR, NEAR_DENOMINATOR, r - 1.6) : ratio(FAR_NUMERATOR, FAR_DENOMINATOR, r - 5);
  return q < 0 ? -z : z;
}

/** Student t density with ν degrees of freedom. */
function studentDensity(t: number, df: number, logNormaliser: number): number {
  return Math.exp(logNormaliser - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/**
 * The Student t quantile with `df` degrees of freedom (the normal one when `df` is infinite):
 * Newton's method on the CDF from the Cornish–Fisher start (Abramowitz & Stegun 26.7.5), kept inside
 * the bracket between the normal quantile (lighter tails) and, for ν ≥ 1, the Cauchy one (heavier),
 * and stopped when a step no longer changes the 16th digit. @internal
 */
export function tQuantileOf(p: number, df: number): number {
  if (!Number.isFinite(df)) return zQuantile(p);
  if (Number.isNaN(p) || Number.isNaN(df) || p < 0 || p > 1 || df <= 0) return Number.NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  // Solve in the lower tail, where p keeps its digits, and mirror.
  const lower = Math.min(p, 1 - p);
  const sign = p < 0.5 ? 1 : -1;
  const z = zQuantile(lower);
  let low = df >= 1 ? -1 / Math.tan(Math.PI * lower) : -Infinity;
  let high = z;
  let t = Math.max(low, cornishFisher(z, df));
  if (!(t < high)) t = high;
  const logNormaliser = logStudentNormaliser(df);
  for (let i = 0; i < 200; i++) {
    const error = studentCdf(t, df) - lower;
    if (error === 0) break;
    if (error > 0) high = t;
    else low = t;
    let next = t - error / studentDensity(t, df, logNormaliser);
    if (!(next > low && next < high)) next = Number.isFinite(low) ? (low + high) / 2 : 2 * Math.min(t, -1);
    if (Math.abs(next - t) <= 1e-16 * Math.abs(t)) {
      t = next;
      break;
    }
    t = next;
  }
  return sign * t;
}

/** ln of the density's constant Γ((ν+1)/2) / (√(νπ) Γ(ν/2)) = 1 / (√ν · B(ν/2, ½)). */
function logStudentNormaliser(df: number): number {
  return -0.5 * Math.log(df) - logBeta(df / 2, 0.5);
}

function cornishFisher(z: number, df: number): number {
  const z2 = z * z;
  const g1 = (z2 + 1) * z / 4;
  const g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
  const g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
  const g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
  return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df;
}
