import { EventEmitter } from 'eventemitter3';
import { ValidationError, describeValue } from '../errors.js';
import { checkNumber, checkTimers, type RandomSource, type TimerScheduler } from '../options.js';
import type { DeploymentState, DeploymentStore, StoredDeployment } from './deployment-store.js';
import { isNotModified } from '../storage/storage-adapter.js';
import { Coalescer } from './lane.js';

/** The part of a policy a follower drives: its plain-JSON state (every routing policy has it). */
export interface RestorablePolicy {
  restore(snapshot: unknown): void;
}

/** A source of change hints, e.g. `PostgresChangeFeed` from `model-rollout/postgres`. */
export interface ChangeHints {
  on(event: 'change', listener: (change: { key: string }) => void): unknown;
  on(event: 'resync', listener: () => void): unknown;
  off(event: 'change', listener: (change: { key: string }) => void): unknown;
  off(event: 'resync', listener: () => void): unknown;
}

/** Options of {@link DeploymentFollower}. */
export interface DeploymentFollowerOptions {
  store: DeploymentStore;
  /** The deployment to follow. */
  name: string;
  /** The live policy newer revisions are applied to, with `restore()`. */
  policy: RestorablePolicy;
  /** Re-read interval (ms, default 5 000); each wait is drawn from ±`jitter` around it. */
  intervalMs?: number;
  /** Relative jitter of the interval in [0, 1) (default 0.2), so replicas do not poll in step. */
  jitter?: number;
  /** Change hints that make following immediate; polling stays on as the source of truth. */
  hints?: ChangeHints;
  /**
   * Runs each re-read-and-apply; a `FleetDeployment` passes the lane its own writes go through,
   * so a revision is never applied while this replica's own transition to it is on its way.
   */
  serialize?: <T>(job: () => Promise<T>) => Promise<T>;
  random?: RandomSource;
  /** The timers the re-reads are scheduled on (default the global ones, unref'd; a `FakeClock` in tests). */
  timers?: TimerScheduler;
}

/** Events of {@link DeploymentFollower}. */
export interface DeploymentFollowerEvents {
  /** A newer revision was applied to the policy. */
  applied: (event: { name: string; revision: number; previous: number; by: string; at: string; state: DeploymentState }) => void;
  /** A re-read or restore failed; the follower keeps its last state and tries again next time. */
  error: (event: { error: unknown }) => void;
}

/**
 * Keeps a live policy in step with a deployment's shared state: re-reads
 * `deployments/<name>.json` on a jittered interval (and at once on a change hint), conditionally
 * on the etag of the state it holds (so an unchanged document transfers no bytes), and applies
 * any newer revision to the policy with `restore()`, emitting `applied`. Routing never waits for
 * it: `route()` reads the policy in memory and does no I/O. Timers are `unref()`ed (or a
 * `FakeClock`'s, with `timers`).
 *
 * @example
 * ```ts
 * const follower = new DeploymentFollower({ store, name: 'iris', policy: canary, intervalMs: 2_000, hints: feed });
 * follower.on('applied', (e) => log.info('now at revision', e.revision));
 * await follower.start();
 * ```
 */
export class DeploymentFollower extends EventEmitter<DeploymentFollowerEvents> {
  readonly name: string;
  readonly #store: DeploymentStore;
  readonly #policy: RestorablePolicy;
  readonly #intervalMs: number;
  readonly #jitter: number;
  readonly #hints: ChangeHints | undefined;
  readonly #random: RandomSource;
  readonly #serialize: <T>(job: () => Promise<T>) => Promise<T>;
  readonly #reader: Coalescer;
  readonly #timers: TimerScheduler;
  #held: StoredDeployment | undefined;
  #timer: unknown;
  #running = false;

  constructor(options: DeploymentFollowerOptions) {
    super();
    if (typeof options?.policy?.restore !== 'function') {
      throw new ValidationError(`DeploymentFollower policy must have restore(), got ${describeValue(options?.policy)}`);
    }
    this.#store = options.store;
    this.name = options.name;
    this.#policy = options.policy;
    this.#intervalMs = checkNumber('intervalMs', options.intervalMs ?? 5_000, { min: 1 });
    this.#jitter = checkNumber('jitter', options.jitter ?? 0.2, { min: 0, max: 0.99 });
    this.#hints = options.hints;
    this.#random = options.random ?? Math.random;
    this.#serialize = options.serialize ?? ((job) => job());
    this.#timers = checkTimers('timers', options.timers);
    this.#reader = new Coalescer(() =>
      this.#serialize(async () => {
        try {
          // Conditional on the etag held: an unchanged document costs a comparison, not a transfer.
          const etag = this.#held?.etag;
          const current = etag === undefined ? await this.#store.read(this.name) : await this.#store.read(this.name, { ifNoneMatch: etag });
          if (current && !isNotModified(current)) this.apply(current);
        } catch (error) {
          this.emit('error', { error });
        }
      }),
    );
  }

  /** The revision the policy holds (0 before the first). */
  get revision(): number {
    return this.#held?.state.revision ?? 0;
  }

  /** The stored state the policy holds, with its etag: what this replica's next transition starts from. */
  get held(): StoredDeployment | undefined {
    return this.#held;
  }

  /**
   * Records that the policy already holds `stored` (this replica's own transition made it), so it
   * is not applied again; an older revision is ignored.
   */
  hold(stored: StoredDeployment): void {
    if (stored.state.revision >= this.revision) this.#held = stored;
  }

  /** Forgets the revision held, so the next re-read applies the stored state whatever its revision (the live policy may hold a change that was never saved). */
  forget(): void {
    this.#held = undefined;
  }

  /**
   * Applies `stored` (read by the caller) to the policy when it is newer than the revision held,
   * emitting `applied`; returns whether it did. A policy that refuses the snapshot throws and
   * nothing changes.
   */
  apply(stored: StoredDeployment): boolean {
    if (stored.state.revision <= this.revision) return false;
    this.#policy.restore(stored.state.policy);
    const previous = this.revision;
    this.#held = stored;
    const { state } = stored;
    this.emit('applied', { name: this.name, revision: state.revision, previous, by: state.by, at: state.at, state });
    return true;
  }

  /** Reads once (applying what is there), then keeps following until `stop()`. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#hints?.on('change', this.#onChange);
    this.#hints?.on('resync', this.#onResync);
    await this.refresh();
    this.#schedule();
  }

  /** Stops the timer and the hints. */
  stop(): void {
    this.#running = false;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#hints?.off('change', this.#onChange);
    this.#hints?.off('resync', this.#onResync);
  }

  /** Re-reads now; applies a newer revision if there is one. Concurrent calls share one read (and one more after it). */
  refresh(): Promise<void> {
    return this.#reader.run();
  }

  readonly #onChange = (change: { key: string }) => {
    if (change.key === `deployments/${this.name}.json`) void this.refresh();
  };

  readonly #onResync = () => {
    void this.refresh();
  };

  #schedule(): void {
    if (!this.#running) return;
    const wait = this.#intervalMs * (1 + this.#jitter * (2 * this.#random() - 1));
    // Returned, so a FakeClock's tickAsync waits for the re-read before it fires the next timer.
    this.#timer = this.#timers.setTimeout(() => this.refresh().then(() => this.#schedule()), wait);
  }
}
