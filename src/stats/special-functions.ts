/**
 * The special functions behind the distributions: log-gamma, log-beta and the regularised
 * incomplete gamma and beta functions. Each is written to keep relative precision in the tails
 * (upper tails are computed directly, never as `1 − lower`), because p-values far below 1e-16 are
 * reported. Checked against SciPy in test/stats/distributions.test.ts.
 *
 * @module
 */

const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const EPSILON = 1e-16;
/** Keeps Lentz's continued fractions away from division by zero. */
const TINY = 1e-300;
const MAX_ITERATIONS = 100_000;

/** Lanczos (g = 7, n = 9) coefficients: relative error below 1e-15 for positive arguments. */
const LANCZOS_G = 7;
const LANCZOS = [
  0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (x >= 10) return (x - 0.5) * Math.log(x) - x + LN_SQRT_2PI + stirlingRemainder(x);
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const shifted = x - 1;
  let sum = LANCZOS[0] as number;
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] as number) / (shifted + i);
  const t = shifted + LANCZOS_G + 0.5;
  return LN_SQRT_2PI + (shifted + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * ln Γ(x) − [(x − ½)·ln x − x + ½·ln 2π] for x ≥ 10: the Stirling series, whose terms are below
 * 1e-17 there. Differences of log-gammas of large arguments are taken through it so they do not
 * cancel.
 */
function stirlingRemainder(x: number): number {
  const inv = 1 / x;
  const inv2 = inv * inv;
  return (
    inv *
    (1 / 12 -
      inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 * (1 / 1188 - inv2 * (691 / 360360 - inv2 / 156))))))
  );
}

/** ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b), without the cancellation of large arguments. */
export function logBeta(a: number, b: number): number {
  const p = Math.min(a, b);
  const q = Math.max(a, b);
  const sum = p + q;
  if (q < 10) return logGamma(p) + logGamma(q) - logGamma(sum);
  const correction = stirlingRemainder(q) - stirlingRemainder(sum);
  const logRatio = Math.log1p(-p / sum); // ln(q / (p + q))
  if (p < 10) return logGamma(p) + correction + p - p * Math.log(sum) + (q - 0.5) * logRatio;
  return (
    -0.5 * Math.log(q) + LN_SQRT_2PI + stirlingRemainder(p) + correction + (p - 0.5) * Math.log(p / sum) + q * logRatio
  );
}

/**
 * The regularised incomplete gamma functions P(a, x) and Q(a, x) = 1 − P(a, x), a > 0, x ≥ 0, with
 * `upper` choosing Q. The series serves x < a + 1 and the continued fraction the rest, so the side
 * that is small is always computed directly.
 */
export function regularizedGamma(a: number, x: number, upper: boolean): number {
  if (Number.isNaN(a) || Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return upper ? 1 : 0;
  if (x === Infinity) return upper ? 0 : 1;
  const logPrefactor = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    const lower = Math.exp(logPrefactor) * gammaSeries(a, x);
    return upper ? 1 - lower : lower;
  }
  const upperTail = Math.exp(logPrefactor) * gammaContinuedFraction(a, x);
  return upper ? upperTail : 1 - upperTail;
}

/** Σ xⁿ / (a (a+1) … (a+n)), so that P(a, x) = e^{−x} x^a / Γ(a) · the sum. */
function gammaSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITERATIONS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPSILON) break;
  }
  return sum;
}

/**
 * The state of the modified Lentz algorithm for a continued fraction b₀ + a₁/(b₁ + a₂/(b₂ + …)),
 * with C and D kept away from zero: each `step(aₙ, bₙ)` returns the factor the value is multiplied by.
 */
class Lentz {
  #c: number;
  #d: number;

  constructor(c: number, d: number) {
    this.#c = c;
    this.#d = d;
  }

  step(an: number, bn: number): number {
    let d = bn + an * this.#d;
    if (Math.abs(d) < TINY) d = TINY;
    let c = bn + an / this.#c;
    if (Math.abs(c) < TINY) c = TINY;
    this.#d = 1 / d;
    this.#c = c;
    return this.#d * c;
  }
}

/** Legendre's continued fraction for Q(a, x)·Γ(a)·e^{x}·x^{−a} (modified Lentz). */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let h = 1 / b;
  const lentz = new Lentz(1 / TINY, h);
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    b += 2;
    const delta = lentz.step(-i * (i - a), b);
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return h;
}

/**
 * The regularised incomplete beta function I_x(a, b), a, b > 0, given both x and y = 1 − x so that
 * a caller who knows 1 − x exactly (t²/(ν + t²) for a t statistic) loses nothing to rounding. The
 * continued fraction converges fast for x < (a + 1)/(a + b + 2); above that the symmetry
 * I_x(a, b) = 1 − I_y(b, a) is used, where the result is not small.
 */
