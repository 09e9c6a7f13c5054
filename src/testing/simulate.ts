import type { AnalysisReport } from '../analysis/types.js';
import { InvalidStateError, ValidationError, describeValue } from '../errors.js';
import { DeploymentMonitor, type MonitoredVersion } from '../monitor/deployment-monitor.js';
import { checkFunction, checkNumber } from '../options.js';
import type { PredictInput, PredictOutput } from '../predict/types.js';
import { ModelRouter, shadowKey } from '../router/model-router.js';
import { isRoutedError, type RoutedError } from '../router/routed-error.js';
import type { Assignment, RouteContext, RoutingPolicy } from '../routing/policy.js';
import { FakeClock } from './fake-clock.js';

/** What one simulated request did: how long it took and whether it succeeded. */
export interface SimulatedOutcome {
  latencyMs: number;
  success: boolean;
}

/** Something whose `analyze()` runs one analysis: a `CanaryAnalysis`, `BlueGreenAnalysis`, `ABTestAnalysis` or the object `blueGreenAnalysis()` returns. */
export interface Analyzable {
  analyze(): Promise<unknown>;
  /** Whether the rollout it steers has settled (promoted or rolled back): the default end of a simulation. */
  readonly settled?: boolean;
}

/** Options of {@link simulate}. Give a `policy` (and `monitor` and `outcome`) or a `router`. */
export interface SimulateOptions {
  /** The policy under test. Its requests never touch a model: `outcome` says how each went. */
  policy?: RoutingPolicy;
  /** A router under test instead: every request is a real `router.predict(input(i))`, recorded by the router's monitor. */
  router?: ModelRouter;
  /** Policy mode: where outcomes are recorded; the monitor the policy's analysis reads. */
  monitor?: DeploymentMonitor;
  /** The fake clock the policy, its analysis and the monitor read; the simulation advances it. */
  clock: FakeClock;
  /** Requests to send in all (fewer if the rollout settles first). */
  requests: number;
  /** Requests per timeline step (default 100), spread evenly over `stepMs` of fake time. */
  requestsPerStep?: number;
  /** Fake time one step covers, in ms (default 1 000). */
  stepMs?: number;
  /**
   * Call `analysis.analyze()` this often, in fake ms. Leave unset when the analysis's own loop runs
   * (`analysis.start()` with `timers: clock`): its runs land in the timeline all the same.
   */
  analyzeEveryMs?: number;
  /** What `analyzeEveryMs` analyses and whose `analysis` events are collected: the analysis composed around the policy. */
  analysis?: Analyzable;
  /** Distinct unit ids, used round-robin (`unit-0`, `unit-1` …), or a function of the request index; unset: no unit ids (random routing). */
  unitIds?: number | ((index: number) => string | undefined);
  /**
   * The whole route context of request `index`, for what a unit id cannot say, e.g.
   * `(i) => ({ unitId: 'u' + (i % 500), preview: i % 4 === 0 })` to send a quarter of the
   * requests to a blue-green preview slot. Overrides `unitIds`.
   */
  context?: (index: number) => RouteContext | undefined;
  /** The input of request `index` (router mode: required; policy mode: passed to `outcome`). */
  input?: (index: number) => PredictInput;
  /** Policy mode: how a request to `version` went. Mirrored (shadow) requests are asked too. */
  outcome?: (version: number, input: PredictInput | undefined, assignment: Assignment) => SimulatedOutcome;
  /** Stop after the step in which this turns true (default: once `analysis.settled`, i.e. the rollout was promoted or rolled back). */
  until?: () => boolean;
  /**
   * Called once per request, in order, as soon as it is answered and recorded (before the clock
   * moves on), e.g. to log an A/B metric: `(r) => ab.logResult('exp', r.variant, r.output?.['label']?.data[0] === labels[r.index])`.
   * If it throws (or returns a promise that rejects), no further request is sent and `simulate()`
   * rejects with that error; the request it was called for stays recorded.
   */
  onResult?: (result: SimulatedResult) => void | Promise<void>;
}

/** What {@link SimulateOptions.onResult} is told about one request. Mirrored (shadow) calls are not requests: they are not reported here. */
export interface SimulatedResult {
  /** The request's index: 0, 1, 2 … in the order sent, across steps. */
  index: number;
  /** The route context it was sent with (from `context` or `unitIds`), if any. */
  context: RouteContext | undefined;
  /** Its input (router mode: always; policy mode: when `input` is given). */
  input: PredictInput | undefined;
  /** Version that answered (or failed) it. */
  version: number;
  /** Variant, slot or arm that answered (`'stable'`, `'canary'`, `'green'`, `'a'`, `'fallback'` …). */
  variant: string;
  success: boolean;
  /** Router mode: the router's measured time, 0 for a failed request; policy mode: what `outcome` said. */
  latencyMs: number;
  /** Router mode: the prediction's output; `undefined` when it failed, and in policy mode. */
  output: PredictOutput | undefined;
  /** Router mode: why it failed (the router's routed error); `undefined` when it succeeded, and in policy mode. */
  error?: RoutedError;
}

