/**
 * Runs async jobs one after another, in the order given: the reads and writes of one replica's
 * deployment state go through one lane, so a follower never applies a revision while this
 * replica's own transition to it is still on its way. A job's failure is its caller's alone.
 * @internal
 */
export class Lane {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(job, job);
    this.#tail = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every job given so far has ended. */
  async idle(): Promise<void> {
    await this.#tail;
  }
}

/**
 * Single-flight with one more run: a call while a run is in flight is folded into one further
 * run after it, so the result is never older than the last call (heartbeats, re-reads).
 * @internal
 */
export class Coalescer {
  readonly #job: () => Promise<void>;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(job: () => Promise<void>) {
    this.#job = job;
  }

  run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#job();
      } while (this.#again);
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }
}
