import type { IntervalScheduler } from './options.js';

/**
 * Drives an analysis on an interval: one run at a time (a tick that finds the previous run still
 * going, e.g. waiting on a slow gate, is skipped rather than stacked), stopping itself once
 * `finished()` says the rollout has settled. The timer comes from an {@link IntervalScheduler}, so
 * a `FakeClock` drives it in tests; the global one is unref'd.
 * @internal
 */
export class AnalysisRunner {
  #handle: unknown;
  #running = false;
  #active = false;
  readonly #run: () => Promise<unknown>;
  readonly #finished: () => boolean;
  readonly #intervalMs: number;
  readonly #timers: IntervalScheduler;
  readonly #onFailure: (error: unknown) => void;

  constructor(
    run: () => Promise<unknown>,
    finished: () => boolean,
    intervalMs: number,
    timers: IntervalScheduler,
    onFailure: (error: unknown) => void,
  ) {
    this.#run = run;
    this.#finished = finished;
    this.#intervalMs = intervalMs;
    this.#timers = timers;
    this.#onFailure = onFailure;
  }

  /** Whether the loop is scheduled. */
  get started(): boolean {
    return this.#active;
  }

  /** Starts the loop; starting a started loop does nothing. */
  start(): void {
    if (this.#active) return;
    this.#active = true;
    this.#handle = this.#timers.setInterval(() => this.#tick(), this.#intervalMs);
  }

  /** Stops the loop; a run already going finishes, and nothing runs after it. */
  stop(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#timers.clearInterval(this.#handle);
    this.#handle = undefined;
  }

  #tick(): Promise<void> | undefined {
    if (this.#running || !this.#active) return undefined;
    if (this.#finished()) {
      this.stop();
      return undefined;
    }
    this.#running = true;
    // Returned so FakeClock.tickAsync can await the run before firing the next timer.
    return this.#run().then(
      () => {
        this.#running = false;
        if (this.#finished()) this.stop();
      },
      (error: unknown) => {
        this.#running = false;
        this.#onFailure(error);
      },
    );
  }
}
