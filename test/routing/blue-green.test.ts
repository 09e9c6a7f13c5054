import { describe, expect, it } from 'vitest';
import { BlueGreenSwitch, InvalidStateError, ValidationError, type BlueGreenSwitchEvents } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

function make() {
  const clock = new FakeClock(5_000);
  const bg = new BlueGreenSwitch({ blue: 1, clock: clock.now });
  const events: Array<[keyof BlueGreenSwitchEvents, unknown]> = [];
  for (const name of ['deployed', 'switched', 'rolledBack'] as const) bg.on(name, (e: unknown) => events.push([name, e]));
  return { bg, clock, events };
}

describe('BlueGreenSwitch', () => {
  it('deploys to the idle slot, previews it, switches and rolls back, with an event for each', () => {
    const { bg, clock, events } = make();
    expect(bg.state).toEqual({ active: 'blue', blue: 1, green: undefined, activeVersion: 1, idleVersion: undefined, canRollback: false });
    expect(bg.route({ unitId: 'u' })).toEqual({ version: 1, variant: 'blue', reason: 'active', propensity: 1 });

    bg.deploy(2);
    expect(bg.route()).toEqual({ version: 1, variant: 'blue', reason: 'active', propensity: 1 });
    expect(bg.route({ preview: true })).toEqual({ version: 2, variant: 'green', reason: 'preview', propensity: 1 });
    clock.advance(1_000);
    bg.switch('preview checks passed');
    expect(bg.route({ unitId: 'u' })).toEqual({ version: 2, variant: 'green', reason: 'active', propensity: 1 });
    expect(bg.route({ preview: true })).toEqual({ version: 1, variant: 'blue', reason: 'preview', propensity: 1 });
    expect(bg.fallback()).toEqual({ version: 2, variant: 'green', reason: 'fallback', propensity: 1 });
    expect(bg.state.canRollback).toBe(true);
    clock.advance(500);
    bg.rollback('error spike');
    expect(bg.route()).toEqual({ version: 1, variant: 'blue', reason: 'active', propensity: 1 });
    expect(bg.state).toMatchObject({ active: 'blue', idleVersion: 2, canRollback: false });

    bg.switch();
    bg.deploy(3);
    expect(bg.state).toMatchObject({ active: 'green', blue: 3, green: 2, canRollback: false });

    expect(events).toEqual([
      ['deployed', { slot: 'green', version: 2, replaced: undefined, at: 5_000 }],
      ['switched', { from: 'blue', to: 'green', fromVersion: 1, toVersion: 2, reason: 'preview checks passed', at: 6_000 }],
      ['rolledBack', { from: 'green', to: 'blue', fromVersion: 2, toVersion: 1, reason: 'error spike', at: 6_500 }],
      ['switched', { from: 'blue', to: 'green', fromVersion: 1, toVersion: 2, reason: undefined, at: 6_500 }],
      ['deployed', { slot: 'blue', version: 3, replaced: 1, at: 6_500 }],
    ]);
  });

  it('refuses a switch to an empty slot and rollbacks with nothing to undo, changing nothing', () => {
    const { bg, events } = make();
    const refused = (fn: () => void, message: RegExp) => {
      const before = bg.snapshot();
      expect(fn).toThrow(InvalidStateError);
      expect(fn).toThrow(message);
      expect(bg.snapshot()).toEqual(before);
    };
    refused(() => bg.switch(), /cannot switch to slot green: it is empty; deploy\(version\) first/);
    refused(() => bg.rollback(), /cannot roll back: there is no switch\(\) to undo/);
    refused(() => bg.route({ preview: true }), /cannot route to the preview slot green: it is empty/);
    refused(() => bg.route({ force: 'green' }), /cannot route to slot green: it is empty/);
    bg.deploy(2);
    bg.switch();
    bg.rollback();
    refused(() => bg.rollback(), /no switch\(\) to undo/);
    bg.switch();
    bg.deploy(4);
    refused(() => bg.rollback(), /deploy\(\) or rollback\(\) was called since/);
    expect(events.map(([name]) => name)).toEqual(['deployed', 'switched', 'rolledBack', 'switched', 'deployed']);
  });

  it('forces a slot by name and validates names and options', () => {
    const bg = new BlueGreenSwitch({ blue: 1, green: 2, active: 'green' });
    expect(bg.route({ force: 'blue' })).toEqual({ version: 1, variant: 'blue', reason: 'forced', propensity: 1 });
    expect(() => bg.route({ force: 'red' })).toThrow(/force must be 'blue' or 'green', got string "red"/);
    expect(() => new BlueGreenSwitch({ green: 2 })).toThrow(/blue must hold a version because it is the active slot/);
    expect(() => new BlueGreenSwitch({ blue: 1, active: 'teal' as never })).toThrow(/active must be one of 'blue', 'green', got string "teal"/);
    expect(() => new BlueGreenSwitch({ blue: -3 })).toThrow(/blue must be an integer >= 1, got number -3/);
    expect(() => bg.deploy(1.5)).toThrow(ValidationError);
    expect(() => bg.switch(3 as never)).toThrow(/reason must be a string/);
    expect(bg.state).toMatchObject({ active: 'green', blue: 1, green: 2 });
  });

  it('round-trips its snapshot and refuses bad ones with ValidationError, changing nothing', () => {
    const { bg } = make();
    bg.deploy(2);
    bg.switch();
    const json = JSON.parse(JSON.stringify(bg.snapshot()));
    expect(json).toEqual({ policy: 'blue-green', specVersion: 1, active: 'green', blue: 1, green: 2, rollbackTo: 'blue' });
    const replica = new BlueGreenSwitch({ blue: 9 });
    replica.restore(json);
    expect(replica.state).toEqual(bg.state);
    expect(replica.route()).toEqual(bg.route());
    replica.rollback();
    expect(replica.route().version).toBe(1);

    const before = bg.snapshot();
    const bad: Array<[unknown, RegExp]> = [
      ['x', /snapshot must be an object/],
      [{ ...json, policy: 'canary' }, /snapshot.policy must be 'blue-green'/],
      [{ ...json, active: 'red' }, /snapshot.active must be one of/],
      [{ ...json, green: null }, /snapshot.green must hold a version because it is the active slot, got null/],
      [{ ...json, blue: 0 }, /snapshot.blue must be an integer >= 1/],
      [{ ...json, rollbackTo: 'green' }, /snapshot.rollbackTo must be the idle slot holding a version, or null/],
      [{ ...json, rollbackTo: undefined }, /snapshot.rollbackTo must be one of/],
      [{ ...json, blue: null }, /snapshot.rollbackTo must be the idle slot holding a version/],
    ];
    for (const [snapshot, message] of bad) {
      expect(() => bg.restore(snapshot)).toThrow(ValidationError);
      expect(() => bg.restore(snapshot)).toThrow(message);
      expect(bg.snapshot()).toEqual(before);
    }
  });
});
