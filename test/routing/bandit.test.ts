import { describe, expect, it } from 'vitest';
import { BanditPolicy, ValidationError, type BanditPolicyOptions } from '../../src/index.js';
import { FakeClock, seededRandom } from '../../src/testing/index.js';

const ARMS = [
  { variant: 'a', version: 1 },
  { variant: 'b', version: 2 },
];

/** Routes `requests` requests, rewarding each with its arm's true success rate; returns the variants served. */
function simulate(bandit: BanditPolicy, rates: Record<string, number>, requests: number, world = seededRandom(99)): string[] {
  const served: string[] = [];
  for (let i = 0; i < requests; i++) {
    const { variant } = bandit.route();
    served.push(variant);
    bandit.reward(variant, world() < (rates[variant] as number));
  }
  return served;
}

function share(served: readonly string[], variant: string): number {
  return served.filter((v) => v === variant).length / served.length;
}

describe('BanditPolicy', () => {
  it('Thompson sends > 80 % of the last 5 000 of 20 000 requests to the better arm (0.05 vs 0.10)', () => {
    const bandit = new BanditPolicy({ arms: ARMS, random: seededRandom(2024), replicaId: 'r1' });
    const served = simulate(bandit, { a: 0.05, b: 0.1 }, 20_000);
    const last = served.slice(-5_000);
    expect(share(last, 'b')).toBeGreaterThan(0.8);
    expect(share(last, 'a')).toBeGreaterThanOrEqual(0.01 - 0.004);
    expect(bandit.state.best).toBe('b');
  });

  it('ε-greedy exploits the better arm and explores the others about ε of the time', () => {
    const bandit = new BanditPolicy({ arms: ARMS, algorithm: 'epsilon-greedy', epsilon: 0.1, random: seededRandom(7), replicaId: 'r1' });
    const served = simulate(bandit, { a: 0.05, b: 0.1 }, 20_000);
    const last = served.slice(-5_000);
    // The worse arm gets ε (0.1) of the 98 % the floor leaves, plus its 1 % floor share.
    expect(share(last, 'a')).toBeGreaterThan(0.06);
    expect(share(last, 'a')).toBeLessThan(0.16);
    expect(share(last, 'b')).toBeGreaterThan(0.84);
  });

  it('keeps every arm at its floor even when one arm is hopeless', () => {
    const arms = [
      { variant: 'good', version: 1 },
      { variant: 'bad', version: 2 },
      { variant: 'worse', version: 3 },
    ];
    for (const algorithm of ['thompson', 'epsilon-greedy'] as const) {
      const bandit = new BanditPolicy({ arms, algorithm, epsilon: 0, floor: 0.05, random: seededRandom(1), replicaId: 'r' });
      const served = simulate(bandit, { good: 0.5, bad: 0, worse: 0 }, 20_000);
      const last = served.slice(-10_000);
      for (const variant of ['bad', 'worse']) {
        expect(share(last, variant), `${algorithm} ${variant}`).toBeGreaterThan(0.05 - 0.007);
      }
    }
  });

  it('labels routes explore / exploit / forced and falls back to the first arm', () => {
    const bandit = new BanditPolicy({ arms: ARMS, random: seededRandom(3), replicaId: 'r' });
    for (let i = 0; i < 200; i++) bandit.reward('b', true);
    const reasons = new Set(Array.from({ length: 500 }, () => bandit.route()).map((a) => `${a.variant}:${a.reason}`));
    expect(reasons).toContain('b:exploit');
    expect(reasons).toContain('a:explore');
    expect(reasons).not.toContain('a:exploit');
    expect(bandit.route({ force: 'a', unitId: 'x' })).toEqual({ version: 1, variant: 'a', reason: 'forced', propensity: 1 });
    expect(bandit.fallback()).toEqual({ version: 1, variant: 'a', reason: 'fallback', propensity: 1 });
    expect(() => bandit.route({ force: 'c' })).toThrow(/force must name an arm \('a', 'b'\), got string "c"/);
  });

  it('counts fractional rewards and emits rewarded with the totals', () => {
    const clock = new FakeClock(10);
    const bandit = new BanditPolicy({ arms: ARMS, clock: clock.now, replicaId: 'r' });
    const events: unknown[] = [];
    bandit.reward('a', 0.25);
    bandit.on('rewarded', (e) => events.push(e));
    bandit.reward('a', true);
    bandit.reward('b', false);
    expect(events).toEqual([
      { variant: 'a', value: 1, successes: 1.25, failures: 0.75, at: 10 },
      { variant: 'b', value: 0, successes: 0, failures: 1, at: 10 },
    ]);
    expect(bandit.state.arms).toEqual([
      { variant: 'a', version: 1, successes: 1.25, failures: 0.75, mean: 2.25 / 4 },
      { variant: 'b', version: 2, successes: 0, failures: 1, mean: 1 / 3 },
    ]);
    expect(() => bandit.reward('z', true)).toThrow(/variant must name an arm/);
    expect(() => bandit.reward('a', 1.5)).toThrow(/outcome must be a finite number >= 0 <= 1, got number 1.5/);
    expect(() => bandit.reward('a', Number.NaN)).toThrow(ValidationError);
    expect(bandit.state.arms[0]).toMatchObject({ successes: 1.25, failures: 0.75 });
  });

  it('validates its options with errors naming them', () => {
    const bad: Array<[Partial<BanditPolicyOptions>, RegExp]> = [
      [{ arms: [ARMS[0]!] }, /arms must hold at least two arms, got 1/],
      [{ arms: [ARMS[0]!, ARMS[0]!] }, /arms\[1\].variant must be unique, got 'a' twice/],
      [{ arms: [ARMS[0]!, { variant: 'b', version: 0 }] }, /arms\[1\].version must be an integer >= 1/],
      [{ arms: ARMS, algorithm: 'ucb' as never }, /algorithm must be one of 'thompson', 'epsilon-greedy', got string "ucb"/],
      [{ arms: ARMS, epsilon: 1.2 }, /epsilon must be a finite number >= 0 <= 1/],
      [{ arms: ARMS, floor: 0.6 }, /floor must be a finite number >= 0 <= 0.5, got number 0.6/],
      [{ arms: ARMS, random: 1 as never }, /random must be a function/],
      [{ arms: ARMS, replicaId: '' }, /replicaId must be a non-empty string/],
    ];
    for (const [options, message] of bad) expect(() => new BanditPolicy(options as BanditPolicyOptions)).toThrow(message);
  });

  it('snapshots its counts and restores them; a replay from the same random routes the same', () => {
    const bandit = new BanditPolicy({ arms: ARMS, random: seededRandom(5), replicaId: 'r1' });
    simulate(bandit, { a: 0.2, b: 0.3 }, 2_000);
    const json = JSON.parse(JSON.stringify(bandit.snapshot()));
    expect(json).toMatchObject({ policy: 'bandit', specVersion: 1, algorithm: 'thompson', epsilon: 0.1, floor: 0.01, arms: ARMS });
    expect(Object.keys(json.counts)).toEqual(['r1']);

    const a = new BanditPolicy({ arms: ARMS, random: seededRandom(77), replicaId: 'x' });
    const b = new BanditPolicy({ arms: ARMS, random: seededRandom(77), replicaId: 'y' });
    a.restore(json);
    b.restore(json);
    expect(a.state).toEqual(bandit.state);
    expect(Array.from({ length: 300 }, () => a.route())).toEqual(Array.from({ length: 300 }, () => b.route()));

    const before = a.snapshot();
    const bad: Array<[unknown, RegExp]> = [
      [{ ...json, policy: 'canary' }, /snapshot.policy must be 'bandit'/],
      [{ ...json, arms: [ARMS[0]] }, /snapshot.arms must hold at least two arms/],
      [{ ...json, counts: { r1: { a: [1, -1] } } }, /snapshot.counts.r1.a\[1\] must be a finite number >= 0/],
      [{ ...json, counts: { r1: { c: [1, 1] } } }, /snapshot.counts.r1 has counts for 'c', which is not an arm/],
      [{ ...json, counts: { r1: { a: [1] } } }, /snapshot.counts.r1.a must be \[successes, failures\]/],
      [{ ...json, floor: 2 }, /snapshot.floor must be/],
      [{ ...json, name: undefined }, /snapshot.name must be a non-empty string/],
    ];
    for (const [snapshot, message] of bad) {
      expect(() => a.restore(snapshot)).toThrow(ValidationError);
      expect(() => a.restore(snapshot)).toThrow(message);
      expect(a.snapshot()).toEqual(before);
    }
  });

  it('merges replicas’ counts idempotently, in any order, without double counting', () => {
    const clock = new FakeClock(0);
    const make = (id: string, seed: number) => new BanditPolicy({ arms: ARMS, random: seededRandom(seed), replicaId: id, clock: clock.now });
    const r1 = make('r1', 1);
    const r2 = make('r2', 2);
    const r3 = make('r3', 3);
    simulate(r1, { a: 0.3, b: 0.6 }, 500, seededRandom(10));
    simulate(r2, { a: 0.3, b: 0.6 }, 700, seededRandom(20));
    simulate(r3, { a: 0.3, b: 0.6 }, 300, seededRandom(30));
    const expected = [r1, r2, r3].reduce(
      (sum, r) => sum.map((v, i) => v + [r.state.arms[0]!.successes, r.state.arms[0]!.failures, r.state.arms[1]!.successes, r.state.arms[1]!.failures][i]!),
      [0, 0, 0, 0],
    );
    const merged: unknown[] = [];
    r1.on('merged', (e) => merged.push(e));
    r1.merge(r2.snapshot());
    r1.merge(r2.snapshot());
    r1.merge(r3.snapshot());
    r2.merge(r3.snapshot());
    r2.merge(r1.snapshot());
    for (const r of [r1, r2]) {
      const [a, b] = r.state.arms;
      expect([a!.successes, a!.failures, b!.successes, b!.failures].map((v) => Math.round(v * 1e9) / 1e9)).toEqual(
        expected.map((v) => Math.round(v * 1e9) / 1e9),
      );
    }
    expect(merged).toHaveLength(3);
    expect(merged[2]).toMatchObject({ replicas: ['r1', 'r2', 'r3'], at: 0 });
    r1.reward('a', true);
    r2.merge(r1.snapshot());
    expect(r2.state.arms[0]!.successes).toBeCloseTo(expected[0]! + 1, 9);

    const other = new BanditPolicy({ arms: [ARMS[0]!, { variant: 'c', version: 3 }], replicaId: 'q' });
    expect(() => r1.merge(other.snapshot())).toThrow(/snapshot.arms must be this policy's arms \(a=v1, b=v2\), got a=v1, c=v3/);
  });
});
