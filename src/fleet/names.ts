import { ValidationError, describeValue } from '../errors.js';
import { isStorageKey } from '../storage/keys.js';

/**
 * A deployment name or replica id is one storage key segment: letters, digits and
 * `. _ - @ = + ~`, not starting with `.`, so it can never name a key outside its own folder.
 * @internal
 */
export function checkKeySegment(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.includes('/') || !isStorageKey(`${value}.json`) || value.length > 200) {
    throw new ValidationError(
      `${what} must be one storage key segment of at most 200 characters (letters, digits, '.', '_', '-', '@', '=', '+', '~', not starting with '.'), got ${describeValue(value)}`,
    );
  }
  return value;
}

/** @internal */
export function checkDeploymentName(name: unknown): string {
  return checkKeySegment('deployment name', name);
}
