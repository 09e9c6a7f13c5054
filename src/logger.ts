import { ValidationError, describeValue } from './errors.js';

/**
 * Where the library reports what it decided and what went wrong: the shape `console` and `pino`
 * share, each method called as `logger.info(fields, message)` with structured `fields` first.
 * Nothing is logged unless a logger is given.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** The levels a {@link Logger} has, least severe first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Checks a `logger` option up front: an object with the four level methods. @internal */
export function checkLogger(logger: unknown): Logger {
  const missing = LEVELS.filter((level) => typeof (logger as Partial<Logger> | null)?.[level] !== 'function');
  if (typeof logger !== 'object' || logger === null || missing.length > 0) {
    throw new ValidationError(
      `logger must have debug, info, warn and error methods (console and pino loggers do), got ${describeValue(logger)}${
        typeof logger === 'object' && logger !== null ? ` without ${missing.join(', ')}` : ''
      }`,
    );
  }
  return logger as Logger;
}
