/**
 * Sticky assignment: hashing a unit id to [0, 1), bucket ranges that keep their starts while a
 * rollout ramps, and weight validation. Pure functions, specified in `docs/routing.md` and frozen by
 * `test/fixtures/hash-vectors.json`, so any language can reproduce every assignment.
 *
 * @module
 */
import { ValidationError, describeValue } from '../errors.js';
import { normalizeWeights } from '../stats/weights.js';

/** Versions of the hash specification this build implements (see `docs/routing.md`). */
export type HashVersion = 1;

/** The hash specification version new policies use. */
export const LATEST_HASH_VERSION: HashVersion = 1;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const TWO_POW_32 = 4294967296;

// MurmurHash3 x86_32 streaming state. Module-level so the hot path allocates nothing; every public
// entry point resets it before use and JavaScript never interleaves two synchronous calls.
let stateH = 0;
let stateWord = 0;
let stateWordBytes = 0;
let stateLength = 0;

function pushByte(byte: number): void {
  stateWord |= byte << (stateWordBytes << 3);
  if (++stateWordBytes === 4) {
    let k = Math.imul(stateWord, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    let h = stateH ^ k;
    h = (h << 13) | (h >>> 19);
    stateH = (Math.imul(h, 5) + 0xe6546b64) | 0;
    stateWord = 0;
    stateWordBytes = 0;
  }
}

/** Feeds the UTF-8 encoding of `text` (lone surrogates as U+FFFD, like `TextEncoder`). */
function absorb(text: string): void {
  const length = text.length;
  // Locals, not the module state, in the ASCII loop: V8 keeps them in registers.
  let h = stateH;
  let word = stateWord;
  let shift = stateWordBytes << 3;
  let asciiBytes = 0;
  let i = 0;
  while (i < length) {
    if (i + 4 <= length) {
      const c0 = text.charCodeAt(i);
      const c1 = text.charCodeAt(i + 1);
      const c2 = text.charCodeAt(i + 2);
      const c3 = text.charCodeAt(i + 3);
      if ((c0 | c1 | c2 | c3) < 0x80) {
        // Four ASCII bytes complete the pending word; the bytes that overflow it start the next.
        const group = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
        let k = word | (group << shift);
        word = shift === 0 ? 0 : group >>> (32 - shift);
        k = Math.imul(k, C1);
        k = (k << 15) | (k >>> 17);
        k = Math.imul(k, C2);
        h ^= k;
        h = (h << 13) | (h >>> 19);
        h = (Math.imul(h, 5) + 0xe6546b64) | 0;
        i += 4;
        asciiBytes += 4;
        continue;
      }
    }
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      word |= code << shift;
      shift += 8;
      asciiBytes += 1;
      i += 1;
      if (shift === 32) {
        let k = Math.imul(word, C1);
        k = (k << 15) | (k >>> 17);
        k = Math.imul(k, C2);
        h ^= k;
        h = (h << 13) | (h >>> 19);
        h = (Math.imul(h, 5) + 0xe6546b64) | 0;
        word = 0;
        shift = 0;
      }
      continue;
    }
    stateH = h;
    stateWord = word;
    stateWordBytes = shift >>> 3;
    i = absorbNonAscii(text, i, code);
    h = stateH;
    word = stateWord;
    shift = stateWordBytes << 3;
  }
  stateH = h;
  stateWord = word;
  stateWordBytes = shift >>> 3;
  stateLength += asciiBytes;
}

/** Encodes the non-ASCII character at `i` (a surrogate pair takes two) into the state; returns the next index. */
function absorbNonAscii(text: string, i: number, code: number): number {
  if (code < 0x800) {
    pushByte(0xc0 | (code >>> 6));
    pushByte(0x80 | (code & 0x3f));
    stateLength += 2;
    return i + 1;
  }
  if (code >= 0xd800 && code <= 0xdfff) {
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
    if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      const point = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
      pushByte(0xf0 | (point >>> 18));
      pushByte(0x80 | ((point >>> 12) & 0x3f));
      pushByte(0x80 | ((point >>> 6) & 0x3f));
      pushByte(0x80 | (point & 0x3f));
      stateLength += 4;
      return i + 2;
    }
    code = 0xfffd;
  }
  pushByte(0xe0 | (code >>> 12));
  pushByte(0x80 | ((code >>> 6) & 0x3f));
  pushByte(0x80 | (code & 0x3f));
  stateLength += 3;
  return i + 1;
}

