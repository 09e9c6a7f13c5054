import { EventEmitter } from 'eventemitter3';
import { InvalidStateError, ValidationError, describeValue } from '../errors.js';
import { checkNumber, checkOneOf, checkVersion, type Clock, type RandomSource } from '../options.js';
import {
  checkArray,
  checkNonEmptyString,
  checkOptionalVersion,
  checkOptions,
  checkPercentage,
  checkReason,
  checkRecord,
  snapshotRecord,
  timeAndChance,
} from './checks.js';
import { unitHasher, type HashVersion, type UnitHasher } from './hash.js';
import type { Assignment, PolicyRestoredEvent, PolicyTraffic, RouteContext, RoutingPolicy } from './policy.js';

/**
 * Where a canary rollout stands. `idle`: no rollout (everyone on stable); `progressing`: traffic
 * is split and may be increased; `paused`: split held until `resume()`; `promoted`: the canary
 * became stable; `rolledBack`: the canary failed and everyone is back on stable.
 */
export type CanaryStatus = 'idle' | 'progressing' | 'paused' | 'promoted' | 'rolledBack';

/** The operation that made a history entry. */
export type CanaryAction = 'start' | 'increase' | 'setPercentage' | 'pause' | 'resume' | 'rollback' | 'promote' | 'abort';

/** Every status a canary can have. @internal */
export const CANARY_STATUSES: readonly CanaryStatus[] = ['idle', 'progressing', 'paused', 'promoted', 'rolledBack'];
const ACTIONS: readonly CanaryAction[] = ['start', 'increase', 'setPercentage', 'pause', 'resume', 'rollback', 'promote', 'abort'];
const DEFAULT_STEPS: readonly number[] = [5, 10, 25, 50, 100];

/** One transition of a {@link CanaryDeployment}, as kept in {@link CanaryState.history}. */
export interface CanaryHistoryEntry {
  /** Clock time of the transition, in ms. */
  at: number;
  action: CanaryAction;
  /** Status after the transition. */
  status: CanaryStatus;
  /** Canary percentage after the transition. */
  percentage: number;
  stable: number;
  canary: number | undefined;
  /** Why, when the caller said (e.g. an analysis verdict). */
  reason: string | undefined;
}

/** What a {@link CanaryDeployment} holds now. */
export interface CanaryState {
  stable: number;
  /** The candidate; `undefined` before the first rollout and after a promotion. */
  canary: number | undefined;
  /** Share of units sent to the canary, 0–100. */
  percentage: number;
  status: CanaryStatus;
  /** Index in `steps` of the highest step at or below `percentage`; -1 below the first step. */
  stepIndex: number;
  /** The most recent transitions, oldest first (at most `historyLimit`). */
  history: readonly CanaryHistoryEntry[];
}

/** Options of {@link CanaryDeployment}. */
export interface CanaryDeploymentOptions {
  /** The version serving everyone outside the canary. */
  stable: number;
  /** The candidate `start()` uses when called without one. */
  canary?: number;
  /** Percentages `increase()` walks through, strictly ascending, each in (0, 100] (default `[5, 10, 25, 50, 100]`). */
  steps?: readonly number[];
  /** Name of this rollout, for logs and the default salt (default `'canary'`). */
  name?: string;
  /**
   * Salt of the sticky hash (default: `name`). Give each rollout its own salt so the same users
   * are not always the first to get every new version.
   */
  salt?: string;
  /** Hash specification (default 1, the only one); see `docs/routing.md`. */
  hashVersion?: HashVersion;
  /** How many transitions `state.history` keeps (default 100; the oldest are dropped). */
  historyLimit?: number;
  /** Time source for events and history, in ms (default `Date.now`). */
  clock?: Clock;
  /** Uniform [0, 1) source for requests without a `unitId` (default `Math.random`). */
  random?: RandomSource;
}

/** Payload of the `started` event. */
export interface CanaryStartedEvent {
  stable: number;
  canary: number;
  percentage: number;
  stepIndex: number;
  at: number;
}

/** Payload of the `stepped` event. */
export interface CanarySteppedEvent {
  from: number;
  to: number;
  stepIndex: number;
  action: 'increase' | 'setPercentage';
  at: number;
}

