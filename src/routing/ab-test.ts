import { EventEmitter } from 'eventemitter3';
import { InvalidStateError, NotFoundError, ValidationError, describeValue } from '../errors.js';
import { type Clock, type RandomSource } from '../options.js';
import { srmTest } from '../stats/srm.js';
import { addObservation, checkSummary, emptySummary, mergeSummaries, type SampleSummary } from '../stats/summary.js';
import {
  buildExperiment,
  checkLooks,
  checkStatsRecord,
  compareVariants,
  controlOf,
  restoreExperiment,
  snapshotExperiment,
  variantConfigs,
  variantInterval,
  type Experiment,
  type Variant,
} from './ab-test-experiment.js';
import { checkArray, checkNonEmptyString, checkOptions, checkRecord, snapshotRecord, timeAndChance } from './checks.js';
import { chooseBucket } from './hash.js';
import type { Assignment, PolicyTraffic, RouteContext, RoutingPolicy } from './policy.js';
import type {
  ABTestControllerEvents,
  ABTestControllerOptions,
  ABTestSnapshot,
  ConcludedEvent,
  ConclusionDecision,
  ExperimentOptions,
  ExperimentResults,
  ExperimentStats,
} from './ab-test-types.js';

/** The snapshot tag v0.1 wrote, before every policy's tag took the kebab-case style. */
const V01_SNAPSHOT_TAGS = ['ABTestController'] as const;

/**
 * A/B/n experiments between model versions, with statistics a data scientist can sign off:
 * sticky hash assignment with a separate coverage draw, per-variant streaming sufficient statistics
 * (O(1) memory whatever the traffic, mergeable across replicas), Welch's t or the two-proportion
 * z-test, an always-valid sequential mode for dashboards that peek, and a sample-ratio-mismatch
 * check. See `docs/ab-testing.md`.
 *
 * As a router's policy: `controller.policy(name)` is a {@link RoutingPolicy} bound to one
 * experiment; the controller itself routes its default experiment (`defaultExperiment`, else the
 * first created).
 *
 * @example
 * ```ts
 * const ab = new ABTestController();
 * ab.createExperiment('ranker', {
 *   variants: [{ name: 'a', version: 1, weight: 0.8 }, { name: 'b', version: 2, weight: 0.2 }],
 *   metric: { kind: 'binary' },
 *   sequential: true,
 * });
 * const assignment = ab.assign('ranker', 'user-42'); // { version: 1 | 2, variant: 'a' | 'b', reason: 'hash' }
 * ab.logResult('ranker', assignment!.variant, clicked ? 1 : 0);
 * ab.results('ranker').comparisons.b; // { lift, liftCi, pValue, significant, test, … }
 * ```
 */
export class ABTestController extends EventEmitter<ABTestControllerEvents> implements RoutingPolicy {
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #experiments = new Map<string, Experiment>();
  #defaultName: string | undefined;

