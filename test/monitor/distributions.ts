import { seededRandom } from '../../src/testing/index.js';

/** Standard normal draws (Box–Muller) from a seeded source. */
export function normals(n: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  }
  return out;
}

/** Lognormal latencies: median `median` ms, log-sd `sigma`. */
export function lognormal(n: number, seed: number, median = 20, sigma = 0.5): Float64Array {
  return normals(n, seed).map((z) => median * Math.exp(sigma * z));
}

/** A fast mode (≈5 ms) and a slow mode (≈80 ms, 10 % of requests), like cache hits and misses. */
export function bimodal(n: number, seed: number): Float64Array {
  const random = seededRandom(seed + 1);
  return normals(n, seed).map((z) => (random() < 0.9 ? Math.max(0.1, 5 + 0.5 * z) : Math.max(0.1, 80 + 10 * z)));
}

export function constant(n: number, value: number): Float64Array {
  return new Float64Array(n).fill(value);
}

/** Exact quantile as DDSketch defines it: the value of rank ⌊q·(n − 1)⌋ in sorted order. */
export function exactQuantile(sorted: Float64Array, q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}
