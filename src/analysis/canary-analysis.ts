import { InvalidStateError } from '../errors.js';
import type { CanaryDeployment, CanaryStartedEvent, CanarySteppedEvent } from '../routing/canary.js';
import { AnalysisController, checkBinding, steer, type AnalysisBinding, type AnalysisEngine, type AnalysisTarget } from './analysis-controller.js';
import type { AnalysisOptions } from './options.js';

/** Options of {@link CanaryAnalysis}: the monitor it reads (required), its clock, and the analysis itself. */
export type CanaryAnalysisOptions = AnalysisBinding & AnalysisOptions;

/**
 * Automated analysis composed around a {@link CanaryDeployment}, which knows nothing of it: each
 * run judges the canary's rolling-window numbers against absolute limits and, with `relative`,
 * against the stable version's own live numbers (or, with `method: 'evidence'`, everything both
 * versions served since the step began by always-valid non-inferiority tests), then
 * - `successful` ×`consecutiveSuccessLimit` → asks `gates.beforeStep` and `increase()`s to the
 *   next step, or after the last step asks `gates.beforePromote` and `promote()`s;
 * - `failed` past `failureLimit` (or `error` past `consecutiveErrorLimit`) → `rollback()`;
 * - `inconclusive` past `inconclusiveLimit` → `pause()` and `needsAttention`;
 * - anything else → `held`.
 * Counters start again at every step, start, resume, promotion, rollback or `restore()` (the last
 * with a `countersReset` event). One `CanaryAnalysis` per canary: `dispose()` it before another.
 *
 * @example
 * ```ts
 * const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [5, 25, 50, 100] });
 * const analysis = new CanaryAnalysis(canary, { monitor, minRequests: 200, maxErrorRate: 0.02, relative: { maxLatencyRatio: 1.2 } });
 * canary.on('rolledBack', (e) => log.warn(e));
 * analysis.on('analysis', (r) => log.info(r));
 * canary.start();
 * analysis.start(); // every 60 s until promoted or rolled back
 * ```
 */
export class CanaryAnalysis extends AnalysisController {
  /** The canary this analysis drives. */
  readonly canary: CanaryDeployment;

  readonly #engine: AnalysisEngine;

  constructor(canary: CanaryDeployment, options: CanaryAnalysisOptions) {
    const { monitor, clock, ...analysis } = checkBinding(options);
    super('analysis', canary, 'canary', { monitor, clock }, analysis);
    this.canary = canary;
    const engine = steer(this, { target: () => this.#target(), ready: () => this.#ready(), finished: () => this.#finished() });
    this.#engine = engine;
    for (const event of ['started', 'stepped', 'resumed', 'promoted', 'rolledBack', 'aborted'] as const) engine.follow(event, engine.resetCounters);
    // One evidence window per step, so load that changes over time hits both versions in the same
    // proportion; α is split over the steps below 100 % so the guarantee covers the whole rollout.
    // A step to 100 % keeps the previous window: the stable version gets no traffic to compare with.
    const share = () => 1 / Math.max(1, canary.steps.filter((step) => step < 100).length);
    engine.follow('started', (event) => {
      const { canary: candidate, stable } = event as CanaryStartedEvent;
      engine.startEvidence(candidate, stable, share());
    });
    engine.follow('stepped', (event) => {
      const { stable, canary: candidate } = canary.state;
      if ((event as CanarySteppedEvent).to < 100 && candidate !== undefined) engine.startEvidence(candidate, stable, share());
    });
  }

  #target(): AnalysisTarget {
    const canary = this.canary;
    const { status, stable, canary: candidate, percentage } = canary.state;
    if (status !== 'progressing' || candidate === undefined) {
      throw new InvalidStateError(`cannot analyze() a canary whose status is '${status}': start() or resume() it first`);
    }
    const next = canary.steps.find((step) => step > percentage);
    const current = () => {
      const now = canary.state;
      return now.status === 'progressing' && now.canary === candidate && now.percentage === percentage;
    };
    const { beforeStep, beforePromote } = this.#engine.settings.gates;
    return {
      phase: 'canary',
      candidate,
      baseline: stable,
      percentage,
      onSuccess:
        next === undefined
          ? { decision: 'promote', gate: beforePromote, action: 'promote', nextPercentage: 100, act: (reason) => canary.promote(reason) }
          : { decision: 'advance', gate: beforeStep, action: 'step', nextPercentage: next, act: () => canary.increase() },
      onFailure: { decision: 'rollback', act: (reason) => canary.rollback(reason) },
      onNeedsAttention: { act: (reason) => canary.pause(reason) },
      current,
    };
  }

  #ready(): boolean {
    return this.canary.state.status === 'progressing';
  }

  #finished(): boolean {
    const { status } = this.canary.state;
    return status === 'promoted' || status === 'rolledBack';
  }
}
