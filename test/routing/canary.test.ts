import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CanaryDeployment,
  InvalidStateError,
  ValidationError,
  hashUnit,
  type CanaryDeploymentEvents,
  type CanarySnapshot,
} from '../../src/index.js';
import { FakeClock, seededRandom } from '../../src/testing/index.js';

type Recorded = Array<[keyof CanaryDeploymentEvents, unknown]>;

function recorder(canary: CanaryDeployment): Recorded {
  const events: Recorded = [];
  for (const name of ['started', 'stepped', 'paused', 'resumed', 'rolledBack', 'aborted', 'promoted'] as const) {
    canary.on(name, (event: unknown) => events.push([name, event]));
  }
  return events;
}

function make(clock = new FakeClock(1_000)) {
  const canary = new CanaryDeployment({ stable: 1, canary: 2, name: 'iris-v2', clock: clock.now, random: seededRandom(7) });
  return { canary, clock, events: recorder(canary) };
}

describe('CanaryDeployment transitions', () => {
  it('walks start → steps → pause → resume → promote with an event per transition', () => {
    const { canary, clock, events } = make();
    expect(canary.state).toMatchObject({ stable: 1, canary: 2, percentage: 0, status: 'idle', stepIndex: -1, history: [] });

    canary.start();
    expect(canary.state).toMatchObject({ percentage: 5, status: 'progressing', stepIndex: 0 });
    clock.advance(10);
    canary.increase();
    expect(canary.state).toMatchObject({ percentage: 10, stepIndex: 1 });
    clock.advance(10);
    canary.increase(7);
    expect(canary.state).toMatchObject({ percentage: 17, stepIndex: 1 });
    canary.increase();
    expect(canary.state).toMatchObject({ percentage: 25, stepIndex: 2 });
    canary.setPercentage(60);
    expect(canary.state).toMatchObject({ percentage: 60, stepIndex: 3 });
    clock.advance(5);
    canary.pause('waiting for a human');
    expect(canary.state.status).toBe('paused');
    canary.setPercentage(40);
    expect(canary.state).toMatchObject({ percentage: 40, status: 'paused', stepIndex: 2 });
    canary.resume();
    canary.increase(80);
    expect(canary.state).toMatchObject({ percentage: 100, stepIndex: 4 });
    clock.advance(5);
    canary.promote('all checks passed');
    expect(canary.state).toMatchObject({ stable: 2, canary: undefined, percentage: 0, status: 'promoted', stepIndex: -1 });

    expect(events).toEqual([
      ['started', { stable: 1, canary: 2, percentage: 5, stepIndex: 0, at: 1_000 }],
      ['stepped', { from: 5, to: 10, stepIndex: 1, action: 'increase', at: 1_010 }],
      ['stepped', { from: 10, to: 17, stepIndex: 1, action: 'increase', at: 1_020 }],
      ['stepped', { from: 17, to: 25, stepIndex: 2, action: 'increase', at: 1_020 }],
      ['stepped', { from: 25, to: 60, stepIndex: 3, action: 'setPercentage', at: 1_020 }],
      ['paused', { percentage: 60, reason: 'waiting for a human', at: 1_025 }],
      ['stepped', { from: 60, to: 40, stepIndex: 2, action: 'setPercentage', at: 1_025 }],
      ['resumed', { percentage: 40, reason: undefined, at: 1_025 }],
      ['stepped', { from: 40, to: 100, stepIndex: 4, action: 'increase', at: 1_025 }],
      ['promoted', { from: 1, to: 2, fromPercentage: 100, reason: 'all checks passed', at: 1_030 }],
    ]);
    expect(canary.state.history.map((h) => [h.action, h.status, h.percentage, h.at])).toEqual([
      ['start', 'progressing', 5, 1_000],
      ['increase', 'progressing', 10, 1_010],
      ['increase', 'progressing', 17, 1_020],
      ['increase', 'progressing', 25, 1_020],
      ['setPercentage', 'progressing', 60, 1_020],
      ['pause', 'paused', 60, 1_025],
      ['setPercentage', 'paused', 40, 1_025],
      ['resume', 'progressing', 40, 1_025],
      ['increase', 'progressing', 100, 1_025],
      ['promote', 'promoted', 0, 1_030],
    ]);
    expect(canary.state.history.at(-1)).toMatchObject({ stable: 2, canary: undefined, reason: 'all checks passed' });
  });

  it('rolls back to 0 % at once, from progressing or paused', () => {
    const { canary, events } = make();
    canary.start(1, 2, 30);
    canary.rollback('error rate 7 %');
    expect(canary.state).toMatchObject({ stable: 1, canary: 2, percentage: 0, status: 'rolledBack' });
    expect(events.at(-1)).toEqual(['rolledBack', { stable: 1, canary: 2, fromPercentage: 30, reason: 'error rate 7 %', at: 1_000 }]);
    expect(canary.route({ unitId: 'anyone' })).toEqual({ version: 1, variant: 'stable', reason: 'rollback', propensity: 1 });

    canary.start();
    canary.pause();
    canary.rollback();
    expect(canary.state.status).toBe('rolledBack');
  });

  it('aborts to idle, keeping the canary for a retry', () => {
    const { canary, events } = make();
    canary.start(1, 3, 10);
    canary.abort('wrong build');
    expect(canary.state).toMatchObject({ stable: 1, canary: 3, percentage: 0, status: 'idle' });
    expect(events.at(-1)).toEqual(['aborted', { stable: 1, canary: 3, fromPercentage: 10, reason: 'wrong build', at: 1_000 }]);
    expect(canary.route({ unitId: 'u' }).reason).toBe('static');
    canary.start();
    expect(canary.state).toMatchObject({ stable: 1, canary: 3, percentage: 5, status: 'progressing' });
    canary.pause();
    canary.abort();
    expect(canary.state).toMatchObject({ canary: 3, percentage: 0, status: 'idle' });
  });

  it('promotes from paused too, skipping the remaining steps', () => {
    const { canary, events } = make();
    canary.start();
    canary.pause();
    canary.promote();
    expect(canary.state).toMatchObject({ stable: 2, canary: undefined, percentage: 0, status: 'promoted' });
    expect(events.at(-1)).toEqual(['promoted', { from: 1, to: 2, fromPercentage: 5, reason: undefined, at: 1_000 }]);
  });

  it('starts a new rollout after a promotion, from the promoted version', () => {
    const { canary } = make();
    canary.start();
    canary.promote();
    expect(canary.route()).toEqual({ version: 2, variant: 'stable', reason: 'promoted', propensity: 1 });
    expect(() => canary.start()).toThrow(/canary must be a version.*got undefined/);
    canary.start(undefined, 3);
    expect(canary.state).toMatchObject({ stable: 2, canary: 3, status: 'progressing' });
  });

  it('refuses transitions the status does not allow, with InvalidStateError, and changes nothing', () => {
    const { canary, events } = make();
    const refused = (fn: () => void, message: RegExp) => {
      const before = canary.snapshot();
      expect(fn).toThrow(InvalidStateError);
      expect(fn).toThrow(message);
      expect(canary.snapshot()).toEqual(before);
    };
    refused(() => canary.increase(), /cannot increase\(\) while status is 'idle'.*start\(\) a rollout first/);
    refused(() => canary.setPercentage(10), /cannot setPercentage\(\) while status is 'idle'/);
    refused(() => canary.pause(), /cannot pause\(\) while status is 'idle'/);
    refused(() => canary.resume(), /cannot resume\(\) while status is 'idle'.*only a paused rollout/);
    refused(() => canary.rollback(), /cannot rollback\(\) while status is 'idle'.*no rollout in progress/);
    refused(() => canary.abort(), /cannot abort\(\) while status is 'idle'/);
    refused(() => canary.promote(), /cannot promote\(\) while status is 'idle'/);
    const fresh = new CanaryDeployment({ stable: 1 });
    expect(() => fresh.route({ force: 'canary' })).toThrow(InvalidStateError);
    expect(() => fresh.route({ force: 'canary' })).toThrow(/cannot route to the canary: there is none/);

    canary.start();
    refused(() => canary.start(), /cannot start\(\) while status is 'progressing'.*promote\(\), rollback\(\) or abort\(\)/);
    refused(() => canary.resume(), /cannot resume\(\) while status is 'progressing'/);
    canary.pause();
    refused(() => canary.pause(), /cannot pause\(\) while status is 'paused'.*already paused/);
    refused(() => canary.increase(), /cannot increase\(\) while status is 'paused'.*resume\(\) first/);
    refused(() => canary.start(), /cannot start\(\) while status is 'paused'/);
    canary.resume();
    canary.setPercentage(100);
    refused(() => canary.increase(), /cannot increase: 100 % is at or past the last step/);
    refused(() => canary.increase(5), /already has 100 %; promote\(\)/);
    canary.promote();
    for (const op of ['increase', 'pause', 'resume', 'rollback', 'abort', 'promote'] as const) {
      refused(() => canary[op](), new RegExp(`cannot ${op}\\(\\) while status is 'promoted'`));
    }
    canary.start(2, 3);
    canary.rollback();
    for (const op of ['increase', 'pause', 'resume', 'rollback', 'abort', 'promote'] as const) {
      refused(() => canary[op](), new RegExp(`cannot ${op}\\(\\) while status is 'rolledBack'`));
    }
    expect(events.map(([name]) => name)).toEqual(['started', 'paused', 'resumed', 'stepped', 'promoted', 'started', 'rolledBack']);
  });

  it('refuses custom steps past the last one without an increment', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [10, 50] });
    canary.start();
    canary.increase();
    expect(() => canary.increase()).toThrow(/50 % is at or past the last step \(10, 50\); promote\(\) or increase\(increment\)/);
    canary.increase(20);
    expect(canary.state.percentage).toBe(70);
  });

  it('validates options and arguments with errors naming them, changing nothing', () => {
    expect(() => new CanaryDeployment({ stable: 0 })).toThrow(/stable must be an integer >= 1, got number 0/);
    expect(() => new CanaryDeployment({ stable: 1, canary: 1 })).toThrow(/canary must differ from stable/);
    expect(() => new CanaryDeployment({ stable: 1, steps: [] })).toThrow(/steps must hold at least one/);
    expect(() => new CanaryDeployment({ stable: 1, steps: [10, 5] })).toThrow(/steps must be strictly ascending, got 5 after 10/);
    expect(() => new CanaryDeployment({ stable: 1, steps: [0, 5] })).toThrow(/steps\[0\] must be a finite number > 0 <= 100/);
    expect(() => new CanaryDeployment({ stable: 1, steps: [5, 101] })).toThrow(/steps\[1\]/);
    expect(() => new CanaryDeployment({ stable: 1, clock: 5 as never })).toThrow(/clock must be a function/);
    expect(() => new CanaryDeployment({ stable: 1, random: 'x' as never })).toThrow(/random must be a function/);
    expect(() => new CanaryDeployment({ stable: 1, hashVersion: 2 as never })).toThrow(/hashVersion must be 1/);
    expect(() => new CanaryDeployment({ stable: 1, salt: '' })).toThrow(/salt must be a non-empty string/);
    expect(() => new CanaryDeployment(null as never)).toThrow(/CanaryDeployment options must be an object, got null/);

    const { canary } = make();
    expect(() => canary.start(1, 2, 101)).toThrow(/initialPercentage must be a finite number >= 0 <= 100, got number 101/);
    expect(() => canary.start(1, 2, Number.NaN)).toThrow(ValidationError);
    expect(() => canary.start(2, 2)).toThrow(/canary must differ from stable, got 2 for both/);
    expect(() => canary.start(1.5, 2)).toThrow(/stable must be an integer/);
    expect(canary.state.status).toBe('idle');
    canary.start();
    const before = canary.snapshot();
    expect(() => canary.setPercentage(-1)).toThrow(/percentage must be .*got number -1/);
    expect(() => canary.setPercentage(Infinity)).toThrow(/percentage/);
    expect(() => canary.increase(0)).toThrow(/increment must be a finite number > 0, got number 0/);
    expect(() => canary.pause(5 as never)).toThrow(/reason must be a string, got number 5/);
    expect(() => canary.route({ force: 'beta' })).toThrow(/force must be 'stable' or 'canary', got string "beta"/);
    expect(() => canary.route({ unitId: 7 as never })).toThrow(/unitId must be a string/);
    expect(canary.snapshot()).toEqual(before);
  });

  it('keeps a bounded history', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, historyLimit: 3 });
    canary.start();
    for (let p = 6; p < 12; p++) canary.setPercentage(p);
    expect(canary.state.history.map((h) => h.percentage)).toEqual([9, 10, 11]);
    const none = new CanaryDeployment({ stable: 1, canary: 2, historyLimit: 0 });
    none.start();
    expect(none.state.history).toEqual([]);
  });
});

