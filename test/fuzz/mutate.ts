import fc from 'fast-check';

/** Numbers and values that break naive checks: non-finite, huge, negative, prototype names. */
export const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, -1, 1.7e308, 2 ** 53, 2 ** 53 + 2, -1e-300, 1e-320, '', '__proto__', 'constructor', null, undefined, true, [], {}),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 8 }),
);

export const anyValue: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: nasty }, { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) });

type Path = Array<string | number>;

function paths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (prefix.length > 0) out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

/**
 * Copies of `valid` (a JSON-safe object) with one to three random changes: a value anywhere
 * replaced by a nasty or arbitrary one, a key deleted, or a key added.
 */
export function mutated<T>(valid: T): fc.Arbitrary<T> {
  const all = paths(valid);
  const change = fc.tuple(fc.nat(Math.max(0, all.length - 1)), fc.constantFrom('replace', 'replace', 'delete', 'add'), anyValue, fc.string({ maxLength: 6 }));
  return fc.array(change, { minLength: 1, maxLength: 3 }).map((changes) => {
    const copy = structuredClone(valid) as unknown;
    for (const [index, kind, value, key] of changes) {
      const path = all[index];
      if (path === undefined) continue;
      let parent = copy as Record<string | number, unknown>;
      for (const step of path.slice(0, -1)) {
        const next = parent?.[step];
        if (typeof next !== 'object' || next === null) break;
        parent = next as Record<string | number, unknown>;
      }
      const last = path.at(-1)!;
      if (typeof parent !== 'object' || parent === null) continue;
      if (kind === 'replace') parent[last] = value;
      else if (kind === 'delete') delete parent[last];
      else if (typeof parent[last] === 'object' && parent[last] !== null) (parent[last] as Record<string, unknown>)[key] = value;
    }
    return copy as T;
  });
}

/** Runs per surface: at least 10 000, as the hardening issue asks. */
export const RUNS = 10_000;

/** A 10 000-run property takes seconds on an idle machine; allow for a heavily loaded one. */
export const FUZZ_TIMEOUT_MS = 300_000;