/** Payload of the `paused` and `resumed` events. */
export interface CanaryPausedEvent {
  percentage: number;
  reason: string | undefined;
  at: number;
}

/** Payload of the `rolledBack` and `aborted` events. */
export interface CanaryRolledBackEvent {
  stable: number;
  canary: number;
  /** Canary percentage just before everyone went back to stable. */
  fromPercentage: number;
  reason: string | undefined;
  at: number;
}

/** Payload of the `promoted` event. */
export interface CanaryPromotedEvent {
  /** The stable version before the promotion. */
  from: number;
  /** The promoted canary, now stable. */
  to: number;
  fromPercentage: number;
  reason: string | undefined;
  at: number;
}

/**
 * Events of {@link CanaryDeployment}: one per transition. An analysis composed around the canary
 * (`new CanaryAnalysis(canary, …)`) emits its own (`analysis`, `held`, `needsAttention` …).
 */
export interface CanaryDeploymentEvents {
  started: (event: CanaryStartedEvent) => void;
  stepped: (event: CanarySteppedEvent) => void;
  paused: (event: CanaryPausedEvent) => void;
  resumed: (event: CanaryPausedEvent) => void;
  rolledBack: (event: CanaryRolledBackEvent) => void;
  aborted: (event: CanaryRolledBackEvent) => void;
  promoted: (event: CanaryPromotedEvent) => void;
  /** {@link CanaryDeployment.restore} replaced the state with a snapshot. */
  restored: (event: PolicyRestoredEvent) => void;
}

/** A history entry as stored in a snapshot (JSON has no `undefined`). */
export interface CanaryHistorySnapshotEntry {
  at: number;
  action: CanaryAction;
  status: CanaryStatus;
  percentage: number;
  stable: number;
  canary: number | null;
  reason: string | null;
}

/** JSON-safe state of a {@link CanaryDeployment}. */
export interface CanarySnapshot {
  policy: 'canary';
  specVersion: 1;
  name: string;
  salt: string;
  hashVersion: HashVersion;
  steps: number[];
  stable: number;
  canary: number | null;
  percentage: number;
  status: CanaryStatus;
  stepIndex: number;
  history: CanaryHistorySnapshotEntry[];
}

function checkSteps(name: string, value: unknown): number[] {
  const steps = checkArray(name, value);
  if (steps.length === 0) throw new ValidationError(`${name} must hold at least one percentage, got an empty array`);
  return steps.map((step, i) => {
    const checked = checkNumber(`${name}[${i}]`, step, { min: 0, exclusiveMin: true, max: 100 });
    const previous = steps[i - 1];
    if (i > 0 && checked <= (previous as number)) {
      throw new ValidationError(`${name} must be strictly ascending, got ${checked} after ${String(previous)} at index ${i}`);
    }
    return checked;
  });
}

function stepIndexOf(steps: readonly number[], percentage: number): number {
  let index = -1;
  for (let i = 0; i < steps.length && (steps[i] as number) <= percentage; i++) index = i;
  return index;
}

/**
 * A gradual rollout: a sticky share of units goes to the canary version, ramped through `steps`
 * (or by hand), then promoted or rolled back. A unit is on the canary when
 * `hashUnit(salt, unitId) < percentage / 100`, so the canary set only grows as the percentage
 * rises: a unit that got the canary at 5 % keeps it at 25 %, 50 % and 100 %, on every replica.
 * Every transition is a public method that emits its own event, so an operator, a test or an
 * automated analysis can drive it.
 *
 * @example
 * ```ts
 * const canary = new CanaryDeployment({ stable: 1, canary: 2, name: 'iris-v2' });
 * canary.on('promoted', (e) => console.log(`v${e.to} is stable`));
 * canary.start();                          // 5 % of units on v2
 * canary.route({ unitId: 'user-42' });     // { version: 1 | 2, variant: 'stable' | 'canary', reason: 'hash' }
 * canary.increase();                       // 10 %
 * canary.promote();                        // v2 is stable
 * ```
 */
