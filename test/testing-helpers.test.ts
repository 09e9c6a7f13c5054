import { describe, expect, it } from 'vitest';
import { FakeClock, seededRandom } from '../src/testing/index.js';
import { ValidationError, ModelRolloutError, NotFoundError } from '../src/index.js';

describe('FakeClock', () => {
  it('fires timers in time order, ties in the order they were set', () => {
    const clock = new FakeClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    clock.advance(15);
    expect(fired).toEqual(['a@1010']);
    clock.advance(100);
    expect(fired).toEqual(['a@1010', 'b@1020', 'c@1020']);
    expect(clock.now()).toBe(1115);
    expect(clock.pendingTimers).toBe(0);
  });

  it('repeats intervals until cleared', () => {
    const clock = new FakeClock();
    let n = 0;
    const timer = clock.setInterval(() => n++, 10).unref();
    clock.advance(35);
    expect(n).toBe(3);
    clock.clearInterval(timer);
    clock.advance(100);
    expect(n).toBe(3);
  });

  it('awaits async callbacks in order with tickAsync', async () => {
    const clock = new FakeClock();
    const log: number[] = [];
    clock.setInterval(async () => {
      await Promise.resolve();
      log.push(clock.now());
    }, 5);
    await clock.tickAsync(16);
    expect(log).toEqual([5, 10, 15]);
  });

  it('rejects negative and non-finite moves with a ValidationError', () => {
    const clock = new FakeClock();
    expect(() => clock.advance(-1)).toThrow(ValidationError);
    expect(() => clock.advance(Number.NaN)).toThrow(/ms must be a finite number >= 0, got number NaN/);
  });
});

describe('seededRandom', () => {
  it('is reproducible, in [0, 1) and roughly uniform', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x >= 0 && x < 1).toBe(true);
      buckets[Math.floor(x * 10)]!++;
    }
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500);
    expect(seededRandom(8)()).not.toBe(seededRandom(7)());
  });

  it('refuses a non-integer seed', () => {
    expect(() => seededRandom(1.5)).toThrow(ValidationError);
  });
});

describe('errors', () => {
  it('carry a stable code and their class name', () => {
    const err = new NotFoundError('model "iris" has no version 3');
    expect(err).toBeInstanceOf(ModelRolloutError);
    expect(err.code).toBe('NOT_FOUND');
    expect(err.name).toBe('NotFoundError');
  });
});
