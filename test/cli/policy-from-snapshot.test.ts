/** policyFromSnapshot rebuilds every policy from its snapshot alone: the rebuilt one snapshots the same and routes the same. */
import { describe, expect, it } from 'vitest';
import {
  ABTestController,
  BanditPolicy,
  BlueGreenSwitch,
  CanaryDeployment,
  ShadowDeployment,
  StaticPolicy,
  ValidationError,
  policyFromSnapshot,
  type RoutingPolicy,
} from '../../src/index.js';

function policies(): Array<[string, RoutingPolicy]> {
  const canary = new CanaryDeployment({ name: 'iris', salt: 'iris-2026', stable: 3, canary: 4, steps: [5, 20, 60, 100], historyLimit: 500 });
  canary.start();
  for (let i = 0; i < 2; i++) canary.increase();
  canary.pause('looking at p99');
  const blueGreen = new BlueGreenSwitch({ blue: 1 });
  blueGreen.deploy(2);
  blueGreen.switch('preview passed');
  const ab = new ABTestController();
  ab.createExperiment('ranker', { variants: [{ name: 'a', version: 1, weight: 3 }, { name: 'b', version: 2 }], metric: { kind: 'binary' }, coverage: 0.8, sequential: true });
  ab.createExperiment('second', { modelA: 1, modelB: 3 });
  for (let i = 0; i < 50; i++) ab.logResult('ranker', i % 2 ? 'a' : 'b', i % 3 === 0);
  ab.forceVariant('qa-user', 'b', 'ranker');
  ab.conclude('second', 'b');
  const shadow = new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 30, comparison: 'classification', name: 'sh' });
  shadow.compare([1, 2, 3], [1, 2, 4]);
  const bandit = new BanditPolicy({ arms: [{ variant: 'x', version: 1 }, { variant: 'y', version: 2 }, { variant: 'z', version: 5 }], algorithm: 'epsilon-greedy', epsilon: 0.2, replicaId: 'replica-1' });
  for (let i = 0; i < 30; i++) bandit.reward(i % 3 === 0 ? 'x' : 'y', i % 2 === 0);
  bandit.merge({ ...bandit.snapshot(), counts: { 'replica-2': { x: [4, 1], y: [0, 2], z: [1, 1] } } });
  return [
    ['static', new StaticPolicy({ version: 7, variant: 'pinned' })],
    ['blue-green', blueGreen],
    ['canary', canary],
    ['A/B', ab],
    ['shadow', shadow],
    ['bandit', bandit],
  ];
}

describe('policyFromSnapshot', () => {
  it.each(policies())('rebuilds a %s policy whose snapshot is the one given and which routes the same', (_kind, original) => {
    const snapshot = JSON.parse(JSON.stringify(original.snapshot()));
    const rebuilt = policyFromSnapshot(snapshot);
    expect(rebuilt.constructor).toBe(original.constructor);
    expect(rebuilt.snapshot()).toEqual(snapshot);
    expect(rebuilt.traffic()).toEqual(original.traffic?.());
    // Bandits draw per request; the others are sticky by unit id.
    if (!(original instanceof BanditPolicy)) {
      for (let i = 0; i < 200; i++) {
        const unitId = `user-${i}`;
        expect(rebuilt.route({ unitId })).toEqual(original.route({ unitId }));
      }
    }
  });

  it('keeps a canary history longer than the default limit', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [1, 2, 3], historyLimit: 1000 });
    for (let i = 0; i < 60; i++) {
      canary.start();
      canary.abort();
    }
    const rebuilt = policyFromSnapshot(canary.snapshot()) as CanaryDeployment;
    expect(rebuilt.state.history).toHaveLength(120);
    rebuilt.start();
    expect(rebuilt.snapshot().history).toHaveLength(121);
  });

  it("reads A/B snapshots tagged 'ABTestController' and 'ab-test'", () => {
    const ab = new ABTestController();
    ab.createExperiment('e', { modelA: 1, modelB: 2 });
    const snapshot = ab.snapshot();
    for (const policy of ['ABTestController', 'ab-test']) {
      const rebuilt = policyFromSnapshot({ ...snapshot, policy });
      expect(rebuilt).toBeInstanceOf(ABTestController);
      expect(rebuilt.snapshot()).toEqual(snapshot);
    }
  });

  it('refuses what no policy made, naming the field', () => {
    expect(() => policyFromSnapshot(null)).toThrow(ValidationError);
    expect(() => policyFromSnapshot({ policy: 'argo' })).toThrow(/snapshot\.policy must be one of 'static', 'blue-green', 'canary', 'ab-test', 'shadow', 'bandit'.*got string "argo"/);
    const canary = new CanaryDeployment({ stable: 1, canary: 2 }).snapshot();
    expect(() => policyFromSnapshot({ ...canary, percentage: 140 })).toThrow(/snapshot\.percentage/);
    expect(() => policyFromSnapshot({ ...new StaticPolicy({ version: 1 }).snapshot(), specVersion: 2 })).toThrow(/snapshot\.specVersion must be 1/);
  });
});
