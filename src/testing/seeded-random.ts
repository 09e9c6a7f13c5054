import { ValidationError, describeValue } from '../errors.js';
import type { RandomSource } from '../options.js';

/**
 * A deterministic uniform random source in [0, 1) (sfc32 seeded through splitmix32), for the
 * `random` option of every policy and for simulations: the same seed gives the same sequence
 * on every machine.
 *
 * @example
 * ```ts
 * const canary = new CanaryDeployment({ stable: 1, canary: 2, random: seededRandom(42) });
 * ```
 */
export function seededRandom(seed: number): RandomSource {
  if (!Number.isInteger(seed)) throw new ValidationError(`seed must be an integer, got ${describeValue(seed)}`);
  let state = seed >>> 0;
  const splitmix32 = (): number => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}
