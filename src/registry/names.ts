import { ValidationError, describeValue } from '../errors.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/i;

/**
 * Checks a model or alias name against `^[a-z0-9][a-z0-9._-]{0,127}$` (case-insensitive) and
 * returns it lower-cased: names are case-insensitive everywhere (`Iris` and `iris` are one model),
 * which keeps storage keys identical on case-sensitive and case-insensitive backends. No separator,
 * `..` or empty name can pass, so a name is always one safe storage key segment.
 *
 * @param what - What the name is, for the error message (`'model name'`, `'alias'`).
 * @throws ValidationError naming what was expected and what was given.
 */
export function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    const hint = typeof value === 'string' && value.startsWith('@') ? " (the '@' prefix belongs in a version ref, not in a name)" : '';
    throw new ValidationError(
      `${what} must match ^[a-z0-9][a-z0-9._-]{0,127}$ (1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit), got ${describeValue(value)}${hint}`,
    );
  }
  return value.toLowerCase();
}
