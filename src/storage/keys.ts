import { ValidationError, describeValue } from '../errors.js';

/** Longest key accepted, in characters (S3 allows 1024 bytes; keys here are ASCII). */
export const MAX_KEY_LENGTH = 1024;
const MAX_SEGMENT_LENGTH = 255;
// A segment never starts with '.', which rules out '.' and '..' and leaves dot-names free for an
// adapter's own bookkeeping (temp and lock files of FileSystemStorage).
const SEGMENT = /^[A-Za-z0-9_@=+~-][A-Za-z0-9._@=+~-]*$/;
const PREFIX_CHARS = /^[A-Za-z0-9._@=+~/-]*$/;

/**
 * Checks a storage key and returns it: 1 to 1024 characters, `/`-separated segments, each of
 * `A-Z a-z 0-9 . _ - @ = + ~`, not empty, not starting with `.` (so `.` and `..` are impossible) and
 * at most 255 characters. Every adapter calls this first, so a key that one adapter accepts, all
 * accept, and no key can name a path outside an adapter's root.
 *
 * @throws ValidationError naming what was wrong with the key.
 */
export function checkStorageKey(key: unknown): string {
  if (!isStorageKey(key)) {
    throw new ValidationError(
      `storage key must be 1 to ${MAX_KEY_LENGTH} characters of '/'-separated segments of [A-Za-z0-9._@=+~-], each non-empty, at most ${MAX_SEGMENT_LENGTH} characters and not starting with '.', got ${describeValue(key)}`,
    );
  }
  return key;
}

/** True when `key` is a valid storage key (see {@link checkStorageKey}). */
export function isStorageKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) return false;
  return key.split('/').every((segment) => segment.length <= MAX_SEGMENT_LENGTH && SEGMENT.test(segment));
}

/**
 * Checks a `list` prefix and returns it: empty (everything) or a string of key characters and `/`.
 *
 * @throws ValidationError when the prefix holds characters no key can contain.
 */
export function checkStoragePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length > MAX_KEY_LENGTH || !PREFIX_CHARS.test(prefix)) {
    throw new ValidationError(
      `storage prefix must be a string of at most ${MAX_KEY_LENGTH} characters from [A-Za-z0-9._@=+~/-], got ${describeValue(prefix)}`,
    );
  }
  return prefix;
}

/** Checks the data argument of `put`. @internal */
export function checkStorageData(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new ValidationError(`storage data must be a Uint8Array, got ${describeValue(data)}`);
  }
  return data;
}

/** Checks the condition argument of `put` / `delete` and returns which form it is. @internal */
export function conditionKind(cond: unknown, allowNoneMatch: boolean): 'none' | 'ifNoneMatch' | 'ifMatch' {
  if (cond === undefined) return 'none';
  if (typeof cond === 'object' && cond !== null) {
    const c = cond as { ifNoneMatch?: unknown; ifMatch?: unknown };
    if (allowNoneMatch && c.ifNoneMatch === '*' && c.ifMatch === undefined) return 'ifNoneMatch';
    if (typeof c.ifMatch === 'string' && c.ifMatch.length > 0 && c.ifNoneMatch === undefined) return 'ifMatch';
  }
  const expected = allowNoneMatch ? "{ ifNoneMatch: '*' } or { ifMatch: etag }" : '{ ifMatch: etag }';
  throw new ValidationError(`condition must be ${expected}, got ${describeValue(cond)}`);
}
