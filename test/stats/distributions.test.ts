/**
 * The in-repo distribution functions against test/fixtures/distributions-reference.json, written by
 * `python3 test/stats/generate-distributions.py` (SciPy, each value confirmed by mpmath at 40
 * digits). Tolerances are relative, so tail probabilities down to 1e-300 are held to the same digits
 * as values near one half.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  chiSquareUpperTail,
  normalCdf,
  studentCdf,
  studentTwoSidedP,
  tQuantileOf,
  zQuantile,
} from '../../src/stats/distributions.js';
import { regularizedGamma } from '../../src/stats/special-functions.js';

interface Fixture {
  specVersion: number;
  source: string;
  normalCdf: Array<{ x: number; p: number }>;
  normalQuantile: Array<{ p: number; x: number }>;
  studentCdf: Array<{ t: number; df: number; p: number }>;
  studentQuantile: Array<{ p: number; df: number; t: number }>;
  chiSquareUpper: Array<{ x: number; df: number; p: number }>;
  regularizedGammaLower: Array<{ a: number; x: number; p: number }>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/distributions-reference.json', import.meta.url), 'utf8')) as Fixture;

function expectClose(actual: number, expected: number, rel: number): void {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(rel * Math.abs(expected) + 1e-300);
}

describe('distribution fixture', () => {
  it('is spec version 1 from SciPy and mpmath', () => {
    expect(fixture.specVersion).toBe(1);
    expect(fixture.source).toMatch(/^SciPy 1\.\d+.*mpmath/);
  });
});

describe('normal', () => {
  it.each(fixture.normalCdf.map((c) => [c.x, c] as const))('Φ(%d)', (_x, c) => {
    expectClose(normalCdf(c.x), c.p, 1e-13);
  });
  it.each(fixture.normalQuantile.map((c) => [c.p, c] as const))('Φ⁻¹(%d)', (_p, c) => {
    expectClose(zQuantile(c.p), c.x, 1e-14);
  });
});

describe('Student t', () => {
  it.each(fixture.studentCdf.map((c) => [`t = ${c.t}, df = ${c.df}`, c] as const))('CDF %s', (_name, c) => {
    expectClose(studentCdf(c.t, c.df), c.p, 1e-13);
  });
  it.each(fixture.studentQuantile.map((c) => [`p = ${c.p}, df = ${c.df}`, c] as const))('quantile %s', (_name, c) => {
    expectClose(tQuantileOf(c.p, c.df), c.t, 1e-13);
  });
  it('two-sided p-values keep their digits far below 1e-16', () => {
    const extreme = fixture.studentCdf.find((c) => c.t === -50 && c.df === 10)!;
    expect(extreme.p).toBeLessThan(1e-12);
    expectClose(studentTwoSidedP(50, 10), 2 * extreme.p, 1e-12);
  });
});

describe('χ² upper tail and the incomplete gamma', () => {
  it.each(fixture.chiSquareUpper.map((c) => [`x = ${c.x}, df = ${c.df}`, c] as const))('Q %s', (_name, c) => {
    expectClose(chiSquareUpperTail(c.x, c.df), c.p, 1e-13);
  });
  it.each(fixture.regularizedGammaLower.map((c) => [`a = ${c.a}, x = ${c.x}`, c] as const))('P %s', (_name, c) => {
    expectClose(regularizedGamma(c.a, c.x, false), c.p, 1e-13);
  });
});

describe('edges', () => {
  it('answers the limits exactly and NaN outside the domain', () => {
    expect(zQuantile(0)).toBe(-Infinity);
    expect(zQuantile(1)).toBe(Infinity);
    expect(zQuantile(0.5)).toBe(0);
    expect(zQuantile(1.5)).toBeNaN();
    expect(tQuantileOf(0.5, 7)).toBe(0);
    expect(tQuantileOf(0, 7)).toBe(-Infinity);
    expect(tQuantileOf(1, 7)).toBe(Infinity);
    expect(tQuantileOf(0.975, Infinity)).toBe(zQuantile(0.975));
    expect(tQuantileOf(0.975, 0)).toBeNaN();
    expect(studentCdf(-Infinity, 3)).toBe(0);
    expect(studentCdf(Infinity, 3)).toBe(1);
    expect(normalCdf(Number.NaN)).toBeNaN();
    expect(chiSquareUpperTail(0, 3)).toBe(1);
    expect(chiSquareUpperTail(Infinity, 3)).toBe(0);
  });
  it('t quantiles below one degree of freedom still invert the CDF', () => {
    for (const p of [0.01, 0.2, 0.9]) expectClose(studentCdf(tQuantileOf(p, 0.6), 0.6), p, 1e-12);
  });
});
