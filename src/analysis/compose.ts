import { InvalidStateError, ValidationError, describeValue } from '../errors.js';
import type { BlueGreenSwitch } from '../routing/blue-green.js';
import type { CanaryDeployment } from '../routing/canary.js';
import type { AnalysisBinding, AnalysisEvents } from './analysis-controller.js';
import { BlueGreenAnalysis, type BlueGreenPhase, type BlueGreenPhaseCounters, checkPhaseEnded } from './blue-green-analysis.js';
import { CanaryAnalysis, type CanaryAnalysisOptions } from './canary-analysis.js';
import { checkAnalysisCounters } from './counters.js';
import type { AnalysisOptions } from './options.js';
import type { AnalysisReport } from './types.js';

/**
 * Composes an automated analysis around a canary in one call: the canary stays a pure state
 * machine, and the analysis reads `monitor` (required) and steers it. The same as
 * `new CanaryAnalysis(canary, options)`.
 *
 * @example
 * ```ts
 * const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [5, 25, 50, 100] });
 * const analysis = canaryAnalysis(canary, { monitor, minRequests: 200, maxErrorRate: 0.02 });
 * canary.start();
 * analysis.start(); // every 60 s until promoted or rolled back
 * ```
 */
export function canaryAnalysis(canary: CanaryDeployment, options: CanaryAnalysisOptions): CanaryAnalysis {
  return new CanaryAnalysis(canary, options);
}

/** Options of {@link blueGreenAnalysis}: the monitor (required), the clock, and at least one phase. */
export interface BlueGreenAnalysisOptions extends AnalysisBinding {
  /** Argo's pre-promotion analysis: after `deploy()`, judge the idle slot on its preview traffic; success `switch()`es, failure refuses the switch. */
  prePromotion?: AnalysisOptions;
  /** Argo's post-promotion analysis: after `switch()`, judge the new active version; success emits `promotionVerified`, failure `rollback()`s. */
  postPromotion?: AnalysisOptions;
}

/**
 * Counters of both phases of a {@link BlueGreenAnalyses}, as plain data (what fleet mode stores
 * in the deployment state and hands on through the lease).
 */
export interface BlueGreenAnalysesCounters {
  /** The phase that was pending when the counters were read, or `null` when neither was. */
  active: BlueGreenPhase | null;
  /** The pre-promotion phase's counters (with `ended` once a preview was refused), or `null` when that phase is not configured. */
  prePromotion: BlueGreenPhaseCounters | null;
  /** The post-promotion phase's counters (with `ended` once a switch was verified), or `null` when that phase is not configured. */
  postPromotion: BlueGreenPhaseCounters | null;
}

/** The analyses {@link blueGreenAnalysis} composed around one switch, driven as one. */
export interface BlueGreenAnalyses {
  readonly prePromotion: BlueGreenAnalysis | undefined;
  readonly postPromotion: BlueGreenAnalysis | undefined;
  /** The phases configured, pre-promotion first. */
  readonly phases: readonly BlueGreenAnalysis[];
  /** Whether a loop started by `start()` is running. */
  readonly running: boolean;
  /** Never: a blue-green switch has no final state, so a loop runs until stopped. */
  readonly settled: boolean;
  /** Both phases' counters and which phase is pending: plain data, storable beside the switch's snapshot. */
  readonly counters: BlueGreenAnalysesCounters;
  /**
   * Carries on counting from stored counters (as {@link BlueGreenAnalyses.counters} gave them),
   * e.g. when another replica of a fleet takes over the analysis mid-phase: each phase's counters
   * go back to that phase, and a phase that had ended (a preview refused, a switch verified) stays
   * ended. A record that is not such counters, names a phase that is not configured, or was taken
   * while another phase was pending than the one that is pending once it is restored is a
   * `ValidationError` and changes nothing.
   */
  restoreCounters(counters: BlueGreenAnalysesCounters): void;
  /** Runs the pending phase's analysis now (pre-promotion while a version waits, post-promotion after a switch); `InvalidStateError` when none is pending. */
  analyze(): Promise<AnalysisReport>;
  /** Starts every phase's loop: each judges its phase whenever it is pending. */
  start(): void;
  /** Stops every phase's loop. */
  stop(): void;
  /** Stops and lets go of the switch. */
  dispose(): void;
  /** Listens to `event` of every phase. */
  on<E extends keyof AnalysisEvents>(event: E, listener: AnalysisEvents[E]): BlueGreenAnalyses;
  /** Stops listening to `event` of every phase. */
  off<E extends keyof AnalysisEvents>(event: E, listener: AnalysisEvents[E]): BlueGreenAnalyses;
}

