import { EventEmitter } from 'eventemitter3';
import { InvalidStateError, ValidationError, describeValue } from '../errors.js';
import { checkOneOf, checkVersion, type Clock } from '../options.js';
import { checkOptionalVersion, checkOptions, checkReason, snapshotRecord, timeAndChance } from './checks.js';
import type { Assignment, PolicyRestoredEvent, PolicyTraffic, RouteContext, RoutingPolicy } from './policy.js';

/** The two slots of a {@link BlueGreenSwitch}. */
export type BlueGreenSlot = 'blue' | 'green';

const SLOTS: readonly BlueGreenSlot[] = ['blue', 'green'];

function other(slot: BlueGreenSlot): BlueGreenSlot {
  return slot === 'blue' ? 'green' : 'blue';
}

/** Options of {@link BlueGreenSwitch}. */
export interface BlueGreenSwitchOptions {
  /** Version in the blue slot (may be empty unless blue is active). */
  blue?: number;
  /** Version in the green slot (may be empty unless green is active). */
  green?: number;
  /** The slot that serves traffic (default `'blue'`); it must hold a version. */
  active?: BlueGreenSlot;
  /** Time source for event timestamps, in ms (default `Date.now`). */
  clock?: Clock;
}

/** What a {@link BlueGreenSwitch} holds now. */
export interface BlueGreenState {
  active: BlueGreenSlot;
  blue: number | undefined;
  green: number | undefined;
  /** Version in the active slot: what every request gets. */
  activeVersion: number;
  /** Version in the idle slot, served only to `preview` requests; `undefined` when empty. */
  idleVersion: number | undefined;
  /** Whether {@link BlueGreenSwitch.rollback} can undo the last switch. */
  canRollback: boolean;
}

/** Payload of the `deployed` event. */
export interface BlueGreenDeployedEvent {
  slot: BlueGreenSlot;
  version: number;
  /** Version the idle slot held before, if any. */
  replaced: number | undefined;
  at: number;
}

/** Payload of the `switched` and `rolledBack` events. */
export interface BlueGreenSwitchedEvent {
  from: BlueGreenSlot;
  to: BlueGreenSlot;
  fromVersion: number;
  toVersion: number;
  /** Why, when the caller said (e.g. an analysis verdict). */
  reason: string | undefined;
  at: number;
}

/**
 * Events of {@link BlueGreenSwitch}: one per transition. Pre- and post-promotion analyses composed
 * around the switch (`blueGreenAnalysis(bg, …)`) emit their own.
 */
export interface BlueGreenSwitchEvents {
  /** {@link BlueGreenSwitch.deploy} put a version in the idle slot. */
  deployed: (event: BlueGreenDeployedEvent) => void;
  /** {@link BlueGreenSwitch.switch} made the idle slot active. */
  switched: (event: BlueGreenSwitchedEvent) => void;
  /** {@link BlueGreenSwitch.rollback} made the previously active slot active again. */
  rolledBack: (event: BlueGreenSwitchedEvent) => void;
  /** {@link BlueGreenSwitch.restore} replaced the state with a snapshot. */
  restored: (event: PolicyRestoredEvent) => void;
}

/** JSON-safe state of a {@link BlueGreenSwitch}. */
export interface BlueGreenSnapshot {
  policy: 'blue-green';
  specVersion: 1;
  active: BlueGreenSlot;
  blue: number | null;
  green: number | null;
  /** The slot a rollback returns to, or `null` when there is no switch to undo. */
  rollbackTo: BlueGreenSlot | null;
}

/**
 * Two slots, one active: every request goes to the active slot, the idle one can be verified
 * with `preview` requests, and `switch()` flips all traffic at once (Argo Rollouts' blue-green
 * with its active and preview services). `rollback()` flips back to the slot that was active
 * before the last switch, as long as nothing was deployed over it since.
 *
 * @example
 * ```ts
 * const bg = new BlueGreenSwitch({ blue: 1 });
 * bg.deploy(2);                  // green ← v2, still idle
 * bg.route({ preview: true });   // { version: 2, variant: 'green', reason: 'preview' }
 * bg.switch();                   // everyone on v2
 * bg.rollback();                 // everyone back on v1
 * ```
 */
