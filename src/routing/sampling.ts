/**
 * Random variates driven by a caller's uniform source, so seeded tests and simulations replay
 * exactly. Used by {@link BanditPolicy} for Thompson sampling.
 *
 * @module
 */
import { ValidationError, describeValue } from '../errors.js';
import type { RandomSource } from '../options.js';

/**
 * Tries every rejection loop gets. A uniform source is accepted on a try with probability
 * above 0.44 in each loop here, so 1 000 rejections in a row (probability below 10^-250) mean
 * the source is not uniform (a constant, a stuck generator), never bad luck.
 */
const MAX_TRIES = 1000;

/** One draw of `random`, checked to be in [0, 1): NaN or an out-of-range value is a `ValidationError`. @internal */
export function uniform(random: RandomSource): number {
  const u = random();
  if (typeof u !== 'number' || !(u >= 0 && u < 1)) throw new ValidationError(`random must return a number in [0, 1), got ${describeValue(u)}`);
  return u;
}

function exhausted(what: string): ValidationError {
  return new ValidationError(
    `random produced no accepted ${what} in ${MAX_TRIES} tries: it must be a uniform [0, 1) source, not a constant or a stuck generator`,
  );
}

/** A standard normal variate by Marsaglia's polar method (two uniforms per try, ~79 % accepted). */
export function sampleStandardNormal(random: RandomSource): number {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const u = 2 * uniform(random) - 1;
    const v = 2 * uniform(random) - 1;
    const s = u * u + v * v;
    if (s > 0 && s < 1) return u * Math.sqrt((-2 * Math.log(s)) / s);
  }
  throw exhausted('normal variate');
}

/**
 * A Gamma(shape, 1) variate by Marsaglia and Tsang (2000), "A simple method for generating gamma
 * variables"; shapes below 1 use their boost `Gamma(a) = Gamma(a + 1) · U^(1/a)`.
 */
export function sampleGamma(shape: number, random: RandomSource): number {
  if (!(shape > 0) || !Number.isFinite(shape)) {
    throw new ValidationError(`shape must be a finite number > 0, got ${describeValue(shape)}`);
  }
  if (shape < 1) return sampleGamma(shape + 1, random) * Math.pow(uniform(random), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const x = sampleStandardNormal(random);
    let v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const u = uniform(random);
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2) return d * v;
    if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
  }
  throw exhausted('gamma variate');
}

/** A Beta(a, b) variate as `X / (X + Y)` with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(a: number, b: number, random: RandomSource): number {
  const x = sampleGamma(a, random);
  const y = sampleGamma(b, random);
  // Both can underflow to 0 only for tiny shapes; the mean is the honest answer then.
  return x + y === 0 ? a / (a + b) : x / (x + y);
}