/** One version's traffic in one step. */
export interface SimulatedVersionStep {
  /** Version number, or `'shadow:<n>'` for mirrored calls. */
  version: MonitoredVersion;
  requests: number;
  failures: number;
  /** `failures / requests`; 0 without requests. */
  errorRate: number;
  /** Exact 99th percentile of this step's latencies, in ms; 0 without requests. */
  p99LatencyMs: number;
  /** Share of the step's requests it answered, in [0, 1] (mirrored calls: share of requests mirrored). */
  share: number;
}

/**
 * One step of the timeline. `Report` is what the analysis emits as `analysis`: an
 * `AnalysisReport` for canaries and blue-green switches, an `ABTestAnalysisReport` for an
 * `ABTestAnalysis` (call `simulate<ABTestAnalysisReport>(…)`).
 */
export interface SimulationStep<Report = AnalysisReport> {
  /** 0, 1, 2 … */
  index: number;
  /** Fake time at the start and end of the step, in ms. */
  startMs: number;
  endMs: number;
  /**
   * Candidate traffic in percent at the start of the step: the share `policy.traffic()` gives the
   * versions other than `fallback()`'s (a canary's percentage, an A/B test's challengers), or, when
   * that is 0 or the policy has no `traffic()` (a blue-green preview, a shadow), the measured share
   * of requests not answered by `fallback()`.
   */
  percentage: number;
  /** The policy's `state.status` at the end of the step, when it has one. */
  status: string | undefined;
  requests: number;
  /** Per version, ordered as first seen. */
  versions: SimulatedVersionStep[];
  /** Analyses that ran during the step. */
  decisions: Report[];
}

/** What {@link simulate} returns. */
export interface Simulation<Report = AnalysisReport> {
  steps: Array<SimulationStep<Report>>;
  /** Every analysis, in order. */
  decisions: Report[];
  /** Requests sent. */
  requests: number;
  /** Highest `percentage` of any step. */
  maxPercentage: number;
}

class StepTally {
  readonly latencies = new Map<MonitoredVersion, number[]>();
  readonly failures = new Map<MonitoredVersion, number>();
  answered = 0;
  notFallback = 0;

  add(version: MonitoredVersion, latencyMs: number, success: boolean): void {
    let list = this.latencies.get(version);
    if (list === undefined) {
      list = [];
      this.latencies.set(version, list);
      this.failures.set(version, 0);
    }
    list.push(latencyMs);
    if (!success) this.failures.set(version, (this.failures.get(version) as number) + 1);
  }

  versions(requests: number): SimulatedVersionStep[] {
    return [...this.latencies].map(([version, latencies]) => {
      const failures = this.failures.get(version) as number;
      const sorted = Float64Array.from(latencies).sort();
      return {
        version,
        requests: latencies.length,
        failures,
        errorRate: latencies.length === 0 ? 0 : failures / latencies.length,
        p99LatencyMs: sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] as number),
        share: requests === 0 ? 0 : latencies.length / requests,
      };
    });
  }
}

interface PolicyState {
  state?: { status?: unknown };
}

/** The policy's own `state.status`, when it has one, for the timeline (a canary's `'progressing'` …). */
function policyStatus(policy: RoutingPolicy): string | undefined {
  const status = (policy as PolicyState).state?.status;
  return typeof status === 'string' ? status : undefined;
}

/** Percent of live traffic the policy sends to other versions than its fallback, from `traffic()`. */
function candidatePercentage(policy: RoutingPolicy): number | undefined {
  const traffic = policy.traffic?.();
  if (traffic === undefined) return undefined;
  const fallback = policy.fallback().version;
  let share = 0;
  for (const t of traffic) if (t.version !== fallback) share += t.share;
  return 100 * share;
}

function hasAnalyze(value: unknown): value is Analyzable {
  return typeof value === 'object' && value !== null && typeof (value as Analyzable).analyze === 'function';
}

function hasOn<Report>(value: unknown): value is { on(event: 'analysis', fn: (r: Report) => void): unknown; off(event: 'analysis', fn: (r: Report) => void): unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { on?: unknown }).on === 'function' && typeof (value as { off?: unknown }).off === 'function';
}