export class BlueGreenSwitch extends EventEmitter<BlueGreenSwitchEvents> implements RoutingPolicy {
  readonly #clock: Clock;
  readonly #slots: Record<BlueGreenSlot, number | undefined> = { blue: undefined, green: undefined };
  #active: BlueGreenSlot;
  #rollbackTo: BlueGreenSlot | undefined;
  #activeAssignment!: Readonly<Assignment>;
  #previewAssignment: Readonly<Assignment> | undefined;
  #forced!: Record<BlueGreenSlot, Readonly<Assignment> | undefined>;
  #fallbackAssignment!: Readonly<Assignment>;

  constructor(options: BlueGreenSwitchOptions) {
    super();
    const opts = checkOptions<BlueGreenSwitchOptions>('BlueGreenSwitch', options);
    this.#clock = timeAndChance(opts).clock;
    this.#slots.blue = opts.blue === undefined ? undefined : checkVersion('blue', opts.blue);
    this.#slots.green = opts.green === undefined ? undefined : checkVersion('green', opts.green);
    this.#active = opts.active === undefined ? 'blue' : checkOneOf('active', opts.active, SLOTS);
    if (this.#slots[this.#active] === undefined) {
      throw new ValidationError(`${this.#active} must hold a version because it is the active slot, got undefined`);
    }
    this.#refresh();
  }

  /** The slots, which is active, and whether a rollback is possible. */
  get state(): BlueGreenState {
    const activeVersion = this.#slots[this.#active] as number;
    return {
      active: this.#active,
      blue: this.#slots.blue,
      green: this.#slots.green,
      activeVersion,
      idleVersion: this.#slots[other(this.#active)],
      canRollback: this.#rollbackTo !== undefined,
    };
  }

  /**
   * The active slot (reason `'active'`); `ctx.preview` asks for the idle slot (reason `'preview'`),
   * `ctx.force` for a slot by name (reason `'forced'`). Asking for an empty slot is an
   * `InvalidStateError`, an unknown slot name a `ValidationError`.
   */
  route(ctx?: RouteContext): Assignment {
    if (ctx === undefined) return this.#activeAssignment;
    if (ctx.force !== undefined) {
      if (ctx.force !== 'blue' && ctx.force !== 'green') {
        throw new ValidationError(`force must be 'blue' or 'green', got ${describeValue(ctx.force)}`);
      }
      const forced = this.#forced[ctx.force];
      if (forced === undefined) throw new InvalidStateError(`cannot route to slot ${ctx.force}: it is empty; deploy(version) first`);
      return forced;
    }
    if (ctx.preview === true) {
      if (this.#previewAssignment === undefined) {
        throw new InvalidStateError(`cannot route to the preview slot ${other(this.#active)}: it is empty; deploy(version) first`);
      }
      return this.#previewAssignment;
    }
    return this.#activeAssignment;
  }

  /** The active slot, reason `'fallback'`. */
  fallback(): Assignment {
    return this.#fallbackAssignment;
  }

