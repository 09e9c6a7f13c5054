import { EventEmitter } from 'eventemitter3';
import { ValidationError, describeValue } from '../errors.js';
import { checkVersion, type Clock } from '../options.js';
import { checkNonEmptyString, checkOptions, snapshotRecord, timeAndChance } from './checks.js';
import type { Assignment, PolicyRestoredEvent, PolicyTraffic, RouteContext, RoutingPolicy } from './policy.js';

/** Options of {@link StaticPolicy}. */
export interface StaticPolicyOptions {
  /** The registry version every request gets. */
  version: number;
  /** Variant name reported in assignments and metrics (default `'stable'`). */
  variant?: string;
  /** Time source for event timestamps, in ms (default `Date.now`). */
  clock?: Clock;
}

/** Payload of {@link StaticPolicy}'s `pinned` event. */
export interface StaticPinnedEvent {
  from: number;
  to: number;
  /** Clock time of the change, in ms. */
  at: number;
}

/** Events of {@link StaticPolicy}. */
export interface StaticPolicyEvents {
  /** {@link StaticPolicy.pin} moved every request to another version. */
  pinned: (event: StaticPinnedEvent) => void;
  /** {@link StaticPolicy.restore} replaced the state with a snapshot. */
  restored: (event: PolicyRestoredEvent) => void;
}

/** JSON-safe state of a {@link StaticPolicy}. */
export interface StaticPolicySnapshot {
  policy: 'static';
  specVersion: 1;
  version: number;
  variant: string;
}

/**
 * Serves one version to everyone: for hosts that only pin a version (and move the pin by hand).
 *
 * @example
 * ```ts
 * const policy = new StaticPolicy({ version: 3 });
 * policy.route({ unitId: 'user-42' }); // { version: 3, variant: 'stable', reason: 'static' }
 * policy.pin(4);
 * ```
 */
export class StaticPolicy extends EventEmitter<StaticPolicyEvents> implements RoutingPolicy {
  readonly #clock: Clock;
  #version: number;
  #variant: string;
  #routed!: Readonly<Assignment>;
  #forced!: Readonly<Assignment>;
  #fallbackAssignment!: Readonly<Assignment>;

  constructor(options: StaticPolicyOptions) {
    super();
    const opts = checkOptions<StaticPolicyOptions>('StaticPolicy', options);
    this.#clock = timeAndChance(opts).clock;
    this.#version = checkVersion('version', opts.version);
    this.#variant = opts.variant === undefined ? 'stable' : checkNonEmptyString('variant', opts.variant);
    this.#refresh();
  }

  /** The pinned version. */
  get currentVersion(): number {
    return this.#version;
  }

  /**
   * Every request gets the pinned version (reason `'static'`; `'forced'` when `ctx.force` names
   * this policy's variant, the only one it has).
   */
  route(ctx?: RouteContext): Assignment {
    if (ctx?.force !== undefined) {
      if (ctx.force !== this.#variant) {
        throw new ValidationError(`force must be '${this.#variant}' (the only variant), got ${describeValue(ctx.force)}`);
      }
      return this.#forced;
    }
    return this.#routed;
  }

  /** The pinned version, reason `'fallback'`. */
  fallback(): Assignment {
    return this.#fallbackAssignment;
  }

  /** The one version, with share 1. */
  traffic(): PolicyTraffic[] {
    return [{ version: this.#version, variant: this.#variant, share: 1 }];
  }

  /** Moves every request to `version` and emits `pinned`. */
  pin(version: number): void {
    const to = checkVersion('version', version);
    const from = this.#version;
    this.#version = to;
    this.#refresh();
    this.emit('pinned', { from, to, at: this.#clock() });
  }

  snapshot(): StaticPolicySnapshot {
    return { policy: 'static', specVersion: 1, version: this.#version, variant: this.#variant };
  }

  restore(snapshot: unknown): void {
    const record = snapshotRecord(snapshot, 'static');
    const version = checkVersion('snapshot.version', record.version);
    const variant = checkNonEmptyString('snapshot.variant', record.variant);
    this.#version = version;
    this.#variant = variant;
    this.#refresh();
    this.emit('restored', { at: this.#clock() });
  }

  #refresh(): void {
    const version = this.#version, variant = this.#variant;
    this.#routed = Object.freeze({ version, variant, reason: 'static', propensity: 1 });
    this.#forced = Object.freeze({ version, variant, reason: 'forced', propensity: 1 });
    this.#fallbackAssignment = Object.freeze({ version, variant, reason: 'fallback', propensity: 1 });
  }
}
