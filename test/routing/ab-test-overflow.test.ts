import { describe, expect, it } from 'vitest';
import { ABTestController, ValidationError } from '../../src/index.js';

function experiment() {
  const ab = new ABTestController();
  ab.createExperiment('e', { variants: [{ name: 'a', version: 1 }, { name: 'b', version: 2 }] });
  for (let i = 0; i < 10; i++) {
    ab.logResult('e', 'a', i % 2);
    ab.logResult('e', 'b', i % 3 ? 1 : 0);
  }
  return ab;
}

describe('ABTestController refuses statistics that would overflow', () => {
  const snapshots: Array<[string, unknown]> = [
    ['a count past 2^53', { variants: { a: { count: 2 ** 53 + 2, mean: 1, m2: 1 } } }],
    ['a huge count and mean', { variants: { a: { count: 9e15, mean: 1e300, m2: 0 } } }],
    ['an m2 that overflows once merged', { variants: { a: { count: 5, mean: 1e200, m2: 1e308 } } }],
    ['counts that pass 2^53 only once added', { variants: { a: { count: Number.MAX_SAFE_INTEGER - 5, mean: 0.5, m2: 1 } } }],
  ];

  it.each(snapshots)('mergeStats of %s is a ValidationError, changes nothing, and results() keeps working', (_label, snapshot) => {
    const ab = experiment();
    const before = ab.snapshot();
    expect(() => ab.mergeStats('e', snapshot as never)).toThrow(ValidationError);
    expect(ab.snapshot()).toEqual(before);
    expect(ab.results('e').comparisons.b).not.toBeNull();
  });

  it('logResult of a value whose square overflows is refused and not recorded', () => {
    const ab = experiment();
    const before = ab.snapshot();
    expect(() => ab.logResult('e', 'a', 1.7e308)).toThrow(/would make the variance of variant 'a' .* overflow/);
    expect(ab.snapshot()).toEqual(before);
    expect(ab.results('e').variants[0]!.count).toBe(10);
  });
});
