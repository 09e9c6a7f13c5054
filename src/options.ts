import { ValidationError, describeValue } from './errors.js';

/** A source of the current time in milliseconds since the epoch (defaults to `Date.now`). */
export type Clock = () => number;

/** A source of uniform random numbers in [0, 1) (defaults to `Math.random`). */
export type RandomSource = () => number;

/**
 * The timers a background loop runs on: the global ones (the default, unref'd so the loop never
 * keeps a process alive) or a `FakeClock` from `model-rollout/testing`, so a test moves the loop
 * by advancing fake time (`clock.tickAsync(ms)` awaits what each callback returns). Pass the same
 * clock's `now` as the `clock` option.
 */
export interface TimerScheduler {
  setTimeout(callback: () => unknown, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => unknown, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

function unrefd<H extends { unref(): unknown }>(handle: H): H {
  handle.unref();
  return handle;
}

/** The global timers, unref'd. @internal */
export const globalTimers: TimerScheduler = {
  setTimeout: (callback, ms) => unrefd(setTimeout(callback, ms)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (callback, ms) => unrefd(setInterval(callback, ms)),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

/** The `timers` option: {@link globalTimers} when absent, else checked to have all four functions. @internal */
export function checkTimers(name: string, value: unknown): TimerScheduler {
  if (value === undefined) return globalTimers;
  const timers = value as Partial<Record<keyof TimerScheduler, unknown>> | null;
  for (const fn of ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] as const) {
    if (typeof timers?.[fn] !== 'function') {
      throw new ValidationError(`${name} must have setTimeout, clearTimeout, setInterval and clearInterval (e.g. a FakeClock), got ${describeValue(value)} without ${fn}`);
    }
  }
  return value as TimerScheduler;
}

/** Bounds for {@link checkNumber}. */
export interface NumberBounds {
  min?: number;
  max?: number;
  /** When true, `min` is excluded. */
  exclusiveMin?: boolean;
  integer?: boolean;
}

/**
 * Checks that `value` is a finite number within bounds and returns it; otherwise throws a
 * `ValidationError` naming the option, what was expected and what was given.
 * @internal
 */
export function checkNumber(name: string, value: unknown, bounds: NumberBounds = {}): number {
  const { min, max, exclusiveMin = false, integer = false } = bounds;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    (min === undefined || (exclusiveMin ? value > min : value >= min)) &&
    (max === undefined || value <= max);
  if (!ok) {
    const parts: string[] = [integer ? 'an integer' : 'a finite number'];
    if (min !== undefined) parts.push(`${exclusiveMin ? '>' : '>='} ${min}`);
    if (max !== undefined) parts.push(`<= ${max}`);
    throw new ValidationError(`${name} must be ${parts.join(' ')}, got ${describeValue(value)}`);
  }
  return value as number;
}

/**
 * Checks a registry version number: an integer from 1 to 2^53 − 1, as the registry hands out.
 * Safe integers only: 2^53 and beyond are not exact, so two versions could compare equal.
 * @internal
 */
export function checkVersion(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be an integer >= 1, got ${describeValue(value)}`);
  }
  return value;
}

/** Checks that `value` is a function (a clock, a random source, a hook). @internal */
export function checkFunction<T extends (...args: never[]) => unknown>(name: string, value: unknown): T {
  if (typeof value !== 'function') {
    throw new ValidationError(`${name} must be a function, got ${describeValue(value)}`);
  }
  return value as T;
}

/** Checks that `value` is one of `allowed`. @internal */
export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ValidationError(
      `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`,
    );
  }
  return value as T;
}
