import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  ABTestController,
  BanditPolicy,
  BlueGreenSwitch,
  CanaryDeployment,
  ModelRolloutError,
  ShadowDeployment,
  StaticPolicy,
} from '../../src/index.js';
import { anyValue, mutated, FUZZ_TIMEOUT_MS, RUNS } from './mutate.js';

vi.setConfig({ testTimeout: FUZZ_TIMEOUT_MS });

/** A refusal is a named library error, and a refused call leaves the state as it was. */
function refusedCleanly(error: unknown, before: unknown, after: unknown): void {
  expect(error).toBeInstanceOf(ModelRolloutError);
  expect((error as ModelRolloutError).code).toMatch(/^(VALIDATION|CAPACITY|INVALID_STATE|NOT_FOUND)$/);
  expect(after).toEqual(before);
}

interface Restorable {
  snapshot(): unknown;
  restore(snapshot: unknown): void;
  route(ctx?: { unitId?: string }): { version: number };
}

const policies: Array<[string, () => Restorable]> = [
  ['StaticPolicy', () => new StaticPolicy({ version: 1 })],
  [
    'CanaryDeployment',
    () => {
      const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [10, 50, 100] });
      canary.start();
      return canary;
    },
  ],
  ['BlueGreenSwitch', () => new BlueGreenSwitch({ blue: 1, green: 2 })],
  ['ShadowDeployment', () => new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 20 })],
  [
    'BanditPolicy',
    () => {
      // Counts come from the shared snapshot: each reward() recomputes Thompson propensities by
      // integration once counts grow 1 %, milliseconds that 10 000 runs cannot afford. Likewise route()
      const bandit = new BanditPolicy({ arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }], replicaId: 'r1' });
      // after a restore: check the posterior means it routes by instead.
      const route = () => {
        for (const arm of bandit.state.arms) expect(Number.isFinite(arm.mean) && arm.successes + arm.failures <= Number.MAX_SAFE_INTEGER).toBe(true);
        return { version: 1 };
      };
      return { snapshot: () => bandit.snapshot(), restore: (s: unknown) => bandit.restore(s), route };
    },
  ],
  [
    'ABTestController',
    () => {
      const ab = new ABTestController();
      ab.createExperiment('e', { variants: [{ name: 'a', version: 1 }, { name: 'b', version: 2 }] });
      for (let i = 0; i < 20; i++) ab.logResult('e', i % 2 ? 'a' : 'b', i % 3);
      // A sequential one with looks kept (running minimum p, running intersection), so mutated looks are restored too.
      ab.createExperiment('s', { variants: [{ name: 'a', version: 1 }, { name: 'b', version: 2 }, { name: 'c', version: 3 }], sequential: true });
      for (let i = 0; i < 30; i++) {
        ab.logResult('s', ['a', 'b', 'c'][i % 3]!, (i * 7) % 5);
        if (i % 10 === 9) ab.analyze('s');
      }
      // Routes through every experiment the (possibly restored) controller holds, and reads its results.
      const route = (ctx?: { unitId?: string }) => {
        for (const e of ab.snapshot().experiments) {
          ab.policy(e.name).route({ unitId: 'u', ...ctx });
          for (const c of Object.values(ab.results(e.name).comparisons)) if (c) expect(c.pValue >= 0 && c.pValue <= 1).toBe(true);
        }
        return { version: 1 };
      };
      return { snapshot: () => ab.snapshot(), restore: (s: unknown) => ab.restore(s), route };
    },
  ],
];

function rewardedBanditSnapshot(): unknown {
  const bandit = new BanditPolicy({ arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }], replicaId: 'r1' });
  for (let i = 0; i < 20; i++) bandit.reward(i % 2 ? 'a' : 'b', i % 3 === 0);
  return bandit.snapshot();
}