export function regularizedBeta(x: number, y: number, a: number, b: number): number {
  if (Number.isNaN(x) || Number.isNaN(y) || Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  // Near x = 1 with a large (a t statistic with many degrees of freedom) the continued fraction,
  // on either side of the symmetry, cancels away digits in proportion to a·y; the expansion in 1/T²
  // has no such loss and gives I_x directly, small or not.
  if (a >= LARGE_A && b <= 1 && x >= Math.exp(-1)) return betaLargeA(x, y, a, b);
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedBeta(y, x, b, a);
  // Each logarithm from whichever of x and y is small: ln x = log1p(−y) when x is near 1 keeps the
  // digits that rounding x would lose, which a large a (many degrees of freedom) would multiply.
  const logX = x < 0.5 ? Math.log(x) : Math.log1p(-y);
  const logY = y < 0.5 ? Math.log(y) : Math.log1p(-x);
  return (Math.exp(a * logX + b * logY - logBeta(a, b)) * betaContinuedFraction(x, y, a, b)) / a;
}

const LARGE_A = 30;
/** ℓ_k of ln(sinh w / w) = Σ ℓ_k w^{2k}: 2^{2k} B_{2k} / (2k (2k)!), from the Bernoulli numbers B_2 … B_20. */
const LOG_SINHC = [
  [1, 6], [-1, 30], [1, 42], [-1, 30], [5, 66], [-691, 2730], [7, 6], [-3617, 510], [43867, 798], [-174611, 330],
].map(([numerator, denominator], i) => {
  const k = i + 1;
  let factorial = 1;
  for (let j = 2; j <= 2 * k; j++) factorial *= j;
  return (4 ** k * (numerator as number)) / (denominator as number) / (2 * k * factorial);
});

/**
 * I_x(a, b) for large a, b ≤ 1, x ≥ 1/e. With T = a + (b − 1)/2 and t = e^{−s/T}, the integrand
 * becomes s^{b−1} e^{−s} [sinh(s/2T) / (s/2T)]^{b−1} / T^b, and expanding the bracket as Σ c_n (s/T)^{2n}
 * gives I_x(a, b) = Γ(a + b) / (Γ(a) T^b) · Σ c_n T^{−2n} Γ(b + 2n, u) / Γ(b), u = −T ln x, in the
 * spirit of DiDonato & Morris's BGRAT (ACM TOMS 708). The upper incomplete gammas come from Q(b, u)
 * by the upward recurrence Γ(s + 1, u) = s Γ(s, u) + u^s e^{−u}, whose terms are all positive.
 */
function betaLargeA(x: number, y: number, a: number, b: number): number {
  const T = a + (b - 1) / 2;
  const u = -T * (x < 0.5 ? Math.log(x) : Math.log1p(-y));
  const logU = Math.log(u);
  const logGammaB = logGamma(b);
  const beta = b - 1;
  // c_n of exp(β Σ ℓ_k w^{2k}) in powers of w² (the exponential-series recurrence), then w = s/2T.
  const e = [1];
  let gamma = regularizedGamma(b, u, true); // Γ(b + 2n, u) / Γ(b), n = 0
  let sum = gamma;
  let shape = b;
  const invT2 = 1 / (T * T);
  let scale = 1;
  for (let n = 1; n <= LOG_SINHC.length; n++) {
    let en = 0;
    for (let k = 1; k <= n; k++) en += k * beta * (LOG_SINHC[k - 1] as number) * (e[n - k] as number);
    en /= n;
    e.push(en);
    for (let step = 0; step < 2; step++) {
      gamma = shape * gamma + Math.exp(shape * logU - u - logGammaB);
      shape += 1;
    }
    scale *= invT2 / 4;
    const term = en * scale * gamma;
    sum += term;
    if (Math.abs(term) <= EPSILON * Math.abs(sum)) break;
  }
  return Math.exp(logGammaB - logBeta(a, b) - b * Math.log(T)) * sum;
}

/** The continued fraction of I_x(a, b)·a·B(a, b)·x^{−a}·(1 − x)^{−b} (modified Lentz). */
function betaContinuedFraction(x: number, y: number, a: number, b: number): number {
  const sum = a + b;
  let first = (1 - b + sum * y) / (a + 1); // 1 − (a + b)·x/(a + 1) without cancelling when x is near 1
  if (Math.abs(first) < TINY) first = TINY;
  let h = 1 / first;
  const lentz = new Lentz(1, h);
  for (let m = 1; m < MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    h *= lentz.step((m * (b - m) * x) / ((a - 1 + m2) * (a + m2)), 1);
    const delta = lentz.step((-(a + m) * (sum + m) * x) / ((a + m2) * (a + 1 + m2)), 1);
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return h;
}