describe('CanaryDeployment routing', () => {
  it('routes by hash with a unitId, by random without, and honours force', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, salt: 's', random: seededRandom(1) });
    expect(canary.route({ unitId: 'u' })).toEqual({ version: 1, variant: 'stable', reason: 'static', propensity: 1 });
    canary.start(1, 2, 50);
    for (const id of ['a', 'b', 'c', 'd', 'user-1', 'user-2']) {
      const expected = hashUnit('s', id) < 0.5 ? 2 : 1;
      expect(canary.route({ unitId: id })).toMatchObject({ version: expected, reason: 'hash' });
    }
    const random = seededRandom(1);
    const replay = new CanaryDeployment({ stable: 1, canary: 2, random: seededRandom(1) });
    replay.start(1, 2, 50);
    for (let i = 0; i < 20; i++) {
      const toCanary = random() < 0.5;
      expect(replay.route()).toEqual({ version: toCanary ? 2 : 1, variant: toCanary ? 'canary' : 'stable', reason: 'random', propensity: 0.5 });
    }
    expect(canary.route({ force: 'canary', unitId: 'a' })).toEqual({ version: 2, variant: 'canary', reason: 'forced', propensity: 1 });
    expect(canary.route({ force: 'stable' })).toEqual({ version: 1, variant: 'stable', reason: 'forced', propensity: 1 });
    expect(canary.fallback()).toEqual({ version: 1, variant: 'stable', reason: 'fallback', propensity: 1 });
    expect(Object.isFrozen(canary.route({ unitId: 'a' }))).toBe(true);
  });

  it('keeps routing at the held percentage while paused', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, salt: 's' });
    canary.start(1, 2, 30);
    const before = Array.from({ length: 200 }, (_, i) => canary.route({ unitId: `u${i}` }).version);
    canary.pause();
    expect(Array.from({ length: 200 }, (_, i) => canary.route({ unitId: `u${i}` }).version)).toEqual(before);
  });

  it('ramps monotonically: in the canary at p1 ⇒ in the canary at every p2 > p1 (property)', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, name: 'ramp' });
    canary.start(1, 2, 0);
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 24 }), { minLength: 1, maxLength: 30 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (ids, a, b) => {
          fc.pre(a !== b);
          const [p1, p2] = a < b ? [a, b] : [b, a];
          canary.setPercentage(p1);
          const atP1 = ids.map((id) => canary.route({ unitId: id }).variant);
          canary.setPercentage(p2);
          ids.forEach((id, i) => {
            if (atP1[i] === 'canary') expect(canary.route({ unitId: id }).variant).toBe('canary');
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('walking the default steps never moves a unit from canary back to stable', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start();
    const ids = Array.from({ length: 5_000 }, (_, i) => `user-${i}`);
    let inCanary = new Set(ids.filter((id) => canary.route({ unitId: id }).variant === 'canary'));
    while (canary.state.percentage < 100) {
      canary.increase();
      const now = new Set(ids.filter((id) => canary.route({ unitId: id }).variant === 'canary'));
      for (const id of inCanary) expect(now.has(id)).toBe(true);
      inCanary = now;
    }
    expect(inCanary.size).toBe(ids.length);
  });

  it.each([5, 25, 50])('sends $0 percent of 100 000 ids to the canary, within 1 point', (percentage) => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, name: 'shares' });
    canary.start(1, 2, percentage);
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (canary.route({ unitId: `user-${i}` }).variant === 'canary') hits++;
    expect(Math.abs(hits / 100_000 - percentage / 100)).toBeLessThan(0.01);
  });
});

