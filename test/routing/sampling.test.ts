import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/index.js';
import { sampleBeta, sampleGamma, sampleStandardNormal } from '../../src/routing/sampling.js';
import { normalCdf } from '../../src/stats/distributions.js';
import { seededRandom } from '../../src/testing/index.js';

const N = 20_000;
/** Kolmogorov–Smirnov critical value at α = 0.001: 1.95 / √n. */
const KS_CRITICAL = 1.95 / Math.sqrt(N);

function ksDistance(samples: Float64Array, cdf: (x: number) => number): number {
  const sorted = Float64Array.from(samples).sort();
  let d = 0;
  for (let i = 0; i < sorted.length; i++) {
    const f = cdf(sorted[i] as number);
    d = Math.max(d, Math.abs(f - i / sorted.length), Math.abs((i + 1) / sorted.length - f));
  }
  return d;
}

function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** Beta(a, b) CDF for integer a, b: P(Binomial(a + b − 1, x) ≥ a). */
function betaCdfIntegers(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const n = a + b - 1;
  let term = Math.exp(logChoose(n, a) + a * Math.log(x) + (n - a) * Math.log(1 - x));
  let p = 0;
  for (let j = a; j <= n; j++) {
    p += term;
    term *= ((n - j) / (j + 1)) * (x / (1 - x));
  }
  return p;
}

/** Gamma(k, 1) CDF for integer k (Erlang): 1 − Σ_{i<k} e^−x xⁱ / i!. */
function erlangCdf(k: number, x: number): number {
  if (x <= 0) return 0;
  let term = 1;
  let sum = 1;
  for (let i = 1; i < k; i++) {
    term *= x / i;
    sum += term;
  }
  return 1 - Math.exp(-x) * sum;
}

function draw(n: number, sample: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = sample();
  return out;
}

describe('samplers', () => {
  it('draws standard normals (KS against the normal CDF)', () => {
    const random = seededRandom(11);
    const samples = draw(N, () => sampleStandardNormal(random));
    expect(ksDistance(samples, normalCdf)).toBeLessThan(KS_CRITICAL);
  });

  it.each([1, 2, 5, 30, 400])('draws Gamma(%i) matching the Erlang CDF (KS)', (k) => {
    const random = seededRandom(k);
    const samples = draw(N, () => sampleGamma(k, random));
    expect(ksDistance(samples, (x) => erlangCdf(k, x))).toBeLessThan(KS_CRITICAL);
  });

  it('draws Gamma(0.5) with mean 0.5 and variance 0.5 (the shape < 1 boost)', () => {
    const random = seededRandom(3);
    const samples = draw(N * 5, () => sampleGamma(0.5, random));
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples.length - 1);
    expect(mean).toBeCloseTo(0.5, 1);
    expect(variance).toBeCloseTo(0.5, 1);
  });

  it.each([
    [1, 1],
    [2, 5],
    [11, 91],
    [60, 40],
  ])('draws Beta(%i, %i) matching its CDF (KS)', (a, b) => {
    const random = seededRandom(a * 1000 + b);
    const samples = draw(N, () => sampleBeta(a, b, random));
    expect(ksDistance(samples, (x) => betaCdfIntegers(a, b, x))).toBeLessThan(KS_CRITICAL);
  });

  it('the KS check rejects a wrong distribution (the test can fail)', () => {
    const random = seededRandom(5);
    const samples = draw(N, () => sampleBeta(2, 5, random));
    expect(ksDistance(samples, (x) => betaCdfIntegers(2, 4, x))).toBeGreaterThan(KS_CRITICAL);
  });

  it('refuses shapes that are not positive and finite', () => {
    expect(() => sampleGamma(0, Math.random)).toThrow(ValidationError);
    expect(() => sampleBeta(Number.NaN, 1, Math.random)).toThrow(/shape must be a finite number > 0, got number NaN/);
  });
});
