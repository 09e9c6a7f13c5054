/** What each operator verb does to each kind of policy (the pure part of promote / abort / rollback / pause / resume). */
import { describe, expect, it } from 'vitest';
import { applyOperatorAction } from '../../src/cli/operator-actions.js';
import { ABTestController, BanditPolicy, BlueGreenSwitch, CanaryDeployment, InvalidStateError, ShadowDeployment, StaticPolicy } from '../../src/index.js';

const canaryAt = (steps: number[], increases = 0) => {
  const canary = new CanaryDeployment({ stable: 1, canary: 2, steps });
  canary.start();
  for (let i = 0; i < increases; i++) canary.increase();
  return canary;
};

describe('operator actions', () => {
  it('canary: promote steps, promotes from the last step below 100 % or with --full; pause, resume, abort, rollback', () => {
    const canary = canaryAt([5, 25, 50, 100]);
    expect(applyOperatorAction(canary, { verb: 'promote' })).toEqual({ action: 'step', from: 'progressing 5 %', to: 'progressing 25 %' });
    expect(applyOperatorAction(canary, { verb: 'pause', reason: 'look' })).toEqual({ action: 'pause', from: 'progressing 25 %', to: 'paused 25 %' });
    // A paused canary resumes to take the next step, in one transition.
    expect(applyOperatorAction(canary, { verb: 'promote' })).toEqual({ action: 'step', from: 'paused 25 %', to: 'progressing 50 %' });
    expect(applyOperatorAction(canary, { verb: 'promote' })).toEqual({ action: 'promote', from: 'progressing 50 %', to: 'promoted' });
    expect(canary.state).toMatchObject({ stable: 2, status: 'promoted' });
    expect(applyOperatorAction(canaryAt([5, 25]), { verb: 'promote', full: true })).toMatchObject({ action: 'promote', to: 'promoted' });
    expect(applyOperatorAction(canaryAt([5, 25]), { verb: 'abort' })).toMatchObject({ action: 'abort', to: 'idle' });
    const failed = canaryAt([5, 25], 1);
    expect(applyOperatorAction(failed, { verb: 'rollback', reason: 'p99' })).toEqual({ action: 'rollback', from: 'progressing 25 %', to: 'rolledBack' });
    expect(failed.state.history.at(-1)?.reason).toBe('p99');
    expect(() => applyOperatorAction(failed, { verb: 'resume' })).toThrow(InvalidStateError);
  });

  it('blue-green: promote switches, rollback and abort undo the switch, pause is refused', () => {
    const bg = new BlueGreenSwitch({ blue: 1 });
    bg.deploy(2);
    expect(() => applyOperatorAction(bg, { verb: 'rollback' })).toThrow(/no switch to undo/);
    expect(applyOperatorAction(bg, { verb: 'promote' })).toEqual({ action: 'switch', from: 'blue active (v1)', to: 'green active (v2)' });
    expect(applyOperatorAction(bg, { verb: 'abort' })).toEqual({ action: 'rollback', from: 'green active (v2)', to: 'blue active (v1)' });
    expect(() => applyOperatorAction(bg, { verb: 'pause' })).toThrow(/a blue-green deployment cannot pause/);
  });

  it('A/B: rollback concludes every running experiment for its control, promote on the evidence', () => {
    const ab = new ABTestController();
    ab.createExperiment('one', { modelA: 1, modelB: 2 });
    ab.createExperiment('two', { variants: [{ name: 'base', version: 1 }, { name: 'new', version: 3 }] });
    ab.conclude('two', 'new');
    expect(applyOperatorAction(ab, { verb: 'rollback' })).toEqual({ action: 'conclude', from: '1/2 concluded', to: 'concluded' });
    expect(ab.results('one').conclusion).toMatchObject({ winner: 'a', decision: 'given' });
    expect(ab.results('two').conclusion?.winner).toBe('new');
    expect(() => applyOperatorAction(ab, { verb: 'promote' })).toThrow(/already concluded/);
    const fresh = new ABTestController();
    fresh.createExperiment('e', { modelA: 1, modelB: 2 });
    expect(applyOperatorAction(fresh, { verb: 'promote' })).toMatchObject({ action: 'conclude', to: 'concluded' });
    expect(fresh.results('e').conclusion).toMatchObject({ winner: 'a', decision: 'no-significant-winner' });
    expect(() => applyOperatorAction(fresh, { verb: 'pause' })).toThrow(/an? ab-test deployment cannot pause/);
  });

  it('shadow, bandit and static have no operator transitions', () => {
    for (const policy of [new ShadowDeployment({ primary: 1, shadow: 2 }), new BanditPolicy({ arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }] }), new StaticPolicy({ version: 1 })]) {
      const before = JSON.stringify(policy.snapshot());
      expect(() => applyOperatorAction(policy, { verb: 'rollback' })).toThrow(/cannot rollback: it offers no operator transitions/);
      expect(JSON.stringify(policy.snapshot())).toBe(before);
    }
  });
});
