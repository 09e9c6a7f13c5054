import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur3Utf8 } from '../../src/routing/hash.js';
import { chiSquareUpperTail } from '../../src/stats/distributions.js';
import {
  ValidationError,
  bucketRanges,
  chooseBucket,
  hashUnit,
  normalizeWeights,
  unitHasher,
} from '../../src/index.js';
import { murmur3Bytes } from '../../src/routing/hash.js';

interface HashVector {
  salt: string;
  unitId: string;
  utf8Hex: string;
  hash32: number;
  value: number;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/hash-vectors.json', import.meta.url), 'utf8')) as {
  specVersion: number;
  vectors: HashVector[];
};

/** Pearson χ² p-value of observed counts against expected shares. */
function chiSquarePValue(counts: ArrayLike<number>, expectedShares: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  let chi2 = 0;
  for (let i = 0; i < counts.length; i++) {
    const expected = total * (expectedShares[i] as number);
    chi2 += ((counts[i] as number) - expected) ** 2 / expected;
  }
  return chiSquareUpperTail(chi2, counts.length - 1);
}

function uuid(i: number): string {
  const hex = (murmur3Utf8(`a${i}`).toString(16) + murmur3Utf8(`b${i}`).toString(16) + murmur3Utf8(`c${i}`).toString(16) + murmur3Utf8(`d${i}`).toString(16)).padEnd(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The spec the vectors follow; a fixture of another spec is a different contract, not a new vector. */
const HASH_SPEC_VERSION = 1;

/** One named case per vector (GrowthBook's cases.json style): a failure names the salt and unit it broke. */
const VECTOR_CASES = fixture.vectors.map((v, i) => ({ ...v, name: `#${i} ${JSON.stringify(`${v.salt}:${v.unitId}`)}` }));

describe(`hash vectors (specVersion ${HASH_SPEC_VERSION})`, () => {
  it('are the spec this implementation follows, at least 50 of them, non-ASCII ones among them', () => {
    expect(fixture.specVersion).toBe(HASH_SPEC_VERSION);
    expect(fixture.vectors.length).toBeGreaterThanOrEqual(50);
    const nonAscii = fixture.vectors.filter((v) => [...v.salt + v.unitId].some((ch) => ch.charCodeAt(0) > 0x7f));
    expect(nonAscii.length).toBeGreaterThanOrEqual(15);
    expect(fixture.vectors.some((v) => /[\ud800-\udbff][\udc00-\udfff]/.test(v.unitId))).toBe(true);
  });

  it.each(VECTOR_CASES)('vector $name: hashUnit, unitHasher and murmur3Utf8 reproduce it', (v) => {
    const text = `${v.salt}:${v.unitId}`;
    expect(Buffer.from(text, 'utf8').toString('hex')).toBe(v.utf8Hex);
    expect(murmur3Utf8(text)).toBe(v.hash32);
    expect(hashUnit(v.salt, v.unitId)).toBe(v.value);
    expect(hashUnit(v.salt, v.unitId, HASH_SPEC_VERSION)).toBe(v.value);
    expect(unitHasher(v.salt)(v.unitId)).toBe(v.value);
    expect(v.value).toBe(v.hash32 / 2 ** 32);
  });

  it('matches published MurmurHash3 x86_32 seed-0 values', () => {
    expect(murmur3Utf8('')).toBe(0);
    expect(murmur3Utf8('hello')).toBe(0x248bfa47);
    expect(murmur3Utf8('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });

  it('encodes UTF-8 inline exactly as Node does, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        expect(murmur3Utf8(text)).toBe(murmur3Bytes(Buffer.from(text, 'utf8')));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same value with a prepared salt, whatever the salt length', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 30 }), (salt, id) => {
        const value = hashUnit(salt, id);
        expect(unitHasher(salt)(id)).toBe(value);
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThan(1);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses unknown hash versions and non-string salts or ids', () => {
    expect(() => hashUnit('s', 'u', 2 as 1)).toThrow(ValidationError);
    expect(() => hashUnit('s', 'u', 2 as 1)).toThrow(/hashVersion must be 1.*got number 2/);
    expect(() => unitHasher('s', 0 as 1)).toThrow(ValidationError);
    expect(() => hashUnit(5 as unknown as string, 'u')).toThrow(/salt must be a string, got number 5/);
    expect(() => hashUnit('s', undefined as unknown as string)).toThrow(/unitId must be a string, got undefined/);
    expect(() => unitHasher('s')(42 as unknown as string)).toThrow(/unitId must be a string, got number 42/);
  });
});

describe('hash uniformity', () => {
  it('spreads 100 000 sequential ids evenly over 100 buckets (χ² p > 0.001)', () => {
    const counts = new Float64Array(100);
    const hash = unitHasher('uniformity');
    for (let i = 0; i < 100_000; i++) counts[Math.floor(hash(`user-${i}`) * 100)]! += 1;
    const p = chiSquarePValue(counts, new Array<number>(100).fill(0.01));
    expect(p).toBeGreaterThan(0.001);
  });

  it('spreads 100 000 UUIDs evenly over 100 buckets (χ² p > 0.001)', () => {
    const counts = new Float64Array(100);
    for (let i = 0; i < 100_000; i++) counts[Math.floor(hashUnit('uuids', uuid(i)) * 100)]! += 1;
    expect(chiSquarePValue(counts, new Array<number>(100).fill(0.01))).toBeGreaterThan(0.001);
  });

  it('gives independent draws for different salts (10×10 joint table uniform)', () => {
    const counts = new Float64Array(100);
    const inRollout = unitHasher('exp:rollout');
    const variant = unitHasher('exp:variant');
    for (let i = 0; i < 100_000; i++) {
      const id = `user-${i}`;
      counts[Math.floor(inRollout(id) * 10) * 10 + Math.floor(variant(id) * 10)]! += 1;
    }
    expect(chiSquarePValue(counts, new Array<number>(100).fill(0.01))).toBeGreaterThan(0.001);
  });

  it('detects a biased distribution (the test can fail)', () => {
    const counts = new Float64Array(100);
    const hash = unitHasher('uniformity');
    for (let i = 0; i < 100_000; i++) counts[Math.floor(hash(`user-${i}`) ** 1.05 * 100)]! += 1;
    expect(chiSquarePValue(counts, new Array<number>(100).fill(0.01))).toBeLessThan(0.001);
  });
});

describe('weights', () => {
  it('normalises without replacing', () => {
    expect(normalizeWeights([1, 1, 2])).toEqual([0.25, 0.25, 0.5]);
    expect(normalizeWeights([0, 3])).toEqual([0, 1]);
    expect(normalizeWeights([0.2, 0.8])).toEqual([0.2, 0.8]);
  });

  it('names the bad weight', () => {
    expect(() => normalizeWeights([1, Number.NaN])).toThrow(/weights\[1\] must be a finite number >= 0, got number NaN/);
    expect(() => normalizeWeights([1, -1], 'split')).toThrow(/split\[1\] must be a finite number >= 0, got number -1/);
    expect(() => normalizeWeights([Infinity])).toThrow(/weights\[0\].*got number Infinity/);
    expect(() => normalizeWeights(['1' as unknown as number])).toThrow(/weights\[0\].*got string "1"/);
    expect(() => normalizeWeights([0, 0])).toThrow(/weights must have a positive, finite sum, got 0/);
    expect(() => normalizeWeights([])).toThrow(/non-empty array/);
    expect(() => normalizeWeights([1e308, 1e308])).toThrow(ValidationError);
  });
});

describe('bucket ranges', () => {
  it('lays ranges out GrowthBook-style: [cum_i, cum_i + coverage·w_i)', () => {
    expect(bucketRanges([1, 1], 0.2)).toEqual([
      [0, 0.1],
      [0.5, 0.6],
    ]);
    expect(bucketRanges([1, 3])).toEqual([
      [0, 0.25],
      [0.25, 1],
    ]);
    expect(() => bucketRanges([1, 1], 1.5)).toThrow(/coverage must be .*got number 1.5/);
    expect(() => bucketRanges([1, -2])).toThrow(/weights\[1\]/);
  });

  it('chooses the range holding a value, or -1 outside coverage', () => {
    const ranges = bucketRanges([1, 1], 0.2);
    expect(chooseBucket(0, ranges)).toBe(0);
    expect(chooseBucket(0.1, ranges)).toBe(-1);
    expect(chooseBucket(0.55, ranges)).toBe(1);
    expect(chooseBucket(0.6, ranges)).toBe(-1);
  });

  it('never moves a unit to another variant when coverage ramps up (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 10, noNaN: true }), { minLength: 2, maxLength: 6 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.string(),
        (weights, c1, c2, id) => {
          const [low, high] = c1 < c2 ? [c1, c2] : [c2, c1];
          const n = hashUnit('ramp', id);
          const before = chooseBucket(n, bucketRanges(weights, low));
          if (before !== -1) expect(chooseBucket(n, bucketRanges(weights, high))).toBe(before);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it.each([
    [[1, 1]],
    [[1, 2, 7]],
    [[0.1, 0.2, 0.3, 0.15, 0.25]],
  ])('sends shares within 1 point of weights $0 over 100 000 ids', (weights) => {
    const ranges = bucketRanges(weights);
    const shares = normalizeWeights(weights);
    const counts = new Array<number>(weights.length).fill(0);
    const hash = unitHasher('shares');
    for (let i = 0; i < 100_000; i++) counts[chooseBucket(hash(`user-${i}`), ranges)]! += 1;
    counts.forEach((count, i) => expect(Math.abs(count / 100_000 - shares[i]!)).toBeLessThan(0.01));
  });
});