/**
 * Runs a rollout policy (or a whole router) through `requests` requests on a fake clock in
 * milliseconds of real time, and returns a timeline: per step the candidate percentage, per-version
 * requests, error rate and p99, and the analysis decisions taken. Made to unit-test a rollout:
 * "a candidate that fails 10 % is rolled back before it takes more than 10 % of traffic".
 * `onResult` hands the caller each request as it is answered (version, variant, outcome and, with
 * a router, the prediction's output), e.g. to log an A/B metric per request.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 60_000 });
 * const canary = new CanaryDeployment({
 *   stable: 1, canary: 2, steps: [5, 10, 25, 50, 100], clock: clock.now, monitor,
 *   analysis: { intervalMs: 60_000, minRequests: 100, maxErrorRate: 0.02 },
 * });
 * canary.start();
 * const random = seededRandom(7);
 * const run = await simulate({
 *   policy: canary, monitor, clock, requests: 100_000, requestsPerStep: 1_000, stepMs: 10_000,
 *   analyzeEveryMs: 60_000, unitIds: 10_000,
 *   outcome: (version) => ({ latencyMs: 5, success: version === 2 ? random() >= 0.1 : true }),
 * });
 * expect(canary.state.status).toBe('rolledBack');
 * expect(run.maxPercentage).toBeLessThanOrEqual(10);
 * ```
 */