  /** The active slot with share 1 and, when it holds a version, the idle (preview) slot with share 0. */
  traffic(): PolicyTraffic[] {
    const activeVersion = this.#slots[this.#active] as number;
    const idle = other(this.#active);
    const idleVersion = this.#slots[idle];
    const traffic: PolicyTraffic[] = [{ version: activeVersion, variant: this.#active, share: 1 }];
    if (idleVersion !== undefined) traffic.push({ version: idleVersion, variant: idle, share: 0 });
    return traffic;
  }

  /**
   * Puts `version` in the idle slot (replacing what it held) and emits `deployed`. The idle slot
   * held the previously active version after a switch, so a deploy ends the chance to roll back.
   */
  deploy(version: number): void {
    const checked = checkVersion('version', version);
    const slot = other(this.#active);
    const replaced = this.#slots[slot];
    this.#slots[slot] = checked;
    this.#rollbackTo = undefined;
    this.#refresh();
    this.emit('deployed', { slot, version: checked, replaced, at: this.#clock() });
  }

  /**
   * Makes the idle slot active, atomically for every later `route()`, and emits `switched`.
   * An empty idle slot is an `InvalidStateError` and changes nothing.
   */
  switch(reason?: string): void {
    const why = checkReason(reason);
    const from = this.#active;
    const to = other(from);
    const toVersion = this.#slots[to];
    if (toVersion === undefined) {
      throw new InvalidStateError(`cannot switch to slot ${to}: it is empty; deploy(version) first`);
    }
    const fromVersion = this.#slots[from] as number;
    this.#active = to;
    this.#rollbackTo = from;
    this.#refresh();
    this.emit('switched', { from, to, fromVersion, toVersion, reason: why, at: this.#clock() });
  }

  /**
   * Undoes the last `switch()`: the previously active slot serves again, and `rolledBack` is
   * emitted. Without a switch to undo (none yet, or a `deploy()` or `rollback()` since) it is an
   * `InvalidStateError` and changes nothing.
   */
  rollback(reason?: string): void {
    const why = checkReason(reason);
    const to = this.#rollbackTo;
    if (to === undefined) {
      throw new InvalidStateError(
        'cannot roll back: there is no switch() to undo (none yet, or deploy() or rollback() was called since)',
      );
    }
    const from = this.#active;
    const fromVersion = this.#slots[from] as number;
    const toVersion = this.#slots[to] as number;
    this.#active = to;
    this.#rollbackTo = undefined;
    this.#refresh();
    this.emit('rolledBack', { from, to, fromVersion, toVersion, reason: why, at: this.#clock() });
  }

  snapshot(): BlueGreenSnapshot {
    return {
      policy: 'blue-green',
      specVersion: 1,
      active: this.#active,
      blue: this.#slots.blue ?? null,
      green: this.#slots.green ?? null,
      rollbackTo: this.#rollbackTo ?? null,
    };
  }

  restore(snapshot: unknown): void {
    const record = snapshotRecord(snapshot, 'blue-green');
    const active = checkOneOf('snapshot.active', record.active, SLOTS);
    const blue = checkOptionalVersion('snapshot.blue', record.blue);
    const green = checkOptionalVersion('snapshot.green', record.green);
    const slots = { blue, green };
    if (slots[active] === undefined) {
      throw new ValidationError(`snapshot.${active} must hold a version because it is the active slot, got null`);
    }
    const rollbackTo = record.rollbackTo === null ? undefined : checkOneOf('snapshot.rollbackTo', record.rollbackTo, SLOTS);
    if (rollbackTo !== undefined && (rollbackTo === active || slots[rollbackTo] === undefined)) {
      throw new ValidationError(`snapshot.rollbackTo must be the idle slot holding a version, or null, got '${rollbackTo}'`);
    }
    this.#slots.blue = blue;
    this.#slots.green = green;
    this.#active = active;
    this.#rollbackTo = rollbackTo;
    this.#refresh();
    this.emit('restored', { at: this.#clock() });
  }

  #refresh(): void {
    const make = (slot: BlueGreenSlot, reason: Assignment['reason']): Readonly<Assignment> | undefined => {
      const version = this.#slots[slot];
      return version === undefined ? undefined : Object.freeze({ version, variant: slot, reason, propensity: 1 });
    };
    this.#activeAssignment = make(this.#active, 'active') as Readonly<Assignment>;
    this.#fallbackAssignment = make(this.#active, 'fallback') as Readonly<Assignment>;
    this.#previewAssignment = make(other(this.#active), 'preview');
    this.#forced = { blue: make('blue', 'forced'), green: make('green', 'forced') };
  }
}
