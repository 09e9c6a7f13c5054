import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { ModelRolloutError, NotFoundError, ValidationError } from '../../src/errors.js';
import { ModelRegistry } from '../../src/registry/model-registry.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { anyValue, FUZZ_TIMEOUT_MS, RUNS } from './mutate.js';

vi.setConfig({ testTimeout: FUZZ_TIMEOUT_MS });

const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/i;

/** Strings near the name rule: valid names, names with one bad character, prototype names, long ones. */
const nameLike: fc.Arbitrary<unknown> = fc.oneof(
  fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,20}$/),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom('constructor', '__proto__', 'toString', '..', '.', 'a/b', '@x', 'A'.repeat(128), 'a'.repeat(129), ' ', 'Ünicode', 'a\u0000'),
  anyValue,
);

async function fixture() {
  const storage = new MemoryStorage();
  const registry = new ModelRegistry({ storage });
  await registry.register('m', new Uint8Array([1]), { format: 'bin', tags: { team: 'a' } });
  await registry.setAlias('m', 'prod', 1);
  const keys = async () => Promise.all((await storage.list('')).map(async (k) => [k, (await storage.get(k))!.etag]));
  return { registry, storage, keys };
}

function named(error: unknown, ...classes: Array<new (...args: never[]) => Error>): void {
  expect(error).toBeInstanceOf(ModelRolloutError);
  expect(classes.some((c) => error instanceof c), String(error)).toBe(true);
}

describe(`registry names, aliases, refs and tags over ${RUNS} runs each`, () => {
  it('model names: a valid name registers (lower-cased), anything else is a ValidationError that stores nothing', async () => {
    const { registry, keys } = await fixture();
    await fc.assert(
      fc.asyncProperty(nameLike, async (name) => {
        const before = await keys();
        const result = await registry.getVersion(name as string, 1).catch((e: unknown) => e);
        if (typeof name === 'string' && NAME.test(name)) {
          if (result instanceof Error) named(result, NotFoundError);
          else expect(name.toLowerCase()).toBe('m');
        } else {
          named(result, ValidationError);
          await expect(registry.register(name as string, new Uint8Array([2]), { format: 'bin' })).rejects.toBeInstanceOf(ValidationError);
          expect(await keys()).toEqual(before);
        }
      }),
      { numRuns: RUNS, seed: 21 },
    );
  });

  it('aliases: setAlias with a valid name moves it (resolve agrees), anything else changes nothing; refs resolve or fail named', async () => {
    await fc.assert(
      fc.asyncProperty(nameLike, anyValue, async (alias, ref) => {
        // A fresh registry per run: every accepted move lengthens the one alias history document.
        const { registry, keys } = await fixture();
        const before = await keys();
        const set = await registry.setAlias('m', alias as string, 1).catch((e: unknown) => e);
        if (set instanceof Error) {
          named(set, ValidationError);
          expect(await keys()).toEqual(before);
        } else {
          expect((await registry.resolve('m', `@${alias as string}`)).version).toBe(1);
        }
        const resolved = await registry.resolve('m', ref as never).catch((e: unknown) => e);
        if (resolved instanceof Error) named(resolved, ValidationError, NotFoundError);
        else expect((resolved as { version: number }).version).toBe(1);
      }),
      { numRuns: RUNS, seed: 22 },
    );
  });

  it('tags: an object of strings replaces them exactly, anything else is a ValidationError and the record is unchanged', async () => {
    const { registry, storage } = await fixture();
    const tags = fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 4 }), fc.dictionary(fc.string({ maxLength: 4 }), anyValue, { maxKeys: 3 }), anyValue);
    await fc.assert(
      fc.asyncProperty(tags, async (given) => {
        const before = (await storage.get('models/m/versions/1.json'))!.etag;
        const result = await registry.setTags('m', 1, given as Record<string, string>).catch((e: unknown) => e);
        if (result instanceof Error) {
          named(result, ValidationError);
          expect((await storage.get('models/m/versions/1.json'))!.etag).toBe(before);
        } else {
          expect((await registry.getVersion('m', 1)).tags).toEqual({ ...(given as object) });
        }
      }),
      { numRuns: RUNS, seed: 23 },
    );
  });
});
