import { ValidationError, describeValue } from '../errors.js';

/** Handle returned by {@link FakeClock.setTimeout} and {@link FakeClock.setInterval}. */
export interface FakeTimer {
  readonly id: number;
  /** No-op, so code that calls `timer.unref()` on real timers works unchanged. */
  unref(): FakeTimer;
}

interface ScheduledTimer {
  id: number;
  at: number;
  intervalMs: number | undefined;
  callback: () => unknown;
}

/**
 * A clock that only moves when a test says so. Pass `clock.now` wherever a `clock` option is
 * taken, and the clock itself wherever timers are (it has `setTimeout`, `setInterval`,
 * `clearTimeout`, `clearInterval`). Timers fire in time order, ties in the order they were set.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * const monitor = new DeploymentMonitor({ clock: clock.now });
 * monitor.record(1, 12);
 * clock.advance(61_000); // the 60 s rolling window no longer holds that request
 * ```
 */
export class FakeClock {
  #time: number;
  #nextId = 1;
  #timers: ScheduledTimer[] = [];

  /** @param start - initial time in ms since the epoch (default 0). */
  constructor(start = 0) {
    if (!Number.isFinite(start)) throw new ValidationError(`start must be a finite number, got ${describeValue(start)}`);
    this.#time = start;
  }

  /** The current fake time in ms; bound, so it can be passed around as a `clock` function. */
  readonly now = (): number => this.#time;

  /** Schedules `callback` once, `ms` from now. */
  setTimeout(callback: () => unknown, ms = 0): FakeTimer {
    return this.#schedule(callback, ms, undefined);
  }

  /** Schedules `callback` every `ms` (at least 1 ms). */
  setInterval(callback: () => unknown, ms: number): FakeTimer {
    return this.#schedule(callback, ms, Math.max(1, ms));
  }

  /** Cancels a timer; unknown or already-fired handles are ignored, as with the real functions. */
  clearTimeout(timer: FakeTimer | undefined): void {
    if (timer) this.#timers = this.#timers.filter((t) => t.id !== timer.id);
  }

  /** Same as {@link FakeClock.clearTimeout}. */
  clearInterval(timer: FakeTimer | undefined): void {
    this.clearTimeout(timer);
  }

  /** Number of timers still scheduled. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order, with `now()`
   * equal to each timer's due time while it runs. Synchronous: promises a callback starts
   * are not awaited (use {@link FakeClock.tickAsync} for that).
   */
  advance(ms: number): void {
    const target = this.#checkedTarget(ms);
    for (let timer = this.#nextDue(target); timer; timer = this.#nextDue(target)) {
      this.#fire(timer);
    }
    this.#time = target;
  }

  /**
   * Like {@link FakeClock.advance}, but awaits whatever each timer callback returns (and lets
   * queued microtasks run) before firing the next, so async work driven by timers completes in order.
   */
  async tickAsync(ms: number): Promise<void> {
    const target = this.#checkedTarget(ms);
    for (let timer = this.#nextDue(target); timer; timer = this.#nextDue(target)) {
      await this.#fire(timer);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#time = target;
  }

  /** Sets the time directly (forward or backward); no timers fire. */
  set(time: number): void {
    if (!Number.isFinite(time)) throw new ValidationError(`time must be a finite number, got ${describeValue(time)}`);
    this.#time = time;
  }

  #schedule(callback: () => unknown, ms: number, intervalMs: number | undefined): FakeTimer {
    if (typeof callback !== 'function') {
      throw new ValidationError(`callback must be a function, got ${describeValue(callback)}`);
    }
    if (!Number.isFinite(ms) || ms < 0) {
      throw new ValidationError(`delay must be a finite number >= 0, got ${describeValue(ms)}`);
    }
    const id = this.#nextId++;
    this.#timers.push({ id, at: this.#time + ms, intervalMs, callback });
    const handle: FakeTimer = { id, unref: () => handle };
    return handle;
  }

  #checkedTarget(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new ValidationError(`ms must be a finite number >= 0, got ${describeValue(ms)}`);
    }
    return this.#time + ms;
  }

  #nextDue(target: number): ScheduledTimer | undefined {
    let next: ScheduledTimer | undefined;
    for (const timer of this.#timers) {
      if (timer.at <= target && (!next || timer.at < next.at || (timer.at === next.at && timer.id < next.id))) {
        next = timer;
      }
    }
    return next;
  }

  #fire(timer: ScheduledTimer): unknown {
    this.#time = timer.at;
    if (timer.intervalMs === undefined) {
      this.#timers = this.#timers.filter((t) => t !== timer);
    } else {
      timer.at += timer.intervalMs;
    }
    return timer.callback();
  }
}
