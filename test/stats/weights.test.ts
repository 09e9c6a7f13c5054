import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ABTestController, normalizeWeights } from '../../src/index.js';

describe('normalizeWeights is idempotent, so normalised weights restore exactly', () => {
  it('normalising normalised weights changes no digit (10 000 weight vectors)', () => {
    const weights = fc.array(fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e-12, noNaN: true })), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(weights, (w) => {
        fc.pre(w.some((x) => x > 0) && Number.isFinite(w.reduce((a, b) => a + b, 0)));
        const once = normalizeWeights(w);
        expect(normalizeWeights(once)).toEqual(once);
      }),
      { numRuns: 10_000, seed: 7 },
    );
  });

  it('the A/B snapshot the restore fuzzer found (a weight of 1.3e-15 beside 0.5) round-trips exactly', () => {
    const ab = new ABTestController();
    ab.createExperiment('e', { variants: [{ name: 'a', version: 1, weight: 1.27675647831893e-15 }, { name: 'b', version: 2, weight: 0.5 }] });
    const first = JSON.parse(JSON.stringify(ab.snapshot()));
    const again = new ABTestController();
    again.restore(first);
    expect(JSON.parse(JSON.stringify(again.snapshot()))).toEqual(first);
  });
});
