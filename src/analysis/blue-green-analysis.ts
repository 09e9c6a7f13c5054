import { InvalidStateError, ValidationError, describeValue } from '../errors.js';
import type { BlueGreenDeployedEvent, BlueGreenSwitch, BlueGreenSwitchedEvent } from '../routing/blue-green.js';
import { AnalysisController, checkBinding, steer, type AnalysisBinding, type AnalysisEngine, type AnalysisTarget } from './analysis-controller.js';
import type { AnalysisOptions } from './options.js';
import type { AnalysisCounters } from './types.js';

/** 1 µs: far below any meaningful interval, far above float error at epoch-ms magnitudes. */
const INTERVAL_TOLERANCE_MS = 1e-3;

/** Which of Argo's two blue-green analyses a {@link BlueGreenAnalysis} runs. */
export type BlueGreenPhase = 'prePromotion' | 'postPromotion';

/**
 * A blue-green phase's counters as plain data, and, once the phase ended without a transition of
 * the switch (a preview refused, a switch verified), which pair it ended for: the switch's state
 * still shows that pair pending, and `ended` says it is not.
 */
export interface BlueGreenPhaseCounters extends AnalysisCounters {
  ended?: { candidate: number; baseline: number };
}

/**
 * One of Argo Rollouts' blue-green analyses, composed around a {@link BlueGreenSwitch} that knows
 * nothing of it (`blueGreenAnalysis()` composes both at once):
 *
 * - `'prePromotion'`: after `deploy()`, judges the idle slot on the preview traffic it gets
 *   (`route({ preview: true })`) against the active version. Success (and `gates.beforePromote`)
 *   → `switch()`; failure → the switch is refused (`promotionAborted`), the active slot keeps
 *   serving and nothing is judged again until the next `deploy()`.
 * - `'postPromotion'`: after `switch()`, judges the new active version against the one it
 *   replaced (whose lifetime numbers stand in once it has no traffic). Success → `promotionVerified`
 *   and the phase ends; failure → `rollback()`, everyone back on the previous version.
 *
 * A `restore()` of the switch re-reads which phase is pending and starts the counters afresh
 * (`countersReset`). One analysis per phase per switch: `dispose()` it before another.
 * Past `inconclusiveLimit` either phase emits `needsAttention` and stops its loop until started again.
 * `start()`'s loop judges a phase only once a full `intervalMs` has passed since it began, so a
 * post-promotion run never reads traffic from before the switch (keep the monitor's `windowMs` at
 * most `intervalMs` for that to hold for the whole window).
 *
 * @example
 * ```ts
 * const bg = new BlueGreenSwitch({ blue: 1 });
 * const post = new BlueGreenAnalysis(bg, 'postPromotion', { monitor, minRequests: 500, maxErrorRate: 0.01 });
 * bg.deploy(2);
 * bg.switch();
 * post.start(); // rolls back to v1 on its own if v2 fails
 * ```
 */
export class BlueGreenAnalysis extends AnalysisController {
  /** The switch this analysis drives. */
  readonly policy: BlueGreenSwitch;
  /** Which analysis this is. */
  readonly phase: BlueGreenPhase;
  readonly #engine: AnalysisEngine;
  /** The version being judged and the one it is judged against, while the phase is pending. */
  #pending: { candidate: number; baseline: number } | undefined;
  /** When the pending phase began: the loop judges it only after a full interval of its own traffic. */
  #since = Number.NEGATIVE_INFINITY;
  /** The pair this phase ended for (refused or verified) while the switch's state still shows it pending. */
  #ended: { candidate: number; baseline: number } | undefined;

