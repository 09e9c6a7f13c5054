import { ValidationError } from '../errors.js';

/**
 * The command line itself is wrong (unknown command or option, a missing argument, a malformed
 * value): the command exits 2 instead of 1 and points at `--help`. A `ValidationError`, so it says
 * what was expected and what was given like every other one.
 */
export class UsageError extends ValidationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}
