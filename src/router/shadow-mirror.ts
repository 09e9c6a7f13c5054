/** Counts of the mirrored (shadow) calls a `ModelRouter` ran, dropped or lost. */
export interface ShadowCounters {
  /** Mirrors started. */
  mirrored: number;
  /** Mirrors whose shadow call answered (and whose outputs were compared). */
  completed: number;
  /** Mirrors whose shadow call failed (recorded under the shadow key in the monitor). */
  failed: number;
  /** Mirrors not run because `maxShadowInFlight` were already running. */
  dropped: number;
  /** Mirrors running now. */
  inFlight: number;
}

/**
 * Runs mirrored calls off the caller's path with a bound on how many run at once: beyond it a
 * mirror is dropped and counted, so a slow shadow can never build an unbounded backlog.
 * @internal
 */
export class ShadowMirror {
  readonly counters: ShadowCounters = { mirrored: 0, completed: 0, failed: 0, dropped: 0, inFlight: 0 };
  #idleWaiters: Array<() => void> = [];

  readonly #maxInFlight: number;

  constructor(maxInFlight: number) {
    this.#maxInFlight = maxInFlight;
  }

  /**
   * Starts `run` on a later turn of the event loop (after the caller has its answer), or drops it
   * when the bound is reached. Returns false when dropped.
   */
  offer(run: () => Promise<boolean>): boolean {
    const counters = this.counters;
    if (counters.inFlight >= this.#maxInFlight) {
      counters.dropped++;
      return false;
    }
    counters.inFlight++;
    counters.mirrored++;
    setImmediate(() => {
      run().then(
        (ok) => this.#settle(ok),
        () => this.#settle(false),
      );
    });
    return true;
  }

  /** Resolves once no mirror is running. */
  idle(): Promise<void> {
    if (this.counters.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #settle(ok: boolean): void {
    const counters = this.counters;
    if (ok) counters.completed++;
    else counters.failed++;
    if (--counters.inFlight === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
