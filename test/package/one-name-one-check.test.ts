import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { checkName } from '../../src/registry/names.js';
import { checkNonEmptyString } from '../../src/routing/checks.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('one name, one meaning', () => {
  it('no two modules of src export a function of the same name (one checkName, not two with opposite argument orders)', () => {
    const where = new Map<string, string[]>();
    for (const file of sourceFiles(SRC)) {
      for (const [, name] of readFileSync(file, 'utf8').matchAll(/^export (?:async )?function\s+(\w+)/gm)) {
        where.set(name as string, [...(where.get(name as string) ?? []), path.relative(SRC, file)]);
      }
    }
    const twice = [...where].filter(([, files]) => files.length > 1);
    expect(twice).toEqual([]);
  });

  it('checkName checks a registry name (storage-safe); checkNonEmptyString checks a label', () => {
    expect(checkName('Iris', 'model name')).toBe('iris');
    expect(() => checkName('a/b', 'model name')).toThrow(/model name must match/);
    expect(checkNonEmptyString('variant', 'a/b')).toBe('a/b');
    expect(() => checkNonEmptyString('variant', '')).toThrow(ValidationError);
    expect(() => checkNonEmptyString('variant', '')).toThrow(/variant must be a non-empty string, got/);
  });
});
