import { ValidationError, describeValue } from '../errors.js';

/**
 * Checks weights (each finite and ≥ 0, at least one > 0) and returns them scaled to sum to 1.
 * Never replaces bad weights with defaults: a bad one is a `ValidationError` naming it. Weights
 * that already sum to 1 within rounding (n ulps) come back as given: dividing by such a sum again
 * would move the last digits, so normalised weights (a snapshot's) would not restore exactly.
 *
 * @param name - how the caller's option is called, for the error message (default `'weights'`).
 * @example
 * ```ts
 * normalizeWeights([1, 1, 2]); // [0.25, 0.25, 0.5]
 * ```
 */
export function normalizeWeights(weights: readonly number[], name = 'weights'): number[] {
  if (!Array.isArray(weights) || weights.length === 0) {
    throw new ValidationError(`${name} must be a non-empty array of numbers, got ${describeValue(weights)}`);
  }
  let sum = 0;
  for (let i = 0; i < weights.length; i++) {
    const w: unknown = weights[i];
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new ValidationError(`${name}[${i}] must be a finite number >= 0, got ${describeValue(w)}`);
    }
    sum += w;
  }
  if (!(sum > 0) || !Number.isFinite(sum)) {
    throw new ValidationError(`${name} must have a positive, finite sum, got ${sum} from [${weights.join(', ')}]`);
  }
  if (Math.abs(sum - 1) <= weights.length * Number.EPSILON) return [...weights];
  return weights.map((w) => w / sum);
}
