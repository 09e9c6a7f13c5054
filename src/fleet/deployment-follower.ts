import { EventEmitter } from 'eventemitter3';
import { ValidationError, describeValue } from '../errors.js';
import { checkNumber, type RandomSource } from '../options.js';
import type { DeploymentState, DeploymentStore } from './deployment-store.js';

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
  random?: RandomSource;
}

/** Events of {@link DeploymentFollower}. */
export interface DeploymentFollowerEvents {
  /** A newer revision was applied to the policy. */
  applied: (event: { name: string; revision: number; previous: number; by: string; at: string }) => void;
  /** A re-read or restore failed; the follower keeps its last state and tries again next time. */
  error: (event: { error: unknown }) => void;
}

/**
 * Keeps a live policy in step with a deployment's shared state: re-reads
 * `deployments/<name>.json` on a jittered interval (and at once on a change hint), and applies
 * any newer revision to the policy with `restore()`, emitting `applied`. Routing never waits for
 * it: `route()` reads the policy in memory and does no I/O. Timers are `unref()`ed.
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
  #revision = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #reading: Promise<void> | undefined;
  #again = false;

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
  }

  /** The revision last applied (0 before the first). */
  get revision(): number {
    return this.#revision;
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
    clearTimeout(this.#timer);
    this.#hints?.off('change', this.#onChange);
    this.#hints?.off('resync', this.#onResync);
  }

  /** Re-reads now; applies a newer revision if there is one. Concurrent calls share one read. */
  async refresh(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        try {
          const current = await this.#store.read(this.name);
          if (current && current.state.revision > this.#revision) this.#apply(current.state);
        } catch (error) {
          this.emit('error', { error });
        }
      } while (this.#again);
    })().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  #apply(state: DeploymentState): void {
    this.#policy.restore(state.policy);
    const previous = this.#revision;
    this.#revision = state.revision;
    this.emit('applied', { name: this.name, revision: state.revision, previous, by: state.by, at: state.at });
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
    this.#timer = setTimeout(() => {
      void this.refresh().then(() => this.#schedule());
    }, wait);
    this.#timer.unref?.();
  }
}