describe('CanaryDeployment snapshot / restore', () => {
  it('round-trips through JSON and routes identically after restore', () => {
    const { canary, clock } = make();
    canary.start(1, 2, 10);
    clock.advance(100);
    canary.increase();
    canary.pause('night');
    const json = JSON.parse(JSON.stringify(canary.snapshot())) as CanarySnapshot;
    expect(json).toMatchObject({ policy: 'canary', specVersion: 1, name: 'iris-v2', salt: 'iris-v2', hashVersion: 1, percentage: 25, status: 'paused', stepIndex: 2 });

    const replica = new CanaryDeployment({ stable: 7, name: 'other' });
    replica.restore(json);
    expect(replica.state).toEqual(canary.state);
    expect(replica.name).toBe('iris-v2');
    for (let i = 0; i < 2_000; i++) expect(replica.route({ unitId: `user-${i}` })).toEqual(canary.route({ unitId: `user-${i}` }));
    replica.resume();
    expect(replica.state.status).toBe('progressing');
  });

  it('refuses bad snapshots with a ValidationError naming the field, leaving state unchanged', () => {
    const { canary } = make();
    canary.start(1, 2, 10);
    const good = canary.snapshot();
    const before = canary.snapshot();
    const bad: Array<[unknown, RegExp]> = [
      [null, /snapshot must be an object made by canary.snapshot\(\), got null/],
      [{ ...good, policy: 'blue-green' }, /snapshot.policy must be 'canary', got string "blue-green"/],
      [{ ...good, specVersion: 2 }, /snapshot.specVersion must be 1/],
      [{ ...good, hashVersion: 3 }, /hashVersion must be 1/],
      [{ ...good, steps: [10, 5] }, /snapshot.steps must be strictly ascending/],
      [{ ...good, stable: -1 }, /snapshot.stable must be an integer >= 1/],
      [{ ...good, canary: null }, /snapshot.canary must be a version while status is 'progressing', got null/],
      [{ ...good, canary: 1 }, /snapshot.canary must differ from snapshot.stable/],
      [{ ...good, percentage: 120 }, /snapshot.percentage must be/],
      [{ ...good, status: 'done' }, /snapshot.status must be one of 'idle', 'progressing'/],
      [{ ...good, status: 'promoted' }, /snapshot.percentage must be 0 while status is 'promoted', got 10/],
      [{ ...good, stepIndex: 3 }, /snapshot.stepIndex must be 1 for 10 % on steps \[5, 10, 25, 50, 100\], got number 3/],
      [{ ...good, history: 'x' }, /snapshot.history must be an array/],
      [{ ...good, history: [{ ...good.history[0], action: 'explode' }] }, /snapshot.history\[0\].action must be one of/],
      [{ ...good, history: [{ ...good.history[0], reason: 5 }] }, /snapshot.history\[0\].reason must be a string or null/],
      [{ ...good, salt: 42 }, /snapshot.salt must be a non-empty string, got number 42/],
    ];
    for (const [snapshot, message] of bad) {
      expect(() => canary.restore(snapshot)).toThrow(ValidationError);
      expect(() => canary.restore(snapshot)).toThrow(message);
      expect(canary.snapshot()).toEqual(before);
    }
  });
});