export class CanaryDeployment extends EventEmitter<CanaryDeploymentEvents> implements RoutingPolicy {
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #historyLimit: number;
  #rolloutName: string;
  #salt: string;
  #hashVersion: HashVersion;
  #hash: UnitHasher;
  #rolloutSteps: number[];
  #stable: number;
  #canary: number | undefined;
  #percentage = 0;
  #status: CanaryStatus = 'idle';
  #history: CanaryHistoryEntry[] = [];

  // Precomputed on every transition so route() only compares and returns a shared frozen object.
  #splitting = false;
  #threshold = 0;
  #settled!: Readonly<Assignment>;
  #stableByHash!: Readonly<Assignment>;
  #canaryByHash!: Readonly<Assignment>;
  #stableByRandom!: Readonly<Assignment>;
  #canaryByRandom!: Readonly<Assignment>;
  #forcedStable!: Readonly<Assignment>;
  #forcedCanary: Readonly<Assignment> | undefined;
  #fallbackAssignment!: Readonly<Assignment>;

  constructor(options: CanaryDeploymentOptions) {
    super();
    const opts = checkOptions<CanaryDeploymentOptions>('CanaryDeployment', options);
    ({ clock: this.#clock, random: this.#random } = timeAndChance(opts));
    this.#stable = checkVersion('stable', opts.stable);
    this.#canary = opts.canary === undefined ? undefined : checkVersion('canary', opts.canary);
    if (this.#canary === this.#stable) throw new ValidationError(`canary must differ from stable, got ${this.#canary} for both`);
    this.#rolloutSteps = opts.steps === undefined ? [...DEFAULT_STEPS] : checkSteps('steps', opts.steps);
    this.#rolloutName = opts.name === undefined ? 'canary' : checkNonEmptyString('name', opts.name);
    this.#salt = opts.salt === undefined ? this.#rolloutName : checkNonEmptyString('salt', opts.salt);
    this.#hashVersion = (opts.hashVersion ?? 1) as HashVersion;
    this.#hash = unitHasher(this.#salt, this.#hashVersion);
    this.#historyLimit = opts.historyLimit === undefined ? 100 : checkNumber('historyLimit', opts.historyLimit, { min: 0, integer: true });
    this.#refresh();
  }

  /** The rollout's name. */
  get name(): string {
    return this.#rolloutName;
  }

  /** The percentages `increase()` walks through. */
  get steps(): readonly number[] {
    return this.#rolloutSteps;
  }

  /** A copy of the current state. */
  get state(): CanaryState {
    return {
      stable: this.#stable,
      canary: this.#canary,
      percentage: this.#percentage,
      status: this.#status,
      stepIndex: stepIndexOf(this.#rolloutSteps, this.#percentage),
      history: this.#history.map((entry) => ({ ...entry })),
    };
  }

  /**
   * While progressing or paused: the canary if `hashUnit(salt, unitId) < percentage / 100`
   * (reason `'hash'`), or, without a `unitId`, if `random() < percentage / 100` (reason
   * `'random'`). Otherwise stable, with reason `'static'` (idle), `'rollback'` or `'promoted'`.
   * `ctx.force` names `'stable'` or `'canary'` (reason `'forced'`).
   * The returned object is frozen and shared: copy it to change it.
   */
  route(ctx?: RouteContext): Assignment {
    if (ctx !== undefined) {
      if (ctx.force !== undefined) return this.#routeForced(ctx.force);
      const unitId = ctx.unitId;
      if (unitId !== undefined) {
        if (!this.#splitting) return this.#settled;
        return this.#hash(unitId) < this.#threshold ? this.#canaryByHash : this.#stableByHash;
      }
    }
    if (!this.#splitting) return this.#settled;
    return this.#random() < this.#threshold ? this.#canaryByRandom : this.#stableByRandom;
  }

  /** The stable version, reason `'fallback'`. */
  fallback(): Assignment {
    return this.#fallbackAssignment;
  }

  /** Stable with `1 - percentage / 100` and, while a rollout splits traffic, the canary with `percentage / 100`. */
  traffic(): PolicyTraffic[] {
    const stable = this.#stable, canary = this.#canary, percentage = this.#percentage;
    if (canary === undefined || !this.#splitting || percentage === 0) return [{ version: stable, variant: 'stable', share: 1 }];
    return [
      { version: stable, variant: 'stable', share: 1 - percentage / 100 },
      { version: canary, variant: 'canary', share: percentage / 100 },
    ];
  }

  /**
   * Starts a rollout (status `progressing`) from `idle`, `promoted` or `rolledBack`, and emits
   * `started`. Defaults: the current stable, the canary given before, and the first step.
   * While a rollout is progressing or paused it is an `InvalidStateError`.
   */
  start(stable: number = this.#stable, canary: number | undefined = this.#canary, initialPercentage?: number): void {
    this.#requireStatus('start', ['idle', 'promoted', 'rolledBack'], 'promote(), rollback() or abort() the current rollout first');
    const newStable = checkVersion('stable', stable);
    if (canary === undefined) throw new ValidationError('canary must be a version (an integer >= 1), got undefined: pass start(stable, canary)');
    const newCanary = checkVersion('canary', canary);
    if (newCanary === newStable) throw new ValidationError(`canary must differ from stable, got ${newCanary} for both`);
    const percentage =
      initialPercentage === undefined ? (this.#rolloutSteps[0] as number) : checkPercentage('initialPercentage', initialPercentage);
    this.#stable = newStable;
    this.#canary = newCanary;
    this.#percentage = percentage;
    this.#status = 'progressing';
    const at = this.#transition('start', undefined);
    this.emit('started', { stable: newStable, canary: newCanary, percentage, stepIndex: stepIndexOf(this.#rolloutSteps, percentage), at });
  }

  /**
   * Raises the canary share: to the next step above the current percentage, or, with
   * `increment`, by that many points (capped at 100). Only while `progressing`; at 100 % or past
   * the last step without an increment it is an `InvalidStateError`. Emits `stepped`.
   */
  increase(increment?: number): void {
    this.#requireStatus('increase', ['progressing'], this.#status === 'paused' ? 'resume() first' : 'start() a rollout first');
    const from = this.#percentage;
    let to: number;
    if (increment === undefined) {
      const next = this.#rolloutSteps.find((step) => step > from);
      if (next === undefined) {
        throw new InvalidStateError(
          `cannot increase: ${from} % is at or past the last step (${this.#rolloutSteps.join(', ')}); promote() or increase(increment)`,
        );
      }
      to = next;
    } else {
      checkNumber('increment', increment, { min: 0, exclusiveMin: true });
      if (from >= 100) throw new InvalidStateError('cannot increase: the canary already has 100 %; promote() to finish');
      to = Math.min(100, from + increment);
    }
    this.#stepTo(to, 'increase');
  }

  /**
   * Sets the canary share directly (up or down) while `progressing` or `paused`; the status does
   * not change. Emits `stepped` unless the percentage is unchanged.
   */
  setPercentage(percentage: number): void {
    const to = checkPercentage('percentage', percentage);
    this.#requireStatus('setPercentage', ['progressing', 'paused'], 'start() a rollout first');
    if (to !== this.#percentage) this.#stepTo(to, 'setPercentage');
  }

  /** Holds the split (status `paused`) until `resume()`; only while `progressing`. Emits `paused`. */
  pause(reason?: string): void {
    const why = checkReason(reason);
    this.#requireStatus('pause', ['progressing'], this.#status === 'paused' ? 'it is already paused' : 'start() a rollout first');
    this.#status = 'paused';
    const at = this.#transition('pause', why);
    this.emit('paused', { percentage: this.#percentage, reason: why, at });
  }

  /** Continues a paused rollout (status `progressing`). Emits `resumed`. */
  resume(reason?: string): void {
    const why = checkReason(reason);
    this.#requireStatus('resume', ['paused'], 'only a paused rollout can resume');
    this.#status = 'progressing';
    const at = this.#transition('resume', why);
    this.emit('resumed', { percentage: this.#percentage, reason: why, at });
  }

  /**
   * The canary failed: everyone is on stable from the next `route()` (0 %, status `rolledBack`).
   * Only while `progressing` or `paused`. Emits `rolledBack`.
   */
  rollback(reason?: string): void {
    const why = checkReason(reason);
    this.#requireStatus('rollback', ['progressing', 'paused'], 'there is no rollout in progress to roll back');
    this.#endSplit('rolledBack', 'rollback', 'rolledBack', why);
  }

  /**
   * Cancels the rollout without a verdict: everyone is on stable at once, the status is `idle`,
   * and the canary is kept so `start()` can try it again. Only while `progressing` or `paused`.
   * Emits `aborted`.
   */
  abort(reason?: string): void {
    const why = checkReason(reason);
    this.#requireStatus('abort', ['progressing', 'paused'], 'there is no rollout in progress to abort');
    this.#endSplit('idle', 'abort', 'aborted', why);
  }

  /**
   * The canary becomes the stable version for everyone (status `promoted`), from any percentage
   * (Argo's `promote --full`). Only while `progressing` or `paused`. Emits `promoted`.
   */
  promote(reason?: string): void {
    const why = checkReason(reason);
    this.#requireStatus('promote', ['progressing', 'paused'], 'there is no rollout in progress to promote');
    const from = this.#stable;
    const to = this.#canary as number;
    const fromPercentage = this.#percentage;
    this.#stable = to;
    this.#canary = undefined;
    this.#percentage = 0;
    this.#status = 'promoted';
    const at = this.#transition('promote', why);
    this.emit('promoted', { from, to, fromPercentage, reason: why, at });
  }

  snapshot(): CanarySnapshot {
    return {
      policy: 'canary',
      specVersion: 1,
      name: this.#rolloutName,
      salt: this.#salt,
      hashVersion: this.#hashVersion,
      steps: [...this.#rolloutSteps],
      stable: this.#stable,
      canary: this.#canary ?? null,
      percentage: this.#percentage,
      status: this.#status,
      stepIndex: stepIndexOf(this.#rolloutSteps, this.#percentage),
      history: this.#history.map((entry) => ({ ...entry, canary: entry.canary ?? null, reason: entry.reason ?? null })),
    };
  }

  restore(snapshot: unknown): void {
    const record = snapshotRecord(snapshot, 'canary');
    const name = checkNonEmptyString('snapshot.name', record.name);
    const salt = checkNonEmptyString('snapshot.salt', record.salt);
    const hash = unitHasher(salt, record.hashVersion as HashVersion);
    const steps = checkSteps('snapshot.steps', record.steps);
    const stable = checkVersion('snapshot.stable', record.stable);
    const canary = checkOptionalVersion('snapshot.canary', record.canary);
    const percentage = checkPercentage('snapshot.percentage', record.percentage);
    const status = checkOneOf('snapshot.status', record.status, CANARY_STATUSES);
    const splitting = status === 'progressing' || status === 'paused';
    if (splitting && canary === undefined) {
      throw new ValidationError(`snapshot.canary must be a version while status is '${status}', got null`);
    }
    if (canary === stable) throw new ValidationError(`snapshot.canary must differ from snapshot.stable, got ${canary} for both`);
    if (!splitting && percentage !== 0) {
      throw new ValidationError(`snapshot.percentage must be 0 while status is '${status}', got ${percentage}`);
    }
    const stepIndex = stepIndexOf(steps, percentage);
    if (record.stepIndex !== stepIndex) {
      throw new ValidationError(`snapshot.stepIndex must be ${stepIndex} for ${percentage} % on steps [${steps.join(', ')}], got ${describeValue(record.stepIndex)}`);
    }
    const history = checkArray('snapshot.history', record.history).map((entry, i) => restoreHistoryEntry(`snapshot.history[${i}]`, entry));

    this.#rolloutName = name;
    this.#salt = salt;
    this.#hashVersion = record.hashVersion as HashVersion;
    this.#hash = hash;
    this.#rolloutSteps = steps;
    this.#stable = stable;
    this.#canary = canary;
    this.#percentage = percentage;
    this.#status = status;
    this.#history = history.slice(Math.max(0, history.length - this.#historyLimit));
    this.#refresh();
    this.emit('restored', { at: this.#clock() });
  }

  #routeForced(force: string): Assignment {
    if (force === 'stable') return this.#forcedStable;
    if (force === 'canary') {
      if (this.#forcedCanary === undefined) throw new InvalidStateError('cannot route to the canary: there is none (start(stable, canary) first)');
      return this.#forcedCanary;
    }
    throw new ValidationError(`force must be 'stable' or 'canary', got ${describeValue(force)}`);
  }

  #requireStatus(action: CanaryAction, allowed: readonly CanaryStatus[], hint: string): void {
    if (!allowed.includes(this.#status)) {
      throw new InvalidStateError(
        `cannot ${action}() while status is '${this.#status}' (allowed from ${allowed.map((s) => `'${s}'`).join(', ')}): ${hint}`,
      );
    }
  }

  #stepTo(to: number, action: 'increase' | 'setPercentage'): void {
    const from = this.#percentage;
    this.#percentage = to;
    const at = this.#transition(action, undefined);
    this.emit('stepped', { from, to, stepIndex: stepIndexOf(this.#rolloutSteps, to), action, at });
  }

  #endSplit(status: 'idle' | 'rolledBack', action: 'rollback' | 'abort', event: 'rolledBack' | 'aborted', reason: string | undefined): void {
    const fromPercentage = this.#percentage;
    this.#percentage = 0;
    this.#status = status;
    const at = this.#transition(action, reason);
    this.emit(event, { stable: this.#stable, canary: this.#canary as number, fromPercentage, reason, at });
  }

  /** Records the transition just applied, re-derives the routing table, and returns its time. */
  #transition(action: CanaryAction, reason: string | undefined): number {
    const at = this.#clock();
    if (this.#historyLimit > 0) {
      if (this.#history.length >= this.#historyLimit) this.#history.shift();
      this.#history.push({ at, action, status: this.#status, percentage: this.#percentage, stable: this.#stable, canary: this.#canary, reason });
    }
    this.#refresh();
    return at;
  }

  #refresh(): void {
    const stable = this.#stable, canary = this.#canary, status = this.#status;
    this.#splitting = status === 'progressing' || status === 'paused';
    this.#threshold = this.#percentage / 100;
    const settledReason = status === 'rolledBack' ? 'rollback' : status === 'promoted' ? 'promoted' : 'static';
    const share = this.#threshold;
    this.#settled = Object.freeze({ version: stable, variant: 'stable', reason: settledReason, propensity: 1 });
    this.#stableByHash = Object.freeze({ version: stable, variant: 'stable', reason: 'hash', propensity: 1 - share });
    this.#stableByRandom = Object.freeze({ version: stable, variant: 'stable', reason: 'random', propensity: 1 - share });
    this.#forcedStable = Object.freeze({ version: stable, variant: 'stable', reason: 'forced', propensity: 1 });
    this.#fallbackAssignment = Object.freeze({ version: stable, variant: 'stable', reason: 'fallback', propensity: 1 });
    const canaryVersion = canary ?? stable;
    this.#canaryByHash = Object.freeze({ version: canaryVersion, variant: 'canary', reason: 'hash', propensity: share });
    this.#canaryByRandom = Object.freeze({ version: canaryVersion, variant: 'canary', reason: 'random', propensity: share });
    this.#forcedCanary = canary === undefined ? undefined : Object.freeze({ version: canary, variant: 'canary', reason: 'forced', propensity: 1 });
  }
}

function restoreHistoryEntry(name: string, value: unknown): CanaryHistoryEntry {
  const entry = checkRecord(name, value);
  const reason = entry.reason;
  if (reason !== null && typeof reason !== 'string') {
    throw new ValidationError(`${name}.reason must be a string or null, got ${describeValue(reason)}`);
  }
  return {
    at: checkNumber(`${name}.at`, entry.at),
    action: checkOneOf(`${name}.action`, entry.action, ACTIONS),
    status: checkOneOf(`${name}.status`, entry.status, CANARY_STATUSES),
    percentage: checkPercentage(`${name}.percentage`, entry.percentage),
    stable: checkVersion(`${name}.stable`, entry.stable),
    canary: checkOptionalVersion(`${name}.canary`, entry.canary),
    reason: reason ?? undefined,
  };
}
