import { describe, expect, it } from 'vitest';
import { StaticPolicy, ValidationError } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

describe('StaticPolicy', () => {
  it('serves the pinned version to everyone and moves the pin with a pinned event', () => {
    const clock = new FakeClock(42);
    const policy = new StaticPolicy({ version: 3, clock: clock.now });
    const pinned: unknown[] = [];
    policy.on('pinned', (e) => pinned.push(e));
    expect(policy.route()).toEqual({ version: 3, variant: 'stable', reason: 'static', propensity: 1 });
    expect(policy.route({ unitId: 'u' })).toEqual({ version: 3, variant: 'stable', reason: 'static', propensity: 1 });
    expect(policy.route({ force: 'stable' })).toEqual({ version: 3, variant: 'stable', reason: 'forced', propensity: 1 });
    expect(policy.fallback()).toEqual({ version: 3, variant: 'stable', reason: 'fallback', propensity: 1 });
    clock.advance(8);
    policy.pin(4);
    expect(policy.currentVersion).toBe(4);
    expect(policy.route()).toEqual({ version: 4, variant: 'stable', reason: 'static', propensity: 1 });
    expect(pinned).toEqual([{ from: 3, to: 4, at: 50 }]);
  });

  it('validates its version, variant, force and snapshot, changing nothing on error', () => {
    expect(() => new StaticPolicy({ version: 0 })).toThrow(/version must be an integer >= 1, got number 0/);
    expect(() => new StaticPolicy({ version: 1, variant: '' })).toThrow(/variant must be a non-empty string/);
    const policy = new StaticPolicy({ version: 1, variant: 'prod' });
    expect(() => policy.route({ force: 'canary' })).toThrow(/force must be 'prod' \(the only variant\), got string "canary"/);
    expect(() => policy.pin(Number.NaN)).toThrow(ValidationError);
    expect(() => policy.restore({ policy: 'static', specVersion: 1, version: 'x', variant: 'a' })).toThrow(/snapshot.version must be an integer/);
    expect(() => policy.restore({ policy: 'canary', specVersion: 1, version: 2, variant: 'a' })).toThrow(/snapshot.policy must be 'static'/);
    expect(policy.snapshot()).toEqual({ policy: 'static', specVersion: 1, version: 1, variant: 'prod' });
    const replica = new StaticPolicy({ version: 9 });
    replica.restore(JSON.parse(JSON.stringify(policy.snapshot())));
    expect(replica.route()).toEqual(policy.route());
  });
});
