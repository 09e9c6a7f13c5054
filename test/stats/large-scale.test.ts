import { describe, expect, it } from 'vitest';
import { ABTestController, welchTTest } from '../../src/index.js';

describe('Welch at a large scale (values near 1e78, whose squares are still finite)', () => {
  it('gives the degrees of freedom and p-value of the same data at unit scale (the test is scale-invariant)', () => {
    const k = 1e78;
    const small = welchTTest({ count: 10, mean: 1, m2: 6 }, { count: 12, mean: 0.2, m2: 5 });
    const large = welchTTest({ count: 10, mean: k, m2: 6 * k * k }, { count: 12, mean: 0.2 * k, m2: 5 * k * k });
    expect(Number.isFinite(large.df)).toBe(true);
    expect(Math.abs(large.df! - small.df!) / small.df!).toBeLessThan(1e-12);
    expect(Math.abs(large.pValue - small.pValue) / small.pValue).toBeLessThan(1e-9);
  });

  it('an A/B experiment fed such values (which logResult accepts) reports a p-value in [0, 1]', () => {
    const ab = new ABTestController();
    ab.createExperiment('e', { modelA: 1, modelB: 2 });
    for (let i = 0; i < 10; i++) {
      ab.logResult('e', 'a', (i % 2 ? 1 : -1) * 3e78);
      ab.logResult('e', 'b', 1e77 + (i % 2 ? 1 : -1) * 1e76);
    }
    const { pValue, df } = ab.results('e').comparisons.b!;
    expect(Number.isFinite(df)).toBe(true);
    expect(pValue).toBeGreaterThanOrEqual(0);
    expect(pValue).toBeLessThanOrEqual(1);
  });
});
