/**
 * Option and snapshot checks shared by the routing policies. Internal: each throws a
 * `ValidationError` naming the option or snapshot field, what was expected and what was given.
 *
 * @internal
 * @module
 */
import { ValidationError, describeValue } from '../errors.js';
import { checkFunction, checkNumber, checkVersion, type Clock, type RandomSource } from '../options.js';

/** Checks a traffic percentage in [0, 100]. @internal */
export function checkPercentage(name: string, value: unknown): number {
  return checkNumber(name, value, { min: 0, max: 100 });
}

/**
 * Checks a variant, slot, arm or experiment label, a salt or a unit id: any non-empty string (a
 * registry name, which becomes a storage key, is checked by the registry's stricter `checkName`).
 * @internal
 */
export function checkNonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValidationError(`${name} must be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}

/** Resolves the `clock` and `random` options every policy takes. @internal */
export function timeAndChance(options: { clock?: Clock; random?: RandomSource }): { clock: Clock; random: RandomSource } {
  return {
    clock: options.clock === undefined ? Date.now : checkFunction<Clock>('clock', options.clock),
    random: options.random === undefined ? Math.random : checkFunction<RandomSource>('random', options.random),
  };
}

/** Checks that `options` is an object (or absent) before its fields are read. @internal */
export function checkOptions<T extends object>(what: string, options: unknown): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ValidationError(`${what} options must be an object, got ${describeValue(options)}`);
  }
  return options as T;
}

/**
 * Reads a snapshot: checks it is a plain object tagged `policy` (or one of the `legacyTags` earlier
 * releases wrote), and returns it for field-by-field checks (named `snapshot.<field>` in errors).
 * @internal
 */
export function snapshotRecord(snapshot: unknown, policy: string, legacyTags: readonly string[] = []): Record<string, unknown> {
  if (typeof snapshot !== 'object' || snapshot === null || Array.isArray(snapshot)) {
    throw new ValidationError(`snapshot must be an object made by ${policy}.snapshot(), got ${describeValue(snapshot)}`);
  }
  const record = snapshot as Record<string, unknown>;
  if (record.policy !== policy && !legacyTags.includes(record.policy as string)) {
    const accepted = [policy, ...legacyTags].map((tag) => `'${tag}'`).join(' or ');
    throw new ValidationError(`snapshot.policy must be ${accepted}, got ${describeValue(record.policy)}`);
  }
  if (record.specVersion !== 1) {
    throw new ValidationError(`snapshot.specVersion must be 1, got ${describeValue(record.specVersion)}`);
  }
  return record;
}

/** Checks that a value is an array (a snapshot field or an option). @internal */
export function checkArray(name: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new ValidationError(`${name} must be an array, got ${describeValue(value)}`);
  // A sparse array's holes are skipped by map and forEach, so they would pass every element check.
  for (let i = 0; i < value.length; i++) {
    if (!(i in value)) throw new ValidationError(`${name}[${i}] is a hole in a sparse array; every element must be given`);
  }
  return value;
}

/** Checks that a value is a plain object (a snapshot entry). @internal */
export function checkRecord(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(`${name} must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Checks an optional version: `null` (absent, as JSON has no `undefined`) or a version number. @internal */
export function checkOptionalVersion(name: string, value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : checkVersion(name, value);
}

/** Checks an optional free-text reason given to a transition. @internal */
export function checkReason(value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') {
    throw new ValidationError(`reason must be a string, got ${describeValue(value)}`);
  }
  return value;
}
