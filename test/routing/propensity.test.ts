import { describe, expect, it } from 'vitest';
import { ABTestController, BanditPolicy, CanaryDeployment } from '../../src/index.js';
import { thompsonWinProbabilities } from '../../src/routing/bandit.js';
import { seededRandom } from '../../src/testing/index.js';
import type { Assignment, RoutingPolicy } from '../../src/routing/policy.js';

/** Routes `n` requests without unit ids and returns each variant's share and the propensity it was logged with. */
function observe(policy: RoutingPolicy, n: number): Map<string, { share: number; propensities: Set<number> }> {
  const seen = new Map<string, { share: number; propensities: Set<number> }>();
  for (let i = 0; i < n; i++) {
    const a: Assignment = policy.route();
    const entry = seen.get(a.variant) ?? { share: 0, propensities: new Set<number>() };
    entry.share += 1 / n;
    entry.propensities.add(a.propensity);
    seen.set(a.variant, entry);
  }
  return seen;
}

/** |share − p| within 4.5 binomial standard errors. */
function expectShare(share: number, p: number, n: number): void {
  expect(Math.abs(share - p)).toBeLessThan(4.5 * Math.sqrt((p * (1 - p)) / n) + 1e-12);
}

describe('Assignment.propensity', () => {
  it('canary: the canary share and its complement, by hash and at random; 1 when forced or settled', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, random: seededRandom(5) });
    expect(canary.route().propensity).toBe(1);
    canary.start(1, 2, 25);
    const n = 40_000;
    const seen = observe(canary, n);
    expect([...(seen.get('canary')?.propensities ?? [])]).toEqual([0.25]);
    expect([...(seen.get('stable')?.propensities ?? [])]).toEqual([0.75]);
    expectShare(seen.get('canary')?.share as number, 0.25, n);
    expect(canary.route({ unitId: 'u1' }).propensity).toBe(canary.route({ unitId: 'u1' }).variant === 'canary' ? 0.25 : 0.75);
    expect(canary.route({ force: 'canary' }).propensity).toBe(1);
    canary.increase();
    expect(canary.route().propensity).toBeGreaterThan(0);
    canary.rollback();
    expect(canary.route().propensity).toBe(1);
  });

  it('A/B: weight × coverage, the control also carrying the uncovered units; the shares match', () => {
    const ab = new ABTestController({ random: seededRandom(9) });
    ab.createExperiment('e', { variants: [{ name: 'a', version: 1, weight: 0.5 }, { name: 'b', version: 2, weight: 0.3 }, { name: 'c', version: 3, weight: 0.2 }], coverage: 0.4 });
    const n = 40_000;
    const seen = observe(ab, n);
    const expected = { a: 0.4 * 0.5 + 0.6, b: 0.4 * 0.3, c: 0.4 * 0.2 };
    for (const [variant, p] of Object.entries(expected)) {
      for (const logged of seen.get(variant)?.propensities ?? []) expect(logged).toBeCloseTo(p, 12);
      expectShare(seen.get(variant)?.share as number, p, n);
    }
  });

  it('ε-greedy: exactly floor + (1 − k·floor)·(1 − ε) for the best arm and … ε/(k − 1) for the others', () => {
    const bandit = new BanditPolicy({
      algorithm: 'epsilon-greedy',
      epsilon: 0.2,
      floor: 0.05,
      arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }, { variant: 'c', version: 3 }],
      random: seededRandom(3),
    });
    for (let i = 0; i < 30; i++) bandit.reward('b', i % 3 !== 0);
    const rest = 1 - 3 * 0.05;
    const best = 0.05 + rest * 0.8;
    const other = 0.05 + (rest * 0.2) / 2;
    const n = 60_000;
    const seen = observe(bandit, n);
    expect([...(seen.get('b')?.propensities ?? [])]).toEqual([best]);
    expect([...(seen.get('a')?.propensities ?? [])]).toEqual([other]);
    expectShare(seen.get('b')?.share as number, best, n);
    expectShare(seen.get('c')?.share as number, other, n);
    expect(best + 2 * other).toBeCloseTo(1, 12);
    expect(bandit.route({ force: 'a' }).propensity).toBe(1);
  });

  it('Thompson: P(Beta(2, 1) > U(0, 1)) = ∫ 2x·x dx = 2/3, and equal posteriors split evenly', () => {
    const [first, second] = thompsonWinProbabilities([1, 0, 0, 0], 2);
    expect(first).toBeCloseTo(2 / 3, 5);
    expect(second).toBeCloseTo(1 / 3, 5);
    const even = thompsonWinProbabilities([40, 60, 40, 60, 40, 60], 3);
    for (const p of even) expect(p).toBeCloseTo(1 / 3, 6);
    // Beta(3, 1) vs Beta(1, 3): P(Y > X) = ∫ 3x²·(1 − x)³ dx = 3·B(3, 4) = 1/20.
    expect(thompsonWinProbabilities([2, 0, 0, 2], 2)[1]).toBeCloseTo(1 / 20, 5);
  });

  it('Thompson: the logged propensities match the shares routed, including the floor', () => {
    const bandit = new BanditPolicy({ arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }], floor: 0.05, random: seededRandom(11) });
    for (let i = 0; i < 40; i++) bandit.reward('a', i % 2 === 0);
    for (let i = 0; i < 40; i++) bandit.reward('b', i % 5 < 3);
    const n = 60_000;
    const seen = observe(bandit, n);
    const pa = [...(seen.get('a')?.propensities ?? [])];
    expect(pa).toHaveLength(1);
    const [wa] = thompsonWinProbabilities([20, 20, 24, 16], 2);
    expect(pa[0]).toBeCloseTo(0.05 + 0.9 * (wa as number), 12);
    expectShare(seen.get('a')?.share as number, pa[0] as number, n);
  });
});
