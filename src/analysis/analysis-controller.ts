import { EventEmitter } from 'eventemitter3';
import { InvalidStateError, ValidationError, describeValue } from '../errors.js';
import { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import { type Clock, checkFunction } from '../options.js';
import { checkAnalysisCounters, countAnalysisOutcome, emptyAnalysisCounters } from './counters.js';
import { type EvidenceMark, evidenceWindowOf, markEvidence, markOfEvidenceWindow, measureEvidence } from './evidence.js';
import { type Measurement, measure } from './measure.js';
import { type AnalysisOptions, type ResolvedAnalysisOptions, resolveAnalysisOptions } from './options.js';
import { AnalysisRunner } from './runner.js';
import type {
  AnalysisCounters,
  AnalysisDecision,
  AnalysisGate,
  AnalysisOutcome,
  AnalysisReport,
  AnalysisVerdict,
  CarriedAnalysisCounters,
  GateContext,
} from './types.js';

/** Events of every automated analysis; the policy's own events (`stepped`, `promoted`, `rolledBack` …) follow each decision. */
export interface AnalysisEvents {
  /** Every run, with its numbers, checks, counters and decision. */
  analysis: (report: AnalysisReport) => void;
  /** A run decided to stay put: not enough successes in a row yet, a failure or inconclusive run within its limit, a refusing gate. */
  held: (report: AnalysisReport) => void;
  /** Past `inconclusiveLimit`: the rollout is paused until a human looks (Argo's Inconclusive). */
  needsAttention: (report: AnalysisReport) => void;
  /** Blue-green pre-promotion analysis failed: the switch is refused and the active slot keeps serving. */
  promotionAborted: (report: AnalysisReport) => void;
  /** Blue-green post-promotion analysis passed: the switch is verified and the phase ends. */
  promotionVerified: (report: AnalysisReport) => void;
  /** `start()` hit an unexpected error outside any run (a bug, not a verdict); the loop stopped. */
  analysisStopped: (event: { error: unknown }) => void;
  /** The policy's state was replaced by `restore()`: the counters start afresh, as at a new step. */
  countersReset: (event: CountersResetEvent) => void;
}

/** Payload of the `countersReset` event. */
export interface CountersResetEvent {
  /** Why the counters started again: the steered policy was `restore()`d. */
  reason: 'restored';
  /** The counters before the reset. */
  previous: AnalysisCounters;
  at: number;
}

/**
 * What an analysis steers, as it sees it: something whose events it can follow. Every policy is an
 * `EventEmitter`; the adapters (`CanaryAnalysis` …) read the few methods they call on top of this.
 */
export type Observable = Pick<EventEmitter<string>, 'on' | 'off'>;

/** Analyses attached to each policy, by role, so two can never drive one rollout. */
const attached = new WeakMap<object, Set<string>>();

/** Takes `role` on `steered` for one analysis; a second is an `InvalidStateError`. @internal */
export function claimPolicy(steered: object, role: string): void {
  const roles = attached.get(steered) ?? new Set<string>();
  if (roles.has(role)) {
    throw new InvalidStateError(`this policy already has a ${role} analysis: dispose() it before composing another, so two never drive one rollout`);
  }
  roles.add(role);
  attached.set(steered, roles);
}

/** Gives `role` on `steered` back. @internal */
export function releasePolicy(steered: object, role: string): void {
  attached.get(steered)?.delete(role);
}

/** What `monitor` and `clock` an analysis reads, beside its {@link AnalysisOptions}. */
export interface AnalysisBinding {
  /** Where the live numbers come from: the monitor the `ModelRouter` records into. */
  monitor: DeploymentMonitor;
  /** Time of each report, in ms (default `Date.now`). */
  clock?: Clock;
}

/** What a successful, failed or stuck run leads to for one policy in one phase. @internal */
export interface AnalysisTarget {
  phase: AnalysisReport['phase'];
  candidate: number;
  baseline: number;
  percentage: number;
  onSuccess: {
    decision: Extract<AnalysisDecision, 'advance' | 'promote' | 'complete'>;
    gate: AnalysisGate | undefined;
    action: GateContext['action'];
    nextPercentage: number;
    act(reason: string, report: AnalysisReport): void;
  };
  onFailure: { decision: Extract<AnalysisDecision, 'rollback' | 'abort'>; act(reason: string, report: AnalysisReport): void };
  onNeedsAttention: { act(reason: string, report: AnalysisReport): void };
  /** Whether the policy is still where this target was taken (checked after waiting on a gate). */
  current(): boolean;
}

/** What an adapter tells the engine about the policy it steers, given once by {@link steer}. @internal */
export interface AnalysisSteering {
  /** The phase the policy is in now; throws `InvalidStateError` when nothing can be analysed. */
  target(): AnalysisTarget;
  /** Whether a timer tick should run an analysis now (e.g. not while paused). */
  ready(): boolean;
  /** Whether the rollout has settled, so the loop can stop. */
  finished(): boolean;
  /** What a `restore()` of the policy does to the adapter's own view of it (the counters restart after). */
  restored?(): void;
}

/** What the engine lends the adapter that steers through it (returned by {@link steer}). @internal */
export interface AnalysisEngine {
  /** The analysis options, checked and with defaults applied. */
  readonly settings: ResolvedAnalysisOptions;
  /** The analysis clock's time, in ms. */
  now(): number;
  /** Starts counting again (a new step, phase or a resume). */
  resetCounters(): void;
  /**
   * Starts the evidence method's window for this pair now (a rollout or a step started): everything
   * both versions serve from here on is evidence, judged at `alphaShare × evidence.alpha`. Without
   * a call, the window starts at the first run that sees the pair. No-op for the threshold method.
   */
  startEvidence(candidate: number, baseline: number, alphaShare?: number): void;
  /** Follows one of the policy's events until `dispose()`. */
  follow(event: string, listener: (...args: unknown[]) => void): void;
}

/** Set by the class's static block: the one way in to an analysis's private fields from its adapter. */
let attachSteering: (analysis: AnalysisController, steering: AnalysisSteering) => AnalysisEngine;

/**
 * Hands an analysis its adapter's steering and returns the engine's services to the adapter. A
 * function, not a protected member, so the published types of the adapters carry none of it.
 * Called once, from the adapter's constructor right after `super()`. @internal
 */
export function steer(analysis: AnalysisController, steering: AnalysisSteering): AnalysisEngine {
  return attachSteering(analysis, steering);
}

/**
 * The analysis loop shared by every policy: measure, judge, count against the Argo limits, ask
 * the gate, act, and report each step as an event. Each adapter (`CanaryAnalysis`,
 * `BlueGreenAnalysis`) says, through {@link steer}, what the rollout's current phase is and what
 * each verdict does to its policy.
 */
export abstract class AnalysisController extends EventEmitter<AnalysisEvents> {
  /** The monitor read by every run. */
  readonly monitor: DeploymentMonitor;
  readonly #settings: ResolvedAnalysisOptions;
  readonly #clock: Clock;
  #counters: AnalysisCounters = emptyAnalysisCounters();
  readonly #runner: AnalysisRunner;
  readonly #steered: Observable;
  readonly #role: string;
  readonly #subscriptions: Array<[event: string, listener: (...args: unknown[]) => void]> = [];
  #steering: AnalysisSteering | undefined;
  /** Start of the evidence window (evidence method only). */
  #evidenceMark: EvidenceMark | undefined;

  static {
    attachSteering = (analysis, steering) => {
      if (analysis.#steering !== undefined) throw new InvalidStateError('this analysis is already steered');
      analysis.#steering = steering;
      return {
        settings: analysis.#settings,
        now: () => analysis.#clock(),
        resetCounters: () => {
          analysis.#counters = emptyAnalysisCounters();
        },
        startEvidence: (candidate, baseline, alphaShare) => analysis.#startEvidence(candidate, baseline, alphaShare),
        follow: (event, listener) => analysis.#follow(event, listener),
      };
    };
  }

  /**
   * @param name - the options' name in error messages, e.g. `'analysis'`.
   * @param steered - the policy; one analysis per `role` may steer it (`InvalidStateError` otherwise).
   */
  protected constructor(name: string, steered: Observable, role: string, binding: AnalysisBinding, options: AnalysisOptions) {
    super();
    if (typeof binding !== 'object' || binding === null || !(binding.monitor instanceof DeploymentMonitor)) {
      throw new ValidationError(
        `monitor must be a DeploymentMonitor (the one the router records into) to run ${name}, got ${describeValue((binding as Partial<AnalysisBinding> | null)?.monitor)}`,
      );
    }
    this.monitor = binding.monitor;
    this.#clock = binding.clock === undefined ? Date.now : checkFunction<Clock>('clock', binding.clock);
    this.#settings = resolveAnalysisOptions(name, options);
    claimPolicy(steered, role);
    this.#steered = steered;
    this.#role = role;
    this.#follow('restored', () => {
      const previous = this.#counters;
      this.#steer().restored?.();
      this.#counters = emptyAnalysisCounters();
      this.emit('countersReset', { reason: 'restored', previous, at: this.#clock() });
    });
    this.#runner = new AnalysisRunner(
      () => (this.#steer().ready() ? this.analyze() : Promise.resolve(undefined)),
      () => this.#steer().finished(),
      this.#settings.intervalMs,
      this.#settings.timers,
      (error) => {
        this.#runner.stop();
        this.emit('analysisStopped', { error });
      },
    );
  }

  /**
   * Counters of the current step or phase, and with `method: 'evidence'` where the step's window
   * stands (`evidence`, once a window has started): plain data, storable beside the policy's snapshot.
   */
  get counters(): Readonly<CarriedAnalysisCounters> {
    const mark = this.#evidenceMark;
    return mark === undefined ? { ...this.#counters } : { ...this.#counters, evidence: evidenceWindowOf(mark) };
  }

  /**
   * Carries on counting from stored counters (as {@link AnalysisController.counters} gave them),
   * e.g. when another replica of a fleet takes over the analysis of the same step. Every field
   * must be a non-negative integer; a bad value is a `ValidationError` and changes nothing. With
   * `method: 'evidence'` the window goes back too (`evidence`; without it the next run starts
   * one), so the next run judges the same requests as the analysis that stored them would have.
   */
  restoreCounters(counters: CarriedAnalysisCounters): void {
    const checked = checkAnalysisCounters(counters);
    const evidence = (counters as Partial<CarriedAnalysisCounters>).evidence;
    const mark = evidence === undefined || this.#settings.evidence === undefined ? undefined : markOfEvidenceWindow(evidence);
    this.#counters = checked;
    if (this.#settings.evidence !== undefined) this.#evidenceMark = mark;
  }

  /** Whether the rollout has settled (promoted or rolled back): nothing is left to analyse. */
  get settled(): boolean {
    return this.#steer().finished();
  }

  /** Stops the loop and lets go of the policy: it no longer follows its events, and another analysis may steer it. */
  dispose(): void {
    this.stop();
    for (const [event, listener] of this.#subscriptions.splice(0)) this.#steered.off(event, listener);
    releasePolicy(this.#steered, this.#role);
  }

  /** Time between runs of `start()`, in ms. */
  get intervalMs(): number {
    return this.#settings.intervalMs;
  }

  /** Whether the loop started by `start()` is running. */
  get running(): boolean {
    return this.#runner.started;
  }

  /** Runs an analysis every `intervalMs` on the configured timers (unref'd), until stopped or the rollout settles. */
  start(): void {
    this.#runner.start();
  }

  /** Stops the loop; a run in progress finishes. */
  stop(): void {
    this.#runner.stop();
  }

  /**
   * Runs one analysis now: reads the monitor, judges, counts, asks the gate on success, acts,
   * and emits `analysis` (then `held` or `needsAttention`, or the policy's own event). Never
   * rejects for a measurement problem: that is an `error` run. Rejects with `InvalidStateError`
   * when the policy is in no state to be analysed.
   */
  async analyze(): Promise<AnalysisReport> {
    const target = this.#steer().target();
    const at = this.#clock();
    const limits = this.#settings.limits;
    let outcome: AnalysisOutcome;
    let report: AnalysisReport;
    try {
      const { candidate, baseline, judgement } = this.#measure(target);
      outcome = judgement.outcome;
      report = {
        outcome,
        decision: 'hold',
        reason: judgement.reason,
        at,
        phase: target.phase,
        candidate,
        baseline,
        checks: judgement.checks,
        counters: this.#counters,
        percentage: target.percentage,
      };
    } catch (error) {
      outcome = 'error';
      report = this.#errorReport(target, at, error);
    }
    let { counters, verdict } = countAnalysisOutcome(this.#counters, outcome, limits);
    report.counters = counters;

    if (verdict === 'passed') {
      const { decision, gate, action, nextPercentage } = target.onSuccess;
      report.decision = decision;
      if (gate !== undefined) {
        let allowed: boolean;
        try {
          allowed = (await gate({ action, stable: target.baseline, candidate: target.candidate, percentage: target.percentage, nextPercentage, report })) === true;
        } catch (error) {
          report = { ...this.#errorReport(target, at, error), candidate: report.candidate, baseline: report.baseline, checks: report.checks };
          ({ counters, verdict } = countAnalysisOutcome(this.#counters, 'error', limits));
          report.counters = counters;
          return this.#conclude(target, report, verdict, counters);
        }
        if (!target.current()) {
          report.decision = 'hold';
          report.reason = `${report.reason}; the rollout changed while the ${gateName(action)} gate was pending`;
          return this.#conclude(target, report, 'continue', counters);
        }
        if (!allowed) {
          report.decision = 'hold';
          report.reason = `${report.reason}; the ${gateName(action)} gate refused`;
          return this.#conclude(target, report, 'continue', counters);
        }
      }
    }
    return this.#conclude(target, report, verdict, counters);
  }

  #steer(): AnalysisSteering {
    const steering = this.#steering;
    // Only an adapter that forgot steer() in its constructor gets here: a bug, not a user error.
    if (steering === undefined) throw new InvalidStateError('this analysis has no steering: its adapter must call steer(this, …) in its constructor');
    return steering;
  }

  #startEvidence(candidate: number, baseline: number, alphaShare = 1): void {
    const evidence = this.#settings.evidence;
    if (evidence !== undefined) this.#evidenceMark = markEvidence(this.monitor, candidate, baseline, evidence.alpha * alphaShare);
  }

  #measure(target: AnalysisTarget): Measurement {
    const { evidence, criteria } = this.#settings;
    if (evidence === undefined) return measure(this.monitor, target.candidate, target.baseline, criteria);
    const mark = this.#evidenceMark;
    if (mark === undefined || mark.candidate !== target.candidate || mark.baseline !== target.baseline) {
      this.#startEvidence(target.candidate, target.baseline);
    }
    return measureEvidence(this.monitor, this.#evidenceMark as EvidenceMark, criteria, evidence);
  }

  #follow(event: string, listener: (...args: unknown[]) => void): void {
    this.#steered.on(event, listener);
    this.#subscriptions.push([event, listener]);
  }

  #conclude(target: AnalysisTarget, report: AnalysisReport, verdict: AnalysisVerdict, counters: AnalysisCounters): AnalysisReport {
    this.#counters = counters;
    const reason = `analysis ${report.outcome}: ${report.reason}`;
    switch (verdict) {
      case 'passed':
        this.emit('analysis', report);
        target.onSuccess.act(reason, report);
        break;
      case 'failed':
        report.decision = target.onFailure.decision;
        this.emit('analysis', report);
        target.onFailure.act(reason, report);
        break;
      case 'needsAttention':
        report.decision = 'pause';
        this.emit('analysis', report);
        target.onNeedsAttention.act(reason, report);
        this.emit('needsAttention', report);
        break;
      case 'continue':
        report.decision = 'hold';
        this.emit('analysis', report);
        this.emit('held', report);
        break;
    }
    return report;
  }

  #errorReport(target: AnalysisTarget, at: number, error: unknown): AnalysisReport {
    const message = error instanceof Error ? error.message : String(error);
    return {
      outcome: 'error',
      decision: 'hold',
      reason: `could not be measured: ${message}`,
      at,
      phase: target.phase,
      candidate: { version: target.candidate, window: 'rolling', totalRequests: 0, errorRate: 0, p99LatencyMs: 0 },
      baseline: undefined,
      checks: [],
      counters: this.#counters,
      percentage: target.percentage,
      error,
    };
  }
}

function gateName(action: GateContext['action']): string {
  return action === 'step' ? 'beforeStep' : 'beforePromote';
}

/** The options object of an analysis adapter, checked before it is taken apart. @internal */
export function checkBinding<T extends AnalysisBinding>(options: T): T {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(`options must be an object holding at least monitor, got ${describeValue(options)}`);
  }
  return options;
}
