import { InvalidStateError, ValidationError, describeValue } from '../errors.js';
import type { BlueGreenSwitch } from '../routing/blue-green.js';
import type { CanaryDeployment } from '../routing/canary.js';
import type { AnalysisBinding, AnalysisEvents } from './analysis-controller.js';
import { BlueGreenAnalysis } from './blue-green-analysis.js';
import { CanaryAnalysis, type CanaryAnalysisOptions } from './canary-analysis.js';
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