/** Tail block, length and the fmix32 finaliser; returns the unsigned 32-bit hash. */
function finish(): number {
  let h = stateH;
  if (stateWordBytes > 0) {
    let k = Math.imul(stateWord, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= stateLength;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function reset(): void {
  stateH = 0;
  stateWord = 0;
  stateWordBytes = 0;
  stateLength = 0;
}

function checkHashVersion(hashVersion: unknown): HashVersion {
  if (hashVersion !== 1) {
    throw new ValidationError(`hashVersion must be 1 (the only hash specification this build implements), got ${describeValue(hashVersion)}`);
  }
  return hashVersion;
}

function checkSalt(salt: unknown): string {
  if (typeof salt !== 'string') throw new ValidationError(`salt must be a string, got ${describeValue(salt)}`);
  return salt;
}

function checkUnitId(unitId: unknown): string {
  if (typeof unitId !== 'string') throw new ValidationError(`unitId must be a string, got ${describeValue(unitId)}`);
  return unitId;
}

/**
 * MurmurHash3 x86_32 (seed 0) of the UTF-8 bytes of `text`, as an unsigned 32-bit integer.
 * Exposed so other languages' ports can be checked against the same vectors.
 */
export function murmur3Utf8(text: string): number {
  if (typeof text !== 'string') throw new ValidationError(`text must be a string, got ${describeValue(text)}`);
  reset();
  absorb(text);
  return finish();
}

/**
 * MurmurHash3 x86_32 (seed 0) of raw bytes: the same core as {@link murmur3Utf8}, so tests can check
 * the inline UTF-8 encoder against Node's own.
 * @internal
 */
export function murmur3Bytes(bytes: Uint8Array): number {
  reset();
  for (let i = 0; i < bytes.length; i++) pushByte(bytes[i] as number);
  stateLength = bytes.length;
  return finish();
}

/**
 * Maps a unit to a number in [0, 1) that is the same on every replica, process and language:
 * MurmurHash3 x86_32 (seed 0) of the UTF-8 bytes of `salt + ':' + unitId`, divided by 2³².
 *
 * @param salt - the experiment's or rollout's salt; different salts give independent draws.
 * @param unitId - stable id of the user, session or device.
 * @param hashVersion - the hash specification (only `1` exists); stored in snapshots so a future
 *   algorithm never silently reshuffles running rollouts.
 * @example
 * ```ts
 * hashUnit('checkout-canary', 'user-42'); // 0.6935165461618453 on every machine
 * ```
 */
export function hashUnit(salt: string, unitId: string, hashVersion: HashVersion = 1): number {
  checkHashVersion(hashVersion);
  checkSalt(salt);
  checkUnitId(unitId);
  reset();
  absorb(salt);
  pushByte(0x3a);
  stateLength += 1;
  absorb(unitId);
  return finish() / TWO_POW_32;
}

/** A {@link hashUnit} with its salt fixed; see {@link unitHasher}. */
export type UnitHasher = (unitId: string) => number;

/**
 * Returns `(unitId) => hashUnit(salt, unitId, hashVersion)` with the salt's bytes hashed once
 * up front, so each call only hashes the unit id: what policies use on their hot path.
 */
export function unitHasher(salt: string, hashVersion: HashVersion = 1): UnitHasher {
  checkHashVersion(hashVersion);
  checkSalt(salt);
  reset();
  absorb(salt);
  pushByte(0x3a);
  stateLength += 1;
  const prefixH = stateH;
  const prefixWord = stateWord;
  const prefixWordBytes = stateWordBytes;
  const prefixLength = stateLength;
  return (unitId: string): number => {
    if (typeof unitId !== 'string') checkUnitId(unitId);
    stateH = prefixH;
    stateWord = prefixWord;
    stateWordBytes = prefixWordBytes;
    stateLength = prefixLength;
    absorb(unitId);
    return finish() / TWO_POW_32;
  };
}

/** A half-open interval `[start, end)` of the unit hash space [0, 1). */
export type BucketRange = readonly [start: number, end: number];

/**
 * Bucket ranges for `weights` at a `coverage` (the share of units in the experiment or rollout):
 * variant i gets `[cum_i, cum_i + coverage · w_i)` where `cum_i` is the sum of the normalised
 * weights before it (GrowthBook's layout). Each start depends only on the weights, so ramping
 * coverage up only widens ranges: a unit never moves from one variant to another.
 *
 * @example
 * ```ts
 * bucketRanges([1, 1], 0.2); // [[0, 0.1], [0.5, 0.6]]
 * ```
 */
export function bucketRanges(weights: readonly number[], coverage = 1): BucketRange[] {
  if (typeof coverage !== 'number' || !Number.isFinite(coverage) || coverage < 0 || coverage > 1) {
    throw new ValidationError(`coverage must be a finite number >= 0 <= 1, got ${describeValue(coverage)}`);
  }
  const normalised = normalizeWeights(weights);
  const ranges: BucketRange[] = [];
  let cumulative = 0;
  for (const w of normalised) {
    ranges.push([cumulative, cumulative + coverage * w]);
    cumulative += w;
  }
  return ranges;
}

/**
 * The index of the range holding `n` (a {@link hashUnit} value), or -1 when `n` falls in no range
 * (the unit is outside the coverage).
 */
export function chooseBucket(n: number, ranges: readonly BucketRange[]): number {
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i] as BucketRange;
    if (n >= range[0] && n < range[1]) return i;
  }
  return -1;
}
