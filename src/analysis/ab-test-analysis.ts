import { EventEmitter } from 'eventemitter3';
import { InvalidStateError, ValidationError, describeValue } from '../errors.js';
import { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import { type Clock, checkFunction, checkNumber } from '../options.js';
import type { ABTestController } from '../routing/ab-test.js';
import type { ExperimentAnalyzedEvent, ExperimentResults } from '../routing/ab-test-types.js';
import type { SequentialState } from '../stats/sequential.js';
import { claimPolicy, releasePolicy, type CountersResetEvent } from './analysis-controller.js';
import { checkAnalysisCounters, countAnalysisOutcome, emptyAnalysisCounters } from './counters.js';
import { judgeAnalysis } from './judge.js';
import { type IntervalScheduler, resolveLimits, resolveSchedule } from './options.js';
import { AnalysisRunner } from './runner.js';
import type {
  AnalysedVersion,
  AnalysisCheck,
  AnalysisCounters,
  AnalysisDecision,
  AnalysisLimits,
  AnalysisOutcome,
  AnalysisVerdict,
} from './types.js';

/** Limits every variant of an A/B test must stay within, read from the monitor's rolling window. */
export interface Guardrails {
  /** Highest acceptable error rate of a variant's version, in [0, 1]. */
  maxErrorRate?: number;
  /** Highest acceptable p99 latency of a variant's version, in ms. */
  maxP99LatencyMs?: number;
  /** A variant with fewer requests in the window is not judged (default 100). */
  minRequests?: number;
}

/**
 * What {@link ABTestAnalysis.counters} hands on: the counters, and in sequential mode the
 * experiment's looks so far, so an analysis restored from them (another replica of a fleet taking
 * over) goes on with the same running minimum p-value and running intersection.
 */
export interface ABTestAnalysisCounters extends AnalysisCounters {
  /** Each challenger's sequential looks so far, as the controller's snapshot gives them. */
  looks?: Record<string, SequentialState>;
}

/**
 * Options of {@link ABTestAnalysis}. Its looks are counted against Argo's limits like every
 * analysis's runs: `failureLimit` looks with a challenger past a guardrail are tolerated (default
 * 0: the first stops it), `inconclusiveLimit` looks that cannot be judged (default 2; one more emits
 * `needsAttention`), `consecutiveSuccessLimit` looks in a row within the guardrails before a
 * significant result may conclude (default 1), `consecutiveErrorLimit` looks in a row that could
 * not be measured (default 4; one more stops the challengers, as a failure would).
 */
export interface ABTestAnalysisOptions extends AnalysisLimits {
  /** Where the variants' live numbers come from: the monitor the `ModelRouter` records into. Required with `guardrails`. */
  monitor?: DeploymentMonitor;
  /**
   * Conclude as soon as the always-valid sequential test is significant (default true). Needs an
   * experiment created with `sequential: true`: peeking at a fixed-horizon test until it turns
   * significant inflates false positives (see `docs/ab-testing.md`).
   */
  autoConclude?: boolean;
  /** Error-rate and latency limits; a challenger past one is stopped. */
  guardrails?: Guardrails;
  /** Time between runs of `start()`, in ms (default 60 000). */
  intervalMs?: number;
  /** Timers for `start()` (default: the global ones, unref'd); a `FakeClock` in tests. */
  timers?: IntervalScheduler;
  /** Time of each report, in ms (default `Date.now`). */
  clock?: Clock;
}

/** How often and on which timers {@link ABTestAnalysis.start} runs. */
export interface ABTestAnalysisSchedule {
  /** Time between runs, in ms (default 60 000). */
  intervalMs?: number;
  /** Timers (default: the global ones, unref'd); a `FakeClock` in tests. */
  timers?: IntervalScheduler;
}

/** One variant against the guardrails. */
export interface VariantGuardrail {
  variant: string;
  version: number;
  numbers: AnalysedVersion;
  /** Empty when the variant had fewer than `minRequests` requests (not judged). */
  checks: AnalysisCheck[];
  breached: boolean;
}

/** What one {@link ABTestAnalysis} run saw and did. */
export interface ABTestAnalysisReport {
  experiment: string;
  at: number;
  /**
   * How the look was judged against the guardrails: `'failed'` (a challenger past a limit),
   * `'inconclusive'` (a variant with fewer than `minRequests` requests, or only the control past a
   * limit: nothing the analysis may stop), `'error'` (the numbers could not be read), else
   * `'successful'`.
   */
  outcome: AnalysisOutcome;
  /** The counters after this look. */
  counters: AnalysisCounters;
  /** `'stopVariant'` (a challenger breached a guardrail: the experiment concluded on the control), `'conclude'` (significant), or `'hold'`. */
  decision: Extract<AnalysisDecision, 'stopVariant' | 'conclude' | 'hold'>;
  reason: string;
  /** The winner when the run concluded the experiment. */
  winner: string | undefined;
  guardrails: VariantGuardrail[];
  /** The experiment's results at this run. */
  results: ExperimentResults;
}

/** Events of {@link ABTestAnalysis}; the controller's own `concluded` follows each conclusion. */
export interface ABTestAnalysisEvents {
  /** Every run. */
  analysis: (report: ABTestAnalysisReport) => void;
  /** A variant's version is past a guardrail (a breaching control is reported too, but cannot be stopped). */
  guardrailBreached: (report: ABTestAnalysisReport) => void;
  /** Past `inconclusiveLimit`: a human must look (the guardrails keep running; the counters start again). */
  needsAttention: (report: ABTestAnalysisReport) => void;
  /** `start()` hit an unexpected error (a bug, not a verdict); the loop stopped. */
  analysisStopped: (event: { error: unknown }) => void;
  /** The experiment's state was replaced by `restore()`: the counters start afresh. */
  countersReset: (event: CountersResetEvent) => void;
}

/**
 * Automation composed around one experiment of an {@link ABTestController}, which knows nothing of
 * it: at every look of the controller (its `analyzed` event: `ab.analyze(name)`, `analyzeEvery`
 * results, or this analysis's own `analyze()` / `start()` loop) it checks guardrails that stop a challenger
 * whose version breaches an error-rate or p99 limit (the experiment concludes on the control, as
 * dropping one arm of a running A/B/n test would shift every other arm's traffic), and
 * auto-conclusion once the sequential test is significant (`autoConclude`, default true). One
 * analysis per experiment: `dispose()` it before another.
 *
 * @example
 * ```ts
 * ab.createExperiment('ranker', { modelA: 1, modelB: 2, metric: { kind: 'binary' }, sequential: true });
 * const auto = new ABTestAnalysis(ab, 'ranker', { monitor, guardrails: { maxErrorRate: 0.02, maxP99LatencyMs: 80 } });
 * ab.on('concluded', (e) => log.info(`winner ${e.winner} (${e.decision})`));
 * auto.start();
 * ```
 */
export class ABTestAnalysis extends EventEmitter<ABTestAnalysisEvents> {
  readonly controller: ABTestController;
  readonly experiment: string;
  readonly monitor: DeploymentMonitor | undefined;
  readonly autoConclude: boolean;
  readonly #guardrails: Guardrails & { minRequests: number };
  readonly #limits: Required<AnalysisLimits>;
  readonly #clock: Clock;
  #runner: AnalysisRunner;
  #counters: AnalysisCounters = emptyAnalysisCounters();
  /** The report of the look `analyze()` asked the controller for. */
  #latest: ABTestAnalysisReport | undefined;
  readonly #onAnalyzed = (event: ExperimentAnalyzedEvent): void => {
    if (event.name === this.experiment) this.#latest = this.#evaluate(event.results);
  };
  readonly #onRestored = (): void => {
    const previous = this.#counters;
    this.#counters = emptyAnalysisCounters();
    this.emit('countersReset', { reason: 'restored', previous, at: this.#clock() });
  };

  constructor(controller: ABTestController, experiment: string, options: ABTestAnalysisOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new ValidationError(`options must be an object, got ${describeValue(options)}`);
    const g = options.guardrails ?? {};
    if (typeof g !== 'object' || g === null) throw new ValidationError(`guardrails must be an object, got ${describeValue(g)}`);
    const guarded = g.maxErrorRate !== undefined || g.maxP99LatencyMs !== undefined;
    if (options.monitor !== undefined ? !(options.monitor instanceof DeploymentMonitor) : guarded) {
      throw new ValidationError(`monitor must be a DeploymentMonitor (the one the router records into) to check guardrails, got ${describeValue(options.monitor)}`);
    }
    this.controller = controller;
    this.experiment = experiment;
    this.monitor = options.monitor;
    const results = controller.results(experiment);
    this.autoConclude = options.autoConclude ?? true;
    if (typeof this.autoConclude !== 'boolean') throw new ValidationError(`autoConclude must be a boolean, got ${describeValue(options.autoConclude)}`);
    if (this.autoConclude && !results.sequential) {
      throw new ValidationError(
        `autoConclude needs experiment '${experiment}' to be sequential (createExperiment(…, { sequential: true })): concluding a fixed-horizon test at the first significant peek inflates false positives; pass autoConclude: false for guardrails only`,
      );
    }
    this.#guardrails = { minRequests: checkNumber('guardrails.minRequests', g.minRequests ?? 100, { min: 1, integer: true }) };
    if (g.maxErrorRate !== undefined) this.#guardrails.maxErrorRate = checkNumber('guardrails.maxErrorRate', g.maxErrorRate, { min: 0, max: 1 });
    if (g.maxP99LatencyMs !== undefined) {
      this.#guardrails.maxP99LatencyMs = checkNumber('guardrails.maxP99LatencyMs', g.maxP99LatencyMs, { min: 0, exclusiveMin: true });
    }
    if (!this.autoConclude && !guarded) {
      throw new ValidationError('ABTestAnalysis must set guardrails.maxErrorRate or guardrails.maxP99LatencyMs, or autoConclude, got neither: it would do nothing');
    }
    this.#limits = resolveLimits('ABTestAnalysis', options);
    this.#clock = options.clock === undefined ? Date.now : checkFunction<Clock>('clock', options.clock);
    this.#runner = this.#schedule(options);
    claimPolicy(controller, `experiment '${experiment}'`);
    controller.on('analyzed', this.#onAnalyzed);
    controller.on('restored', this.#onRestored);
  }

  /**
   * Counters since the analysis began or the experiment was last restored, and in sequential mode
   * the experiment's looks so far (`looks`, once there is one): plain data, storable beside the
   * controller's snapshot.
   */
  get counters(): Readonly<ABTestAnalysisCounters> {
    const looks = this.controller.snapshot().experiments.find((e) => e.name === this.experiment)?.looks;
    return looks === undefined || Object.keys(looks).length === 0 ? { ...this.#counters } : { ...this.#counters, looks };
  }

  /**
   * Carries on counting from stored counters (as {@link ABTestAnalysis.counters} gave them), e.g.
   * when another replica takes over the experiment's analysis: the counts, and with `looks` the
   * experiment's sequential looks, put back on the controller (`restoreLooks`, which emits nothing), so the running
   * minimum p-value and running intersection go on. Every count must be a non-negative integer and
   * the looks a challenger's sequential states; a bad value is a `ValidationError` and changes nothing.
   */
  restoreCounters(counters: ABTestAnalysisCounters): void {
    const checked = checkAnalysisCounters(counters);
    const looks = (counters as Partial<ABTestAnalysisCounters>).looks;
    if (looks !== undefined) this.controller.restoreLooks(this.experiment, looks);
    this.#counters = checked;
  }

  /** Whether the experiment is concluded: nothing is left to analyse. */
  get settled(): boolean {
    return this.controller.results(this.experiment).conclusion !== null;
  }

  /** Stops the loop and stops following the controller's looks, so another analysis may take the experiment. */
  dispose(): void {
    this.stop();
    this.controller.off('analyzed', this.#onAnalyzed);
    this.controller.off('restored', this.#onRestored);
    releasePolicy(this.controller, `experiment '${this.experiment}'`);
  }

  /** Whether the loop started by `start()` is running. */
  get running(): boolean {
    return this.#runner.started;
  }

  /** Runs an analysis every `intervalMs` until stopped or the experiment is concluded; `schedule` replaces the constructor's interval and timers. */
  start(schedule?: ABTestAnalysisSchedule): void {
    if (schedule !== undefined) {
      const runner = this.#schedule(schedule);
      this.#runner.stop();
      this.#runner = runner;
    }
    this.#runner.start();
  }

  /** Stops the loop. */
  stop(): void {
    this.#runner.stop();
  }

  /**
   * One look: `controller.analyze(experiment)` (its `significant` / `srmDetected` events), whose
   * `analyzed` event this analysis acts on: guardrails, then auto-conclusion. A concluded
   * experiment is an `InvalidStateError`.
   */
  async analyze(): Promise<ABTestAnalysisReport> {
    this.#latest = undefined;
    const results = this.controller.analyze(this.experiment);
    const report = this.#latest;
    this.#latest = undefined;
    if (report === undefined) {
      throw new InvalidStateError(`experiment '${this.experiment}' is already concluded (winner '${results.conclusion?.winner}')`);
    }
    return report;
  }

  /** Measure (each variant's numbers), judge (the guardrails), count (Argo's limits), act. */
  #evaluate(results: ExperimentResults): ABTestAnalysisReport {
    if (results.conclusion !== null) {
      throw new InvalidStateError(`experiment '${this.experiment}' is already concluded (winner '${results.conclusion.winner}')`);
    }
    const report: ABTestAnalysisReport = {
      experiment: this.experiment,
      at: this.#clock(),
      outcome: 'successful',
      counters: this.#counters,
      decision: 'hold',
      reason: '',
      winner: undefined,
      guardrails: [],
      results,
    };
    let breached: VariantGuardrail[] = [];
    let challengers: VariantGuardrail[] = [];
    try {
      report.guardrails = results.variants.map((v) => this.#guard(v.name, v.version));
      breached = report.guardrails.filter((g) => g.breached);
      challengers = breached.filter((g) => g.variant !== results.control);
      const unjudged = report.guardrails.filter((g) => g.checks.length === 0 && this.#guarded);
      if (challengers.length > 0) {
        report.outcome = 'failed';
        report.reason = describeBreaches(challengers);
      } else if (breached.length > 0) {
        report.outcome = 'inconclusive';
        report.reason = `${describeBreaches(breached)}: the control cannot be stopped, a human must look`;
      } else if (unjudged.length > 0) {
        report.outcome = 'inconclusive';
        report.reason = `${unjudged.map((g) => `variant '${g.variant}' has ${g.numbers.totalRequests} of the ${this.#guardrails.minRequests} requests`).join(', ')} the guardrails need`;
      }
    } catch (error) {
      report.outcome = 'error';
      report.reason = `could not be measured: ${error instanceof Error ? error.message : String(error)}`;
    }
    const { counters, verdict } = countAnalysisOutcome(this.#counters, report.outcome, this.#limits);
    this.#counters = counters;
    report.counters = counters;
    this.#act(report, verdict, results, challengers);
    this.emit('analysis', report);
    if (breached.length > 0) this.emit('guardrailBreached', report);
    if (verdict === 'needsAttention') this.emit('needsAttention', report);
    return report;
  }

  #act(report: ABTestAnalysisReport, verdict: AnalysisVerdict, results: ExperimentResults, challengers: VariantGuardrail[]): void {
    switch (verdict) {
      case 'failed':
        report.decision = 'stopVariant';
        report.winner = results.control;
        report.reason = `${challengers.length > 0 ? report.reason : `${report.reason} (${this.#counters.consecutiveErrors} looks in a row)`}: stopped, everyone on the control '${results.control}'`;
        report.results = this.controller.conclude(this.experiment, results.control).results;
        return;
      case 'needsAttention':
        // Nothing to pause in an A/B test, and stopping the guardrails would be unsafe: count afresh.
        this.#counters = emptyAnalysisCounters();
        return;
      case 'continue':
        report.reason = `${report.reason ? `${report.reason}; ` : ''}${this.#withinLimit(report.outcome)}`;
        return;
      case 'passed':
        this.#considerConclusion(report, results);
        return;
    }
  }

  /** Where the counters stand against the limit the look's outcome counts toward. */
  #withinLimit(outcome: AnalysisOutcome): string {
    const c = this.#counters;
    const l = this.#limits;
    switch (outcome) {
      case 'successful':
        return `guardrails hold (${c.consecutiveSuccesses} of ${l.consecutiveSuccessLimit} looks in a row)`;
      case 'failed':
        return `${c.failures} of ${l.failureLimit + 1} failed looks before the challenger is stopped (failureLimit ${l.failureLimit})`;
      case 'inconclusive':
        return `${c.inconclusives} of ${l.inconclusiveLimit + 1} inconclusive looks before needsAttention (inconclusiveLimit ${l.inconclusiveLimit})`;
      case 'error':
        return `${c.consecutiveErrors} of ${l.consecutiveErrorLimit + 1} errors in a row before the challengers are stopped (consecutiveErrorLimit ${l.consecutiveErrorLimit})`;
    }
  }

  /** Whether any guardrail limit is set, so a variant with too few requests leaves the look unjudged. */
  get #guarded(): boolean {
    return this.#guardrails.maxErrorRate !== undefined || this.#guardrails.maxP99LatencyMs !== undefined;
  }

  #considerConclusion(report: ABTestAnalysisReport, results: ExperimentResults): void {
    const significant = Object.entries(results.comparisons).filter(([, c]) => c?.significant === true);
    if (!this.autoConclude) {
      report.reason = 'guardrails hold';
      return;
    }
    if (significant.length === 0) {
      report.reason = 'guardrails hold; no comparison is significant yet';
      return;
    }
    if (results.srm.mismatch) {
      report.reason = `significant, but the sample ratio mismatch (p = ${results.srm.pValue}) makes the comparison untrustworthy: not concluded`;
      return;
    }
    const concluded = this.controller.conclude(this.experiment);
    report.decision = 'conclude';
    report.winner = concluded.winner;
    report.results = concluded.results;
    report.reason = `sequential test significant for ${significant.map(([v]) => `'${v}'`).join(', ')}: winner '${concluded.winner}' (${concluded.decision})`;
  }

  #schedule(options: ABTestAnalysisSchedule): AnalysisRunner {
    const { intervalMs, timers } = resolveSchedule('ABTestAnalysis', options);
    return new AnalysisRunner(
      () => this.analyze(),
      () => this.settled,
      intervalMs,
      timers,
      (error) => {
        this.#runner.stop();
        this.emit('analysisStopped', { error });
      },
    );
  }

  #guard(variant: string, version: number): VariantGuardrail {
    const monitor = this.monitor;
    if (monitor === undefined) {
      return { variant, version, numbers: { version, window: 'rolling', totalRequests: 0, errorRate: 0, p99LatencyMs: 0 }, checks: [], breached: false };
    }
    const stats = monitor.stats(version, { window: 'rolling' });
    const numbers: AnalysedVersion = {
      version,
      window: 'rolling',
      totalRequests: stats.totalRequests,
      errorRate: stats.errorRate,
      p99LatencyMs: stats.p99LatencyMs,
    };
    const { maxErrorRate, maxP99LatencyMs, minRequests } = this.#guardrails;
    if (maxErrorRate === undefined && maxP99LatencyMs === undefined) return { variant, version, numbers, checks: [], breached: false };
    const judgement = judgeAnalysis(stats, { minRequests, maxErrorRate, maxP99LatencyMs });
    return { variant, version, numbers, checks: judgement.checks, breached: judgement.outcome === 'failed' };
  }
}

function describeBreaches(breaches: VariantGuardrail[]): string {
  return breaches
    .map((g) => {
      const past = g.checks.filter((c) => c.passed === false).map((c) => `${c.metric} ${round(c.value)} > ${c.threshold}`);
      return `variant '${g.variant}' (v${g.version}) breached ${past.join(', ')}`;
    })
    .join('; ');
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