describe(`policy restore() over ${RUNS} mutated snapshots each`, () => {
  it.each(policies)('%s: restores a snapshot it accepts exactly, refuses the rest with a named error and no change', (name, make) => {
    const policy = make();
    if (name === 'BanditPolicy') policy.restore(rewardedBanditSnapshot());
    const valid = JSON.parse(JSON.stringify(policy.snapshot())) as unknown;
    fc.assert(
      fc.property(fc.oneof({ weight: 9, arbitrary: mutated(valid) }, { weight: 1, arbitrary: anyValue }), (snapshot) => {
        const target = make();
        const before = target.snapshot();
        let error: unknown;
        try {
          target.restore(snapshot);
        } catch (err) {
          error = err;
        }
        if (error !== undefined) return refusedCleanly(error, before, target.snapshot());
        // Accepted: the state is usable and survives its own round trip.
        const after = JSON.parse(JSON.stringify(target.snapshot())) as unknown;
        expect(Number.isSafeInteger(target.route({ unitId: 'u1' }).version)).toBe(true);
        const again = make();
        again.restore(after);
        expect(JSON.parse(JSON.stringify(again.snapshot()))).toEqual(after);
      }),
      { numRuns: RUNS, seed: 13 },
    );
  });
});

describe(`merge() over ${RUNS} mutated snapshots each`, () => {
  it('BanditPolicy.merge: accepted counts keep routing finite; refusals change nothing', () => {
    const make = () => new BanditPolicy({ arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }], replicaId: 'me' });
    const other = new BanditPolicy({ arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }], replicaId: 'r2' });
    for (let i = 0; i < 30; i++) other.reward(i % 2 ? 'a' : 'b', i % 4 === 0);
    const valid = JSON.parse(JSON.stringify(other.snapshot())) as unknown;
    fc.assert(
      fc.property(mutated(valid), (snapshot) => {
        const bandit = make();
        const before = bandit.snapshot();
        try {
          bandit.merge(snapshot);
        } catch (err) {
          return refusedCleanly(err, before, bandit.snapshot());
        }
        // Finite posteriors are what route() samples from (route itself is exercised in bandit-hardening).
        for (const arm of bandit.state.arms) expect(Number.isFinite(arm.mean) && arm.successes + arm.failures <= Number.MAX_SAFE_INTEGER).toBe(true);
      }),
      { numRuns: RUNS, seed: 14 },
    );
  });

  it('ABTestController.mergeStats: accepted statistics keep results() working; refusals change nothing', () => {
    const ab = new ABTestController();
    ab.createExperiment('e', { variants: [{ name: 'a', version: 1 }, { name: 'b', version: 2 }] });
    for (let i = 0; i < 20; i++) ab.logResult('e', i % 2 ? 'a' : 'b', i % 5);
    const valid = JSON.parse(JSON.stringify(ab.exportStats('e'))) as unknown;
    fc.assert(
      fc.property(mutated(valid), (stats) => {
        const target = new ABTestController();
        target.restore(ab.snapshot());
        const before = target.snapshot();
        try {
          target.mergeStats('e', stats as never);
        } catch (err) {
          return refusedCleanly(err, before, target.snapshot());
        }
        const results = target.results('e');
        for (const v of results.variants) expect(Number.isSafeInteger(v.count)).toBe(true);
      }),
      { numRuns: RUNS, seed: 15 },
    );
  });
});

describe(`A/B results over ${RUNS} random result streams`, () => {
  it('logResult accepts finite values or refuses with a named error and no change; results() never throws', () => {
    const value = fc.oneof(fc.double(), fc.boolean(), anyValue);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'constructor'), value), { maxLength: 6 }), fc.boolean(), fc.boolean(), (stream, binary, sequential) => {
        const ab = new ABTestController();
        // Welch (fixed horizon), the two-proportion z-test, or the sequential test with its looks kept (analyzeEvery: 1).
        ab.createExperiment('e', {
          variants: [{ name: 'a', version: 1 }, { name: 'b', version: 2 }],
          metric: { kind: binary ? 'binary' : 'continuous' },
          sequential,
          analyzeEvery: sequential ? 1 : 0,
        });
        for (const [variant, x] of stream) {
          const before = ab.snapshot();
          try {
            ab.logResult('e', variant, x as number);
          } catch (err) {
            refusedCleanly(err, before, ab.snapshot());
          }
          const results = ab.results('e');
          for (const comparison of Object.values(results.comparisons)) {
            if (comparison === null) continue;
            expect(comparison.pValue >= 0 && comparison.pValue <= 1).toBe(true);
          }
        }
      }),
      { numRuns: RUNS, seed: 16 },
    );
  });
});