/**
 * Composes Argo's blue-green analyses around a switch in one call: a {@link BlueGreenAnalysis} per
 * phase given, reading `monitor` (required), driven together.
 *
 * @example
 * ```ts
 * const bg = new BlueGreenSwitch({ blue: 1 });
 * const analyses = blueGreenAnalysis(bg, {
 *   monitor,
 *   prePromotion: { minRequests: 200, maxErrorRate: 0.02 },
 *   postPromotion: { minRequests: 500, maxErrorRate: 0.01 },
 * });
 * analyses.on('promotionAborted', (report) => log.warn(report));
 * bg.deploy(2);
 * analyses.start(); // switches once the preview passes, rolls back if the switch then fails
 * ```
 */
export function blueGreenAnalysis(bg: BlueGreenSwitch, options: BlueGreenAnalysisOptions): BlueGreenAnalyses {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(`options must be an object with monitor and prePromotion or postPromotion, got ${describeValue(options)}`);
  }
  const { prePromotion, postPromotion, ...binding } = options;
  if (prePromotion === undefined && postPromotion === undefined) {
    throw new ValidationError('blueGreenAnalysis needs prePromotion or postPromotion analysis options, got neither');
  }
  const pre = prePromotion === undefined ? undefined : new BlueGreenAnalysis(bg, 'prePromotion', { ...binding, ...prePromotion });
  let post: BlueGreenAnalysis | undefined;
  try {
    post = postPromotion === undefined ? undefined : new BlueGreenAnalysis(bg, 'postPromotion', { ...binding, ...postPromotion });
  } catch (error) {
    pre?.dispose();
    throw error;
  }
  const phases = [pre, post].filter((phase): phase is BlueGreenAnalysis => phase !== undefined);
  const analyses: BlueGreenAnalyses = {
    prePromotion: pre,
    postPromotion: post,
    phases,
    get running() {
      return phases.some((phase) => phase.running);
    },
    settled: false,
    get counters() {
      return {
        active: phases.find((phase) => phase.active)?.phase ?? null,
        prePromotion: pre === undefined ? null : pre.counters,
        postPromotion: post === undefined ? null : post.counters,
      };
    },
    restoreCounters(counters) {
      const restored = checkBlueGreenCounters(counters, pre, post);
      const previous = analyses.counters;
      const restore = (from: BlueGreenAnalysesCounters) => {
        if (from.prePromotion !== null) pre?.restoreCounters(from.prePromotion);
        if (from.postPromotion !== null) post?.restoreCounters(from.postPromotion);
      };
      // Which phase is pending depends on the ends restored with it: restore, then check, and put the previous back on a mismatch.
      restore(restored);
      const active = phases.find((phase) => phase.active)?.phase ?? null;
      if (restored.active !== active) {
        restore(previous);
        throw new ValidationError(`counters.active must be the phase pending now (${describeValue(active)}): counters taken while another phase was pending count something else, got ${describeValue(restored.active)}`);
      }
    },
    analyze() {
      const pending = phases.find((phase) => phase.active);
      if (pending === undefined) {
        return Promise.reject(new InvalidStateError('cannot analyze(): nothing is pending (deploy() a version or switch() first)'));
      }
      return pending.analyze();
    },
    start: () => phases.forEach((phase) => phase.start()),
    stop: () => phases.forEach((phase) => phase.stop()),
    dispose: () => phases.forEach((phase) => phase.dispose()),
    on(event, listener) {
      for (const phase of phases) phase.on(event, listener as never);
      return analyses;
    },
    off(event, listener) {
      for (const phase of phases) phase.off(event, listener as never);
      return analyses;
    },
  };
  return analyses;
}

/** Checks stored two-phase counters against the phases configured; returns a checked copy. */
function checkBlueGreenCounters(value: unknown, pre: BlueGreenAnalysis | undefined, post: BlueGreenAnalysis | undefined): BlueGreenAnalysesCounters {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(`counters must be an object with active, prePromotion and postPromotion, got ${describeValue(value)}`);
  }
  const record = value as Partial<Record<keyof BlueGreenAnalysesCounters, unknown>>;
  const configured = { prePromotion: pre !== undefined, postPromotion: post !== undefined };
  const active = record.active;
  if (active !== null && !(active === 'prePromotion' || active === 'postPromotion')) {
    throw new ValidationError(`counters.active must be 'prePromotion', 'postPromotion' or null, got ${describeValue(active)}`);
  }
  const phaseCounters = (phase: BlueGreenPhase): BlueGreenPhaseCounters | null => {
    const counters = record[phase];
    if (!configured[phase]) {
      if (counters !== null && counters !== undefined) throw new ValidationError(`counters.${phase} must be null: that phase is not configured, got ${describeValue(counters)}`);
      return null;
    }
    try {
      const ended = checkPhaseEnded((counters as Partial<BlueGreenPhaseCounters> | undefined)?.ended);
      return ended === undefined ? checkAnalysisCounters(counters) : { ...checkAnalysisCounters(counters), ended };
    } catch (error) {
      throw new ValidationError((error as Error).message.replace(/^counters\./, `counters.${phase}.`), { cause: error });
    }
  };
  return { active, prePromotion: phaseCounters('prePromotion'), postPromotion: phaseCounters('postPromotion') };
}