  constructor(options?: ABTestControllerOptions) {
    super();
    const opts = checkOptions<ABTestControllerOptions>('ABTestController', options);
    ({ clock: this.#clock, random: this.#random } = timeAndChance(opts));
    this.#defaultName = opts.defaultExperiment === undefined ? undefined : checkNonEmptyString('defaultExperiment', opts.defaultExperiment);
  }

  /** Names of the experiments, in creation order. */
  get experimentNames(): string[] {
    return [...this.#experiments.keys()];
  }

  /**
   * Creates an experiment and emits `created`. Duplicate experiment or variant names, fewer than
   * two variants, bad versions and weights that are negative, non-finite or all zero are a
   * `ValidationError`.
   */
  createExperiment(name: string, options: ExperimentOptions): void {
    checkNonEmptyString('name', name);
    if (this.#experiments.has(name)) throw new ValidationError(`experiment '${name}' already exists`);
    const opts = checkOptions<ExperimentOptions>('createExperiment', options);
    const experiment = buildExperiment(name, opts);
    this.#experiments.set(name, experiment);
    this.emit('created', { name, variants: variantConfigs(experiment), control: controlOf(experiment).name, at: this.#clock() });
  }

  /**
   * The variant for one unit, or `null` when the unit is outside the experiment's coverage.
   * With `unitId`: sticky — `hashUnit(salt + '#coverage', unitId) < coverage` decides membership
   * and `hashUnit(salt, unitId)` picks the bucket (reason `'hash'`), the same on every replica.
   * Without: two draws from `random` (reason `'random'`). A unit pinned by `forceVariant` gets its
   * variant (reason `'forced'`); once concluded, everyone gets the winner (reason `'concluded'`).
   * The returned object is frozen and shared.
   */
  assign(name: string, unitId?: string): Assignment | null {
    const e = this.#experiment(name);
    if (e.conclusion !== null) return (e.variants[e.indexByName.get(e.conclusion.winner) as number] as Variant).concluded;
    if (unitId !== undefined) {
      if (e.forced.size > 0) {
        const pinned = e.forced.get(unitId);
        if (pinned !== undefined) return (e.variants[pinned] as Variant).forced;
      }
      if (e.coverage < 1 && !(e.coverageHash(unitId) < e.coverage)) return null;
      const index = chooseBucket(e.variantHash(unitId), e.ranges);
      return (e.variants[index] as Variant).byHash;
    }
    if (e.coverage < 1 && !(this.#random() < e.coverage)) return null;
    return (e.variants[chooseBucket(this.#random(), e.ranges)] as Variant).byRandom;
  }

  /**
   * Pins `unitId` to `variant` for QA (reason `'forced'`), in `experiment` or, without it, in every
   * experiment that has a variant of that name; `null` unpins. Results of pinned units bias the
   * comparison: do not log them. The pins are part of the snapshot.
   */
  forceVariant(unitId: string, variant: string | null, experiment?: string): void {
    checkNonEmptyString('unitId', unitId);
    const targets = experiment === undefined ? [...this.#experiments.values()] : [this.#experiment(experiment)];
    if (variant === null) {
      for (const e of targets) e.forced.delete(unitId);
      return;
    }
    checkNonEmptyString('variant', variant);
    const matching = targets.filter((e) => e.indexByName.has(variant));
    if (matching.length === 0) {
      throw new ValidationError(
        `variant must name a variant of ${experiment === undefined ? 'some experiment' : `experiment '${experiment}'`}, got '${variant}'`,
      );
    }
    for (const e of matching) e.forced.set(unitId, e.indexByName.get(variant) as number);
  }

  /**
   * Records one outcome for `variant`: O(1) time and memory (Welford's update of count, mean, M2).
   * A binary metric takes 0, 1 or a boolean. A non-finite value, a non-0/1 value for a binary
   * metric or an unknown variant is a `ValidationError` and changes nothing. Results are still
   * accepted after `conclude` (outcomes often arrive late).
   */
  logResult(name: string, variant: string, value: number | boolean): void {
    const e = this.#experiment(name);
    const index = e.indexByName.get(variant);
    if (index === undefined) {
      throw new ValidationError(`variant must be one of ${[...e.indexByName.keys()].map((v) => `'${v}'`).join(', ')} in experiment '${name}', got ${describeValue(variant)}`);
    }
    let x: number;
    if (typeof value === 'boolean' && e.metric.kind === 'binary') x = value ? 1 : 0;
    else if (typeof value === 'number' && Number.isFinite(value) && (e.metric.kind === 'continuous' || value === 0 || value === 1)) x = value;
    else {
      throw new ValidationError(
        `value must be ${e.metric.kind === 'binary' ? '0, 1 or a boolean (binary metric)' : 'a finite number'} in experiment '${name}', got ${describeValue(value)}`,
      );
    }
    const stats = (e.variants[index] as Variant).stats;
    const { count, mean, m2, meanCorrection } = stats;
    addObservation(stats, x);
    if (!(stats.m2 < Number.POSITIVE_INFINITY)) {
      // A value whose square is not finite would leave the moments unusable for good: undo, refuse.
      Object.assign(stats, { count, mean, m2, meanCorrection });
      throw new ValidationError(
        `value ${x} would make the variance of variant '${variant}' in experiment '${name}' overflow (values must stay within about ±1e150); it was not recorded`,
      );
    }
    if (e.analyzeEvery > 0 && ++e.sinceAnalysis >= e.analyzeEvery) {
      e.sinceAnalysis = 0;
      this.analyze(name);
    }
  }

  /**
   * Per-variant numbers, each challenger against the control, and the SRM check. Reads only: emits
   * nothing and records no look. In sequential mode each comparison is what a look now would give
   * (the running minimum p-value and running intersection of the looks so far and the current
   * totals), without keeping it: only {@link ABTestController.analyze} moves the running values.
   */
  results(name: string): ExperimentResults {
    return this.#report(this.#experiment(name), false);
  }

  /**
   * One look at the experiment: {@link ABTestController.results} plus events — `srmDetected` the
   * first time the counts disagree with the weights, `significant` the first time each challenger
   * differs from the control; nothing once concluded. In sequential mode the look is kept: each
   * challenger's p-value is the running minimum over the looks and its intervals the running
   * intersection (kept in the snapshot), so once significant it stays significant and the
   * intervals never widen. Without `sequential`, looking repeatedly inflates false positives: see
   * `docs/ab-testing.md`. Ends with an `analyzed` event, where an `ABTestAnalysis` hooks in its
   * decisions (conclude on significance, guardrails).
   */
  analyze(name: string): ExperimentResults {
    const e = this.#experiment(name);
    // Once concluded everyone gets the winner: the counts leave the weights on purpose, and the
    // comparison has been acted on. Nothing left to signal, and no look to keep.
    if (e.conclusion !== null) return this.#report(e, false);
    const results = this.#report(e, true);
    const at = this.#clock();
    if (results.srm.mismatch && !e.srmReported) {
      e.srmReported = true;
      const counts = Object.fromEntries(results.variants.map((v) => [v.name, v.count]));
      this.emit('srmDetected', { name, srm: results.srm, counts, at });
    }
    for (const [variant, comparison] of Object.entries(results.comparisons)) {
      if (comparison?.significant && !e.significantReported.has(variant)) {
        e.significantReported.add(variant);
        this.emit('significant', { name, variant, control: results.control, comparison, sequential: e.sequential, at });
      }
    }
    this.emit('analyzed', { name, results, at });
    // A listener may have concluded the experiment: answer with what holds now.
    return e.conclusion === null ? results : this.results(name);
  }

  /**
   * Ends the experiment: from now on every unit gets the winner (reason `'concluded'`). The winner
   * is `winner` if given; otherwise the challenger that beats the control significantly by the most
   * (in the metric's direction), or the control when none does. Without a given winner, a sample
   * ratio mismatch is an `InvalidStateError` (the comparison cannot be trusted). Emits `concluded`.
   */
  conclude(name: string, winner?: string): ConcludedEvent {
    const e = this.#experiment(name);
    if (e.conclusion !== null) throw new InvalidStateError(`experiment '${name}' was already concluded (winner '${e.conclusion.winner}')`);
    if (winner !== undefined && !e.indexByName.has(winner)) {
      throw new ValidationError(`winner must be one of ${[...e.indexByName.keys()].map((v) => `'${v}'`).join(', ')}, got ${describeValue(winner)}`);
    }
    let results = this.results(name);
    let decision: ConclusionDecision = 'given';
    let chosen = winner;
    if (chosen === undefined) {
      if (results.srm.mismatch) {
        throw new InvalidStateError(
          `experiment '${name}' has a sample ratio mismatch (p = ${results.srm.pValue}): its comparisons cannot be trusted; find the cause, or pass a winner explicitly`,
        );
      }
      const sign = e.metric.higherIsBetter ? 1 : -1;
      let best: { name: string; gain: number } | undefined;
      for (const [variant, c] of Object.entries(results.comparisons)) {
        const gain = c ? sign * c.difference : 0;
        if (c?.significant && gain > 0 && (best === undefined || gain > best.gain)) best = { name: variant, gain };
      }
      chosen = best ? best.name : results.control;
      decision = best ? 'significant' : 'no-significant-winner';
    }
    const at = this.#clock();
    e.conclusion = { winner: chosen, decision, at };
    results = this.results(name);
    const event: ConcludedEvent = {
      name,
      winner: chosen,
      version: (e.variants[e.indexByName.get(chosen) as number] as Variant).version,
      decision,
      results,
      at,
    };
    this.emit('concluded', event);
    return event;
  }

  /**
   * This process's per-variant statistics, for another process's {@link ABTestController.mergeStats}.
   * With `reset`, the local statistics restart from zero, so each call ships only what is new and
   * repeated merges never count a result twice; the local sequential looks restart too (they were
   * about the results just shipped: the process that merges them is the one to look).
   */
  exportStats(name: string, options: { reset?: boolean } = {}): ExperimentStats {
    const e = this.#experiment(name);
    const variants = Object.fromEntries(e.variants.map((v) => [v.name, { ...v.stats }]));
    if (options.reset === true) {
      for (const v of e.variants) v.stats = emptySummary();
      e.looks.clear();
    }
    return { experiment: name, variants };
  }

  /**
   * Adds another replica's statistics (from {@link ABTestController.exportStats}) to this one's:
   * counts add exactly and means and variances combine as if one process had seen every result
   * (Chan et al.). The whole snapshot is checked first; a bad one is a `ValidationError` and
   * changes nothing.
   */
  mergeStats(name: string, snapshot: ExperimentStats): void {
    const e = this.#experiment(name);
    const record = checkRecord('snapshot', snapshot);
    if (record.experiment !== undefined && record.experiment !== name) {
      throw new ValidationError(`snapshot.experiment must be '${name}', got ${describeValue(record.experiment)}`);
    }
    const incoming = checkStatsRecord(e, record.variants, 'snapshot.variants');
    // Merged first and checked as a whole: a merge that would count past 2^53 or make a moment
    // non-finite is refused before any variant changes.
    const merged = incoming.map(([index, summary]): [Variant, SampleSummary] => {
      const v = e.variants[index] as Variant;
      const next = mergeSummaries(v.stats, summary);
      try {
        checkSummary(`merged statistics of variant '${v.name}'`, next);
      } catch (err) {
        throw new ValidationError(`merging would overflow experiment '${name}': ${(err as Error).message}; nothing was merged`, { cause: err });
      }
      return [v, next];
    });
    for (const [v, next] of merged) v.stats = next;
  }

  /**
   * Replaces experiment `name`'s statistics with those of `snapshot` (a variant it does not name
   * starts at zero), keeping the sequential looks: for a view of an experiment rebuilt at every look
   * from totals kept elsewhere (fleet mode's merged results of every replica), whose running minimum
   * and running intersection must go on across those rebuilds. Checked as
   * {@link ABTestController.mergeStats} checks; a bad snapshot is a `ValidationError` and changes nothing.
   */
  replaceStats(name: string, snapshot: ExperimentStats): void {
    const e = this.#experiment(name);
    const previous = e.variants.map((v) => v.stats);
    for (const v of e.variants) v.stats = emptySummary();
    try {
      this.mergeStats(name, snapshot);
    } catch (error) {
      e.variants.forEach((v, i) => {
        v.stats = previous[i] as SampleSummary;
      });
      throw error;
    }
  }

  /**
   * Puts back experiment `name`'s sequential looks (each challenger's running minimum p-value and
   * running intersection, as `snapshot()` gives them in `experiments[i].looks`), leaving its
   * statistics and everything else as they are and emitting nothing: for an analysis that takes
   * the experiment over from another that held the looks (a fleet's new lease holder). A record
   * naming a variant that is not a challenger, or a malformed state, is a `ValidationError` and
   * changes nothing.
   */
  restoreLooks(name: string, looks: unknown): void {
    const e = this.#experiment(name);
    e.looks = checkLooks(e, looks, `looks of experiment '${name}'`);
  }

  /** A {@link RoutingPolicy} bound to experiment `name`, for a `ModelRouter`. */
  policy(name: string): RoutingPolicy {
    this.#experiment(name);
    return {
      route: (ctx?: RouteContext) => this.#routeExperiment(name, ctx),
      fallback: () => this.#experiment(name).fallback,
      traffic: () => this.trafficOf(name),
      snapshot: () => snapshotExperiment(this.#experiment(name)),
      restore: (snapshot: unknown) => {
        const restored = restoreExperiment(snapshot, 'snapshot');
        if (restored.name !== name) throw new ValidationError(`snapshot.name must be '${name}', got '${restored.name}'`);
        this.#experiments.set(name, restored);
        this.emit('restored', { at: this.#clock() });
      },
    };
  }

  /**
   * Routes the default experiment (`defaultExperiment`, else the first created): like
   * {@link ABTestController.assign}, but a unit outside the coverage gets the control with reason
   * `'fallback'` (it is not in the experiment: do not log its results), and `ctx.force` names a
   * variant (reason `'forced'`; unknown → `ValidationError`).
   */
  route(ctx?: RouteContext): Assignment {
    return this.#routeExperiment(this.#defaultExperimentName(), ctx);
  }

  /** The control of the default experiment, reason `'fallback'`. */
  fallback(): Assignment {
    return this.#experiment(this.#defaultExperimentName()).fallback;
  }

  /** Every variant of the default experiment with its share; see {@link ABTestController.trafficOf}. */
  traffic(): PolicyTraffic[] {
    return this.trafficOf(this.#defaultExperimentName());
  }

  /**
   * Every variant of experiment `name` with its share of routed requests: its weight within the
   * coverage, and the control also takes the units outside it. Once concluded, the winner has
   * share 1 and every other variant 0.
   */
  trafficOf(name: string): PolicyTraffic[] {
    const e = this.#experiment(name);
    // A running variant's share is its propensity: weight × coverage, the control also taking the uncovered units.
    return e.variants.map((v) => ({
      version: v.version,
      variant: v.name,
      share: e.conclusion !== null ? Number(v.name === e.conclusion.winner) : v.byHash.propensity,
    }));
  }

  /** Every experiment's configuration, statistics, conclusion and pins, as JSON-safe data. */
  snapshot(): ABTestSnapshot {
    return { policy: 'ab-test', specVersion: 1, experiments: [...this.#experiments.values()].map(snapshotExperiment) };
  }

  /**
   * Replaces every experiment with those of a snapshot; a bad snapshot is a `ValidationError` and
   * changes nothing. Reads snapshots tagged `'ab-test'` and `'ABTestController'` (v0.1's tag).
   */
  restore(snapshot: unknown): void {
    const record = snapshotRecord(snapshot, 'ab-test', V01_SNAPSHOT_TAGS);
    const list = checkArray('snapshot.experiments', record.experiments);
    const restored = new Map<string, Experiment>();
    list.forEach((item, i) => {
      const e = restoreExperiment(item, `snapshot.experiments[${i}]`);
      if (restored.has(e.name)) throw new ValidationError(`snapshot.experiments[${i}].name '${e.name}' is a duplicate`);
      restored.set(e.name, e);
    });
    this.#experiments.clear();
    for (const [name, e] of restored) this.#experiments.set(name, e);
    this.emit('restored', { at: this.#clock() });
  }

  /** {@link ABTestController.results} of `e`; with `look`, the sequential looks keep this one. */
  #report(e: Experiment, look: boolean): ExperimentResults {
    const binary = e.metric.kind === 'binary';
    return {
      name: e.name,
      metric: { ...e.metric },
      alpha: e.alpha,
      sequential: e.sequential,
      control: controlOf(e).name,
      conclusion: e.conclusion && { ...e.conclusion },
      variants: e.variants.map((v) => ({
        name: v.name,
        version: v.version,
        weight: v.weight,
        count: v.stats.count,
        mean: v.stats.mean,
        stdev: v.stats.count < 2 ? null : Math.sqrt(v.stats.m2 / (v.stats.count - 1)),
        ci: variantInterval(v.stats, binary, e.alpha),
      })),
      comparisons: compareVariants(e, look),
      srm: srmTest(
        e.variants.map((v) => v.stats.count),
        e.variants.map((v) => v.weight),
      ),
    };
  }

  #routeExperiment(name: string, ctx: RouteContext | undefined): Assignment {
    const e = this.#experiment(name);
    if (ctx?.force !== undefined) {
      const index = e.indexByName.get(ctx.force);
      if (index === undefined) {
        throw new ValidationError(`force must name a variant of experiment '${name}' (${[...e.indexByName.keys()].join(', ')}), got ${describeValue(ctx.force)}`);
      }
      return (e.variants[index] as Variant).forced;
    }
    return this.assign(name, ctx?.unitId) ?? e.fallback;
  }

  #defaultExperimentName(): string {
    const name = this.#defaultName ?? this.#experiments.keys().next().value;
    if (name === undefined) throw new InvalidStateError('ABTestController has no experiment to route: call createExperiment() first');
    return name;
  }

  #experiment(name: string): Experiment {
    const e = this.#experiments.get(name);
    if (e === undefined) {
      if (typeof name !== 'string') throw new ValidationError(`name must be a string, got ${describeValue(name)}`);
      throw new NotFoundError(`no experiment named '${name}'`);
    }
    return e;
  }
}

