import { describe, expect, it } from 'vitest';
import {
  ABTestController,
  BanditPolicy,
  BlueGreenSwitch,
  CanaryDeployment,
  ShadowDeployment,
  StaticPolicy,
} from '../../src/index.js';

/** Every policy's snapshot tag, one style: kebab-case names of what the policy is, not of its class. */
const POLICIES: Array<[tag: string, snapshot: () => { policy: string }]> = [
  ['static', () => new StaticPolicy({ version: 1 }).snapshot()],
  ['blue-green', () => new BlueGreenSwitch({ blue: 1 }).snapshot()],
  ['canary', () => new CanaryDeployment({ stable: 1, canary: 2 }).snapshot()],
  [
    'ab-test',
    () => {
      const ab = new ABTestController();
      ab.createExperiment('e', { modelA: 1, modelB: 2 });
      return ab.snapshot();
    },
  ],
  ['shadow', () => new ShadowDeployment({ primary: 1, shadow: 2 }).snapshot()],
  ['bandit', () => new BanditPolicy({ arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }] }).snapshot()],
];

describe('snapshot tags', () => {
  it.each(POLICIES)("%s: the snapshot's policy tag is kebab-case", (tag, snapshot) => {
    expect(snapshot().policy).toBe(tag);
    expect(tag).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });
});
