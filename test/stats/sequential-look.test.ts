import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import {
  addObservation,
  checkSequentialState,
  emptySummary,
  sequentialLook,
  sequentialTest,
  welchTTest,
  type ComparisonResult,
  type SequentialState,
} from '../../src/index.js';
import { seededRandom } from '../../src/testing/index.js';

function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * One experiment observed `looks` times, `perLook` units per arm between looks; returns the
 * recomputed p-value and the running (sequentialLook) result at every look.
 */
function peek(seed: number, effect: number, looks: number, perLook: number) {
  const normal = gaussian(seededRandom(seed));
  const control = emptySummary();
  const treatment = emptySummary();
  let state: SequentialState | undefined;
  const recomputed: number[] = [];
  const running: ComparisonResult[] = [];
  for (let look = 0; look < looks; look++) {
    for (let i = 0; i < perLook; i++) {
      addObservation(control, normal());
      addObservation(treatment, effect + normal());
    }
    const current = sequentialTest(control, treatment, { tuning: 2 * looks * perLook });
    recomputed.push(current.pValue);
    const step = sequentialLook(state, current);
    state = step.state;
    running.push(step.result);
  }
  return { recomputed, running, state: state! };
}

describe('sequentialLook: running minimum p-value and running intersection of sequences', () => {
  it('A/A: the share of runs ever significant under peeking after every look stays <= alpha', () => {
    const runs = 400;
    let everSignificant = 0;
    for (let seed = 1; seed <= runs; seed++) {
      const { running } = peek(seed, 0, 40, 50);
      if (running.at(-1)!.significant) everSignificant++;
      // Once significant, significant at every later look.
      const first = running.findIndex((r) => r.significant);
      if (first >= 0) expect(running.slice(first).every((r) => r.significant)).toBe(true);
    }
    expect(everSignificant / runs).toBeLessThanOrEqual(0.05);
  });

  it('with a true effect, a run that crossed alpha is still significant at its last look (recomputed p-values slip back)', () => {
    let crossed = 0;
    let significantAtLastRecomputed = 0;
    let significantAtLastRunning = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const { recomputed, running } = peek(1000 + seed, 0.1, 40, 50);
      if (recomputed.some((p) => p < 0.05)) crossed++;
      if (recomputed.at(-1)! < 0.05) significantAtLastRecomputed++;
      if (running.at(-1)!.significant) significantAtLastRunning++;
      for (let i = 1; i < running.length; i++) {
        expect(running[i]!.pValue).toBeLessThanOrEqual(running[i - 1]!.pValue);
        const [lo, hi] = running[i]!.differenceCi;
        const [plo, phi] = running[i - 1]!.differenceCi;
        expect(lo).toBeGreaterThanOrEqual(plo);
        expect(hi).toBeLessThanOrEqual(phi);
      }
    }
    expect(crossed).toBeGreaterThan(0);
    expect(significantAtLastRunning).toBe(crossed);
    expect(significantAtLastRecomputed).toBeLessThan(crossed);
  });

  it('the running p-value is the minimum of the looks and the interval their intersection', () => {
    const { recomputed, running, state } = peek(7, 0.2, 10, 100);
    expect(state.looks).toBe(10);
    expect(state.pValue).toBe(Math.min(...recomputed));
    expect(running.at(-1)!.pValue).toBe(state.pValue);
    expect(running.at(-1)!.differenceCi).toEqual(state.differenceCi);
    // JSON round trip continues the same way.
    expect(checkSequentialState(JSON.parse(JSON.stringify(state)))).toEqual(state);
  });

  it('refuses results of other tests and malformed states', () => {
    const c = { count: 10, mean: 1, m2: 9 };
    const t = { count: 10, mean: 2, m2: 9 };
    expect(() => sequentialLook(undefined, welchTTest(c, t))).toThrow(/needs a result of sequentialTest/);
    const result = sequentialTest(c, t);
    for (const bad of [null, { looks: 0, pValue: 0.5, differenceCi: [0, 1], liftCi: null }, { looks: 1, pValue: 2, differenceCi: [0, 1], liftCi: null }, { looks: 1, pValue: 0.5, differenceCi: [1, 0], liftCi: null }]) {
      expect(() => sequentialLook(bad as never, result)).toThrow(ValidationError);
    }
  });
});