export async function simulate<Report = AnalysisReport>(options: SimulateOptions): Promise<Simulation<Report>> {
  if (typeof options !== 'object' || options === null) throw new ValidationError(`options must be an object, got ${describeValue(options)}`);
  const { router, clock } = options;
  if ((router === undefined) === (options.policy === undefined)) {
    throw new ValidationError('simulate() needs exactly one of policy or router, got ' + (router === undefined ? 'neither' : 'both'));
  }
  if (router !== undefined && !(router instanceof ModelRouter)) throw new ValidationError(`router must be a ModelRouter, got ${describeValue(router)}`);
  const policy = router?.policy ?? (options.policy as RoutingPolicy);
  if (typeof policy?.route !== 'function') throw new ValidationError(`policy must be a routing policy, got ${describeValue(policy)}`);
  if (!(clock instanceof FakeClock)) {
    throw new ValidationError(`clock must be the FakeClock the policy and monitor read, got ${describeValue(clock)}`);
  }
  const requests = checkNumber('requests', options.requests, { min: 1, integer: true });
  const perStep = checkNumber('requestsPerStep', options.requestsPerStep ?? 100, { min: 1, integer: true });
  const stepMs = checkNumber('stepMs', options.stepMs ?? 1_000, { min: 0, exclusiveMin: true });
  const analyzeEveryMs =
    options.analyzeEveryMs === undefined ? undefined : checkNumber('analyzeEveryMs', options.analyzeEveryMs, { min: 1 });
  const input = options.input === undefined ? undefined : checkFunction<(i: number) => PredictInput>('input', options.input);
  const until = options.until === undefined ? undefined : checkFunction<() => boolean>('until', options.until);
  const onResult =
    options.onResult === undefined ? undefined : checkFunction<NonNullable<SimulateOptions['onResult']>>('onResult', options.onResult);
  const contextOf =
    options.context === undefined ? contexts(options.unitIds) : checkFunction<(i: number) => RouteContext | undefined>('context', options.context);
  const analysis = options.analysis;
  if (analyzeEveryMs !== undefined && !hasAnalyze(analysis)) {
    throw new ValidationError(`analyzeEveryMs needs something to analyze: pass the analysis composed around the policy, got ${describeValue(analysis)}`);
  }

  let send: (index: number, tally: StepTally) => Promise<void>;
  if (router !== undefined) {
    if (input === undefined) throw new ValidationError('input must be a function of the request index in router mode, got undefined');
    if (options.outcome !== undefined) {
      throw new ValidationError("outcome is for policy mode; a router's outcomes come from its predictors (inject failures through its pool's create option)");
    }
    send = async (index, tally) => {
      const given = input(index);
      const context = contextOf(index);
      let result: SimulatedResult;
      try {
        const prediction = await router.predict(given, context);
        result = { index, context, input: given, version: prediction.version, variant: prediction.variant, success: true, latencyMs: prediction.latencyMs, output: prediction.output };
      } catch (error) {
        if (!isRoutedError(error)) throw error;
        result = { index, context, input: given, version: error.version, variant: error.variant, success: false, latencyMs: 0, output: undefined, error };
      }
      tally.add(result.version, result.latencyMs, result.success);
      tally.answered++;
      if (result.version !== policy.fallback().version) tally.notFallback++;
      // Outside the try: the hook's own error must reach the caller, never be taken for a failed request.
      if (onResult !== undefined) await onResult(result);
    };
  } else {
    const monitor = options.monitor;
    if (!(monitor instanceof DeploymentMonitor)) {
      throw new ValidationError(`monitor must be the DeploymentMonitor the policy's analysis reads, got ${describeValue(monitor)}`);
    }
    const outcome = checkFunction<NonNullable<SimulateOptions['outcome']>>('outcome', options.outcome);
    const run = (version: number, given: PredictInput | undefined, assignment: Assignment): SimulatedOutcome => {
      const result = outcome(version, given, assignment);
      if (
        typeof result !== 'object' || result === null ||
        typeof result.latencyMs !== 'number' || !(result.latencyMs >= 0 && result.latencyMs < Infinity) ||
        typeof result.success !== 'boolean'
      ) {
        throw new ValidationError(`outcome must return { latencyMs: a finite number >= 0, success: a boolean }, got ${describeValue(result)}`);
      }
      return result;
    };
    send = async (index, tally) => {
      const context = contextOf(index);
      const assignment = policy.route(context);
      const given = input?.(index);
      const result = run(assignment.version, given, assignment);
      monitor.record(assignment.version, result.latencyMs, result.success);
      tally.add(assignment.version, result.latencyMs, result.success);
      tally.answered++;
      if (assignment.version !== policy.fallback().version) tally.notFallback++;
      const mirror = assignment.mirror;
      if (mirror !== undefined) {
        const mirrored = run(mirror.version, given, assignment);
        const key = shadowKey(mirror.version);
        monitor.record(key, mirrored.latencyMs, mirrored.success);
        tally.add(key, mirrored.latencyMs, mirrored.success);
      }
      if (onResult !== undefined) {
        await onResult({
          index, context, input: given, version: assignment.version, variant: assignment.variant,
          success: result.success, latencyMs: result.latencyMs, output: undefined,
        });
      }
    };
  }

  const decisions: Report[] = [];
  let stepDecisions: Report[] = [];
  const collect = (report: Report) => {
    decisions.push(report);
    stepDecisions.push(report);
  };
  const listening = hasOn<Report>(analysis);
  if (listening) analysis.on('analysis', collect);
  const timer =
    analyzeEveryMs === undefined
      ? undefined
      : clock.setInterval(async () => {
          try {
            const report = await (analysis as Analyzable).analyze();
            if (!listening) collect(report as Report);
          } catch (error) {
            // Paused, promoted or rolled back: nothing to analyse at this tick.
            if (!(error instanceof InvalidStateError)) throw error;
          }
        }, analyzeEveryMs);

  const settled = until ?? (() => analysis?.settled === true);
  const steps: Array<SimulationStep<Report>> = [];
  const gapMs = stepMs / perStep;
  let sent = 0;
  try {
    while (sent < requests) {
      const tally = new StepTally();
      stepDecisions = [];
      const startMs = clock.now();
      const planned = candidatePercentage(policy);
      const setPercentage = planned === 0 ? undefined : planned;
      const count = Math.min(perStep, requests - sent);
      for (let i = 0; i < count; i++) {
        await send(sent + i, tally);
        await clock.tickAsync(gapMs);
      }
      sent += count;
      steps.push({
        index: steps.length,
        startMs,
        endMs: clock.now(),
        percentage: setPercentage ?? (tally.answered === 0 ? 0 : (100 * tally.notFallback) / tally.answered),
        status: policyStatus(policy),
        requests: count,
        versions: tally.versions(count),
        decisions: stepDecisions,
      });
      if (settled()) break;
    }
  } finally {
    if (timer !== undefined) clock.clearInterval(timer);
    if (listening) analysis.off('analysis', collect);
  }
  return { steps, decisions, requests: sent, maxPercentage: Math.max(0, ...steps.map((s) => s.percentage)) };
}

function contexts(option: SimulateOptions['unitIds']): (index: number) => RouteContext | undefined {
  if (option === undefined) return () => undefined;
  if (typeof option === 'function') {
    const unitIdOf = checkFunction<(index: number) => string | undefined>('unitIds', option);
    return (index) => {
      const unitId = unitIdOf(index);
      return unitId === undefined ? undefined : { unitId };
    };
  }
  const count = checkNumber('unitIds', option, { min: 1, integer: true });
  const ids = Array.from({ length: count }, (_, k) => ({ unitId: `unit-${k}` }));
  return (index) => ids[index % count];
}