  constructor(policy: BlueGreenSwitch, phase: BlueGreenPhase, options: AnalysisBinding & AnalysisOptions) {
    const { monitor, clock, ...analysis } = checkBinding(options);
    super(`${phase}Analysis`, policy, phase, { monitor, clock }, analysis);
    const engine = steer(this, {
      target: () => this.#target(),
      ready: () => this.#ready(),
      finished: () => false,
      restored: () => this.#restored(),
    });
    this.#engine = engine;
    if (engine.settings.evidence !== undefined) {
      // The evidence tests compare two versions serving the same population at the same time; a
      // switch has no such split (preview traffic is chosen, and after the switch the previous
      // version serves nothing), so they would compare unlike with unlike.
      this.dispose(); // let go of the switch: nothing was composed
      throw new ValidationError(
        `${phase}Analysis.method 'evidence' needs a canary's concurrent split of the same traffic; a blue-green switch has none, got method 'evidence'`,
      );
    }
    this.policy = policy;
    this.phase = phase;
    this.#pending = this.#pendingInState();
    if (phase === 'prePromotion') {
      engine.follow('deployed', (e) => this.#begin({ candidate: (e as BlueGreenDeployedEvent).version, baseline: this.policy.state.activeVersion }));
      engine.follow('switched', () => this.#end());
    } else {
      engine.follow('switched', (e) => {
        const { toVersion, fromVersion } = e as BlueGreenSwitchedEvent;
        this.#begin({ candidate: toVersion, baseline: fromVersion });
      });
      engine.follow('deployed', () => this.#end());
    }
    engine.follow('rolledBack', () => this.#end());
  }

  /** Whether this phase has a version to judge now. */
  get active(): boolean {
    return this.#pending !== undefined;
  }

  /**
   * The phase's counters, and `ended` once it ended without a transition of the switch (a preview
   * refused by `promotionAborted`, a switch verified by `promotionVerified`): plain data, storable
   * beside the switch's snapshot, so a replica restoring both does not open the ended phase again.
   */
  override get counters(): Readonly<BlueGreenPhaseCounters> {
    const ended = this.#ended;
    return ended === undefined ? super.counters : { ...super.counters, ended: { ...ended } };
  }

  /**
   * Carries on from stored counters (as {@link BlueGreenAnalysis.counters} gave them): the counts,
   * and whether the phase ended for the pair the switch shows pending (`ended`; without it the
   * phase is pending whenever the switch's state says so). A bad value is a `ValidationError` and
   * changes nothing.
   */
  override restoreCounters(counters: BlueGreenPhaseCounters): void {
    const ended = checkPhaseEnded((counters as Partial<BlueGreenPhaseCounters> | null)?.ended);
    super.restoreCounters(counters);
    this.#ended = ended;
    const pending = this.#pendingInState();
    if (!samePair(pending, this.#pending)) {
      this.#pending = pending;
      this.#since = pending === undefined ? Number.NEGATIVE_INFINITY : this.#engine.now();
    }
  }

  #target(): AnalysisTarget {
    const pending = this.#pending;
    if (pending === undefined) {
      throw new InvalidStateError(
        this.phase === 'prePromotion'
          ? 'cannot analyze() before promotion: no version is waiting in the idle slot (deploy(version) first)'
          : 'cannot analyze() after promotion: there is no switch() being verified',
      );
    }
    const current = () => this.#pending === pending;
    const policy = this.policy;
    if (this.phase === 'prePromotion') {
      return {
        phase: 'prePromotion',
        ...pending,
        percentage: 0,
        onSuccess: {
          decision: 'promote',
          gate: this.#engine.settings.gates.beforePromote,
          action: 'promote',
          nextPercentage: 100,
          act: (reason) => policy.switch(reason),
        },
        onFailure: {
          decision: 'abort',
          act: (_reason, report) => {
            this.#ended = pending;
            this.#end();
            this.emit('promotionAborted', report);
          },
        },
        onNeedsAttention: { act: () => this.#halt() },
        current,
      };
    }
    return {
      phase: 'postPromotion',
      ...pending,
      percentage: 100,
      onSuccess: {
        decision: 'complete',
        gate: undefined,
        action: 'promote',
        nextPercentage: 100,
        act: (_reason, report) => {
          this.#ended = pending;
          this.#end();
          this.emit('promotionVerified', report);
        },
      },
      onFailure: { decision: 'rollback', act: (reason) => policy.rollback(reason) },
      onNeedsAttention: { act: () => this.#halt() },
      current,
    };
  }

  #ready(): boolean {
    // A switch made by the pre-promotion run would otherwise be judged by the post-promotion loop at
    // the same tick, on traffic from before the switch.
    // The tolerance absorbs float error in fractional clocks: without it a tick landing exactly one
    // interval after the phase began can read as a hair short and skip a whole interval.
    return this.#pending !== undefined && this.#engine.now() - this.#since >= this.intervalMs - INTERVAL_TOLERANCE_MS;
  }

  /**
   * What the switch's state says is pending for this phase: pre-promotion while a version waits in
   * the idle slot with no switch to undo (a switch built or restored with both slots filled),
   * post-promotion while the last switch can still be rolled back — unless this phase ended for
   * that pair (refused, verified).
   */
  #pendingInState(): { candidate: number; baseline: number } | undefined {
    const { activeVersion, idleVersion, canRollback } = this.policy.state;
    if (idleVersion === undefined) return undefined;
    const pending = this.phase === 'prePromotion'
      ? canRollback ? undefined : { candidate: idleVersion, baseline: activeVersion }
      : canRollback ? { candidate: activeVersion, baseline: idleVersion } : undefined;
    return samePair(pending, this.#ended) ? undefined : pending;
  }

  /** A `restore()` of the switch: re-read which phase is pending (the engine restarts the counters). */
  #restored(): void {
    this.#pending = this.#pendingInState();
    this.#since = this.#pending === undefined ? Number.NEGATIVE_INFINITY : this.#engine.now();
  }

  #begin(pending: { candidate: number; baseline: number }): void {
    this.#pending = pending;
    this.#ended = undefined;
    this.#since = this.#engine.now();
    this.#engine.resetCounters();
  }

  #end(): void {
    this.#pending = undefined;
    this.#engine.resetCounters();
  }

  #halt(): void {
    this.stop();
    this.#engine.resetCounters();
  }
}

function samePair(a: { candidate: number; baseline: number } | undefined, b: { candidate: number; baseline: number } | undefined): boolean {
  return a !== undefined && b !== undefined && a.candidate === b.candidate && a.baseline === b.baseline;
}

/** A stored `ended` record: absent, or both versions as numbers. @internal */
export function checkPhaseEnded(value: unknown): { candidate: number; baseline: number } | undefined {
  if (value === undefined || value === null) return undefined;
  const record = value as { candidate?: unknown; baseline?: unknown };
  if (typeof value !== 'object' || typeof record.candidate !== 'number' || typeof record.baseline !== 'number') {
    throw new ValidationError(`counters.ended must be { candidate, baseline } (the versions of the phase that ended) or absent, got ${describeValue(value)}`);
  }
  return { candidate: record.candidate, baseline: record.baseline };
}
