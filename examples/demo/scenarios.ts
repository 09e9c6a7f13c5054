/**
 * The demo's scenarios. Each one builds a policy, puts a `ModelRouter` in front of it, sends real
 * traffic (real ONNX predictions) through it step by step on a fake clock, and records what
 * happened as a {@link ScenarioTimeline} with the expectations it checks.
 */
import {
  ABTestAnalysis,
  ABTestController,
  BlueGreenSwitch,
  CanaryDeployment,
  ModelRouter,
  blueGreenAnalysis,
  canaryAnalysis,
  type CanaryAnalysis,
  judgeEvidence,
  outcomesBetween,
  type AnalysisReport,
  type ConcludedEvent,
  type DeploymentMonitor,
  type ModelRegistry,
  type ModelVersion,
  type PredictorPool,
  type RandomSource,
  type RouteContext,
} from '../../src/index.js';
import { simulate, type Analyzable, type FakeClock, type SimulatedResult, type SimulationStep } from '../../src/testing/index.js';
import type { IrisRow } from './iris.js';
import { formatPercent, type ScenarioTimeline, type TimelineStep, type VersionStep } from './timeline.js';

/** Everything the scenarios share: one registry, one warm pool, one monitor, one clock, like one service. */
export interface DemoContext {
  registry: ModelRegistry;
  pool: PredictorPool<ModelVersion>;
  monitor: DeploymentMonitor;
  clock: FakeClock;
  random: RandomSource;
  model: string;
  /** Every iris row (what production traffic looks like). */
  rows: readonly IrisRow[];
  /** The held-out rows, whose true class scores an A/B test. */
  heldOut: readonly IrisRow[];
  /** What a QA team sends to a blue-green preview slot. */
  smokeRows: readonly IrisRow[];
  /** Called with each finished step, to print it live. */
  onStep: (scenario: ScenarioTimeline, step: TimelineStep) => void;
  /** Called when a scenario starts, to print its heading. */
  onStart: (scenario: ScenarioTimeline) => void;
}

/**
 * Scenario time between two analyses (the monitor's rolling window is as long). A whole number of
 * ms per request (20 ms at 600 requests a step), so fake time lands exactly on every interval.
 */
export const INTERVAL_MS = 12_000;
/** Requests per step; at 5 % a canary gets about 30 of them. */
export const REQUESTS_PER_STEP = 600;
/** While blue-green verifies the idle slot, one request in this many is a QA preview request. */
export const PREVIEW_EVERY = 4;
/**
 * Requests per A/B step: few, so the always-valid p-value can be watched falling step by step
 * (it may be looked at after every step without inflating false positives).
 */
export const AB_REQUESTS_PER_STEP = 40;
/** The p99 latency limit of every analysis and guardrail, in ms. */
export const MAX_P99_MS = 250;
/** Sticky users sending them. */
export const USERS = 5_000;

/** Starts a timeline and tells the printer. */
function begin(ctx: DemoContext, id: string, title: string, versions: number[]): ScenarioTimeline {
  const scenario: ScenarioTimeline = { id, title, versions, steps: [], notes: [], expectations: [] };
  ctx.onStart(scenario);
  return scenario;
}

function expect(scenario: ScenarioTimeline, description: string, passed: boolean, actual?: string): void {
  scenario.expectations.push({ description, passed, ...(actual !== undefined && { actual }) });
}

/**
 * One step of real traffic through `simulate()`: {@link REQUESTS_PER_STEP} predictions (or
 * `requests`) over {@link INTERVAL_MS} of fake time, from random sticky users sending random iris
 * rows (or what `request` says). Analyses due at the end of the step run inside it, on the fake
 * clock's timers.
 */
async function simulatedStep(
  ctx: DemoContext,
  scenario: ScenarioTimeline,
  started: number,
  options: {
    router: ModelRouter;
    phase: string;
    /** Default {@link REQUESTS_PER_STEP}. */
    requests?: number;
    /** The candidate's share the policy means to send, in percent (default: `simulate()`'s, the share not answered by the policy's fallback). */
    percentage?: number;
    /** Request `i`'s route context and row (default: a random user and a random row). */
    request?: (index: number) => { context: RouteContext; row: IrisRow };
    /** Each answered request with the row it sent (`simulate()`'s `onResult`). */
    onResult?: (result: SimulatedResult, row: IrisRow) => void;
    /** The analysis composed around the policy, whose runs in this step `simulate()` collects. */
    analysis?: Analyzable;
    /** The step's decision, from the analyses that ran in it (collected by `simulate()`). */
    decide: (reports: readonly AnalysisReport[]) => string | undefined;
    /** What the evidence method, run beside, concluded in the step. */
    evidence?: () => string | undefined;
  },
): Promise<TimelineStep> {
  const requests = new Map<number, { context: RouteContext; row: IrisRow }>();
  const requestOf = (index: number) => {
    let request = requests.get(index);
    if (request === undefined) {
      request = options.request?.(index) ?? {
        context: { unitId: `user-${Math.floor(ctx.random() * USERS)}` },
        row: ctx.rows[Math.floor(ctx.random() * ctx.rows.length)]!,
      };
      requests.set(index, request);
    }
    return request;
  };
  const requestCount = options.requests ?? REQUESTS_PER_STEP;
  const { onResult } = options;
  const run = await simulate({
    router: options.router,
    ...(options.analysis !== undefined && { analysis: options.analysis }),
    clock: ctx.clock,
    requests: requestCount,
    requestsPerStep: requestCount,
    stepMs: INTERVAL_MS,
    context: (i) => requestOf(i).context,
    input: (i) => requestOf(i).row.features,
    ...(onResult !== undefined && { onResult: (result: SimulatedResult) => onResult(result, requestOf(result.index).row) }),
  });
  const simulated = run.steps[0]!;
  const step = fromSimulationStep(simulated, scenario.versions, options.phase, options.decide(simulated.decisions));
  const evidence = options.evidence?.();
  if (evidence !== undefined) step.evidence = evidence;
  return record(ctx, scenario, started, options.percentage === undefined ? step : { ...step, percentage: options.percentage });
}

/** Appends a finished step (its `atMs` in clock time) to the timeline, in scenario time, and prints it. */
function record(ctx: DemoContext, scenario: ScenarioTimeline, started: number, entry: TimelineStep): TimelineStep {
  const step = { ...entry, atMs: entry.atMs - started };
  scenario.steps.push(step);
  ctx.onStep(scenario, step);
  return step;
}

/** A `simulate()` step as a timeline step (per-version numbers for `versions`, in that order). */
export function fromSimulationStep(step: SimulationStep, versions: readonly number[], phase: string, decision: string | undefined): TimelineStep {
  const byVersion = new Map<number, VersionStep>();
  for (const version of versions) {
    const simulated = step.versions.find((v) => v.version === version);
    byVersion.set(version, {
      requests: simulated?.requests ?? 0,
      errors: simulated?.failures ?? 0,
      errorRate: simulated?.errorRate ?? 0,
      p99Ms: simulated && simulated.requests > 0 ? simulated.p99LatencyMs : undefined,
    });
  }
  return { atMs: step.endMs, phase, percentage: step.percentage, versions: byVersion, ...(decision !== undefined && { decision }) };
}

/** One line for an analysis run: its outcome, what it did and, when it did not advance, why. */
export function describeAnalysis(report: AnalysisReport, after: { percentage: number }): string {
  switch (report.decision) {
    case 'advance':
      return `${report.outcome} → ${after.percentage}%`;
    case 'promote':
      return `${report.outcome} → promoted`;
    case 'rollback':
      return `${report.outcome} (${breaches(report)}) → rolled back`;
    default:
      return `${report.outcome} → ${report.decision} (${report.reason})`;
  }
}

/** The checks a run failed, e.g. `errorRate 31.4% > 1.0%, errorRate 31.4% > 1.0% (v2's 0.0% + 1.0%)`. */
function breaches(report: AnalysisReport): string {
  const failed = report.checks.filter((c) => c.passed === false);
  if (failed.length === 0) return report.reason;
  const show = (metric: string, v: number): string => (metric === 'errorRate' ? formatPercent(v) : `${v.toFixed(2)}ms`);
  return failed
    .map((c) => {
      const limit = `${c.metric} ${show(c.metric, c.value)} > ${show(c.metric, c.threshold)}`;
      if (c.kind !== 'relative' || c.baseline === undefined || !report.baseline) return limit;
      const of = `v${report.baseline.version}'s ${show(c.metric, c.baseline)}`;
      return c.metric === 'errorRate'
        ? `${limit} (${of} + ${show(c.metric, c.threshold - c.baseline)})`
        : `${limit} (${of} × ${(c.threshold / c.baseline).toFixed(2)})`;
    })
    .join(', ');
}

/**
 * The limits every analysis of the demo judges a version by, Flagger-like, every
 * {@link INTERVAL_MS} of scenario time.
 */
const ANALYSIS_LIMITS = {
  intervalMs: INTERVAL_MS,
  minRequests: 25,
  maxErrorRate: 0.01,
  // Iris answers in well under 1 ms; the limit is generous because a loaded 2-core CI box can
  // stall a small sample's slowest request by tens of ms, and a p99 that noise can fail would
  // roll back a good version. (Relative latency limits are worse still at sub-ms latencies.)
  maxP99LatencyMs: MAX_P99_MS,
  relative: { maxErrorRateIncrease: 0.01 },
} as const;

/** How each canary is analysed: the shared limits, Argo's default failure and inconclusive limits. */
export const CANARY_ANALYSIS = { ...ANALYSIS_LIMITS, failureLimit: 0, inconclusiveLimit: 2 } as const;

/** The margins the evidence method judges by in the demo: the threshold method's relative error limit, and 20 % of p95 latency. */
export const EVIDENCE_MARGINS = { maxErrorRateIncrease: CANARY_ANALYSIS.relative.maxErrorRateIncrease, maxLatencyRatio: 1.2, minRequests: CANARY_ANALYSIS.minRequests } as const;

/**
 * The evidence method beside a canary's threshold analysis, on the same traffic, as a dry run:
 * at every analysis it judges both versions' outcomes since the step began (`judgeEvidence`, α
 * split over the steps below 100 % as an evidence analysis does), and remembers the first run at
 * which it would have failed the candidate.
 */
function evidenceBeside(monitor: DeploymentMonitor, canary: CanaryDeployment, analysis: CanaryAnalysis, stable: number, candidate: number) {
  const alpha = 0.05 / Math.max(1, canary.steps.filter((s) => s < 100).length);
  let start = { stable: monitor.outcomes(stable), candidate: monitor.outcomes(candidate) };
  const restart = () => {
    start = { stable: monitor.outcomes(stable), candidate: monitor.outcomes(candidate) };
  };
  let latest: string | undefined;
  let firstFailure: { candidateRequests: number; atRun: number } | undefined;
  let runs = 0;
  canary.on('started', restart);
  // The analysis event comes before the step it decides, so each run is judged on its own step.
  analysis.on('analysis', () => {
    runs++;
    const window = {
      stable: outcomesBetween(monitor.outcomes(stable), start.stable),
      candidate: outcomesBetween(monitor.outcomes(candidate), start.candidate),
    };
    const judgement = judgeEvidence(window.stable, window.candidate, { ...EVIDENCE_MARGINS, alpha });
    const errors = judgement.checks.find((c) => c.metric === 'errorRate')?.evidence;
    const seen = `v${candidate} ${window.candidate.totalRequests} req`;
    latest = errors
      ? `evidence: ${judgement.outcome} (${seen}, error difference in [${formatPercent(errors.differenceCi[0])}, ${formatPercent(errors.differenceCi[1])}])`
      : `evidence: ${judgement.outcome} (${seen} < ${EVIDENCE_MARGINS.minRequests})`;
    if (judgement.outcome === 'failed' && firstFailure === undefined) firstFailure = { candidateRequests: window.candidate.totalRequests, atRun: runs };
  });
  canary.on('stepped', (e) => {
    if (e.to < 100) restart();
  });
  return {
    take(): string | undefined {
      const line = latest;
      latest = undefined;
      return line;
    },
    summary(): string {
      return firstFailure === undefined
        ? `Evidence method beside it (dry run, α 0.05, margin +${formatPercent(EVIDENCE_MARGINS.maxErrorRateIncrease)} errors, ×${EVIDENCE_MARGINS.maxLatencyRatio} p95): never failed v${candidate}.`
        : `Evidence method beside it (dry run, same traffic): would have failed v${candidate} at analysis ${firstFailure.atRun}, after ${firstFailure.candidateRequests} of its requests.`;
    },
  };
}

/** Options of {@link runCanary}. */
export interface CanaryScenarioOptions {
  id: string;
  title: string;
  stable: number;
  candidate: number;
  steps: number[];
  /** `'promoted'` or `'rolledBack'`: how the analysis must end the rollout. */
  expected: 'promoted' | 'rolledBack';
}

/**
 * A canary of `candidate` against `stable`, driven entirely by its `analysis` on the fake
 * clock's timers: nobody calls `increase`, `promote` or `rollback` by hand. When it is promoted
 * the production alias follows, as a host would wire it.
 */
export async function runCanary(ctx: DemoContext, options: CanaryScenarioOptions): Promise<ScenarioTimeline> {
  const { stable, candidate } = options;
  const scenario = begin(ctx, options.id, options.title, [stable, candidate]);
  const started = ctx.clock.now();
  const canary = new CanaryDeployment({
    stable,
    canary: candidate,
    steps: options.steps,
    name: options.id,
    clock: ctx.clock.now,
    random: ctx.random,
  });
  const analysis = canaryAnalysis(canary, { ...CANARY_ANALYSIS, monitor: ctx.monitor, clock: ctx.clock.now, timers: ctx.clock });
  const router = new ModelRouter({ registry: ctx.registry, model: ctx.model, policy: canary, monitor: ctx.monitor, pool: ctx.pool });

  const aliasMoves: Promise<void>[] = [];
  canary.on('promoted', (e) => {
    aliasMoves.push(
      ctx.registry.setAlias(ctx.model, 'production', e.to, { by: 'canary-analysis', reason: `canary ${options.id} promoted` }),
    );
  });

  // The evidence method as a dry run on the same traffic: judged at every analysis, never acting.
  const evidence = evidenceBeside(ctx.monitor, canary, analysis, stable, candidate);
  canary.start();
  analysis.start();
  // One simulate() call per step, so each step is printed as soon as it ends; the analysis runs
  // on its own interval (the fake clock's timers) and simulate() collects its reports.
  const simulateStep = (phase: string): Promise<TimelineStep> =>
    simulatedStep(ctx, scenario, started, {
      router,
      analysis,
      phase,
      decide: (reports) => {
        const report = reports[reports.length - 1];
        return report && describeAnalysis(report, canary.state);
      },
      evidence: () => evidence.take(),
    });

  const maxSteps = options.steps.length + CANARY_ANALYSIS.inconclusiveLimit + 2;
  for (let i = 0; i < maxSteps && canary.state.status === 'progressing'; i++) {
    await simulateStep(`canary ${canary.state.percentage}%`);
  }
  analysis.stop();
  await Promise.all(aliasMoves);
  const settled = canary.state;
  const rolloutSteps = scenario.steps.slice();
  const maxCandidateShare = Math.max(...rolloutSteps.map((s) => s.percentage));
  // One more step after the decision: where does everyone go now?
  const after = await simulateStep(settled.status === 'promoted' ? `promoted: all on v${settled.stable}` : `rolled back: all on v${settled.stable}`);

  const candidateTotals = rolloutSteps.reduce(
    (acc, s) => {
      const v = s.versions.get(candidate);
      return { requests: acc.requests + (v?.requests ?? 0), errors: acc.errors + (v?.errors ?? 0) };
    },
    { requests: 0, errors: 0 },
  );
  const rolloutRequests = rolloutSteps.reduce((n, s) => n + [...s.versions.values()].reduce((m, v) => m + v.requests, 0), 0);
  const production = await ctx.registry.resolve(ctx.model, '@production');
  scenario.notes.push(evidence.summary());

  if (options.expected === 'promoted') {
    expect(scenario, `analysis promoted v${candidate} through ${options.steps.join(' → ')} %`, settled.status === 'promoted' && settled.stable === candidate, `status ${settled.status}, stable v${settled.stable}`);
    expect(scenario, `v${candidate} served every request after promotion`, after.versions.get(candidate)?.requests === REQUESTS_PER_STEP, `${after.versions.get(candidate)?.requests ?? 0} of ${REQUESTS_PER_STEP}`);
    expect(scenario, `v${candidate} failed no request`, candidateTotals.errors === 0, `${candidateTotals.errors} errors`);
    expect(scenario, `production alias moved to v${candidate}`, production.version === candidate, `@production is v${production.version}`);
    scenario.notes.push(
      `v${candidate} took over in ${rolloutSteps.length} analysis intervals (${(rolloutSteps.length * INTERVAL_MS) / 1000} s of scenario time), answering ${candidateTotals.requests} requests on the way.`,
    );
  } else {
    expect(scenario, `analysis rolled v${candidate} back automatically`, settled.status === 'rolledBack' && settled.stable === stable, `status ${settled.status}`);
    expect(scenario, `v${candidate} never got more than ${options.steps[0]}% of traffic`, maxCandidateShare <= options.steps[0]!, `${maxCandidateShare}%`);
    expect(scenario, `no request reached v${candidate} after the rollback`, (after.versions.get(candidate)?.requests ?? 0) === 0, `${after.versions.get(candidate)?.requests ?? 0} requests`);
    expect(scenario, `production alias stayed on v${stable}`, production.version === stable, `@production is v${production.version}`);
    scenario.notes.push(
      `Blast radius: ${candidateTotals.errors} failed requests of ${rolloutRequests} (${formatPercent(candidateTotals.errors / rolloutRequests, 2)}) before the analysis rolled v${candidate} back; a full switch would have failed ${formatPercent(candidateTotals.requests === 0 ? 0 : candidateTotals.errors / candidateTotals.requests)} of all requests.`,
    );
  }
  return scenario;
}

/** Options of {@link runAbTest}. */
export interface AbTestScenarioOptions {
  control: number;
  challenger: number;
  maxSteps: number;
}

/**
 * An A/B test of two versions on a real binary outcome: each user sends a held-out iris row and
 * the result is whether the served version classified it correctly. The experiment uses the
 * always-valid sequential test, so its analysis may look after every step and conclude it as soon
 * as it is significant; its guardrails would stop a challenger that errs or is slow.
 */
export async function runAbTest(ctx: DemoContext, options: AbTestScenarioOptions): Promise<ScenarioTimeline> {
  const { control, challenger } = options;
  const name = 'iris-accuracy';
  const scenario = begin(ctx, 'ab-test', `A/B test: v${control} vs v${challenger} on held-out accuracy`, [control, challenger]);
  const started = ctx.clock.now();
  const ab = new ABTestController({ clock: ctx.clock.now, random: ctx.random });
  ab.createExperiment(name, {
    variants: [
      { name: 'a', version: control },
      { name: 'b', version: challenger },
    ],
    metric: { kind: 'binary' },
    sequential: true,
    alpha: 0.05,
  });
  // Concluded on its own once the always-valid test is significant; a challenger that errs or
  // is slow is stopped by the guardrails.
  const analysis = new ABTestAnalysis(ab, name, {
    monitor: ctx.monitor,
    clock: ctx.clock.now,
    guardrails: { maxErrorRate: 0.01, maxP99LatencyMs: MAX_P99_MS, minRequests: 10 },
  });
  const router = new ModelRouter({ registry: ctx.registry, model: ctx.model, policy: ab.policy(name), monitor: ctx.monitor, pool: ctx.pool });
  // Each user sends a random held-out row; the metric is whether the answer was its true class.
  const heldOutRequest = (): { context: RouteContext; row: IrisRow } => {
    const row = ctx.heldOut[Math.floor(ctx.random() * ctx.heldOut.length)]!;
    return { context: { unitId: `user-${Math.floor(ctx.random() * USERS)}` }, row };
  };
  const logOutcome = (result: SimulatedResult, row: IrisRow): void => {
    if (!result.success || result.variant === 'fallback') return;
    ab.logResult(name, result.variant, result.output?.['label']?.data[0] === row.label);
  };

  let concluded: ConcludedEvent | undefined;
  ab.on('concluded', (e) => (concluded = e));
  analysis.start({ intervalMs: INTERVAL_MS, timers: ctx.clock });
  for (let i = 0; i < options.maxSteps && !concluded; i++) {
    await simulatedStep(ctx, scenario, started, {
      router,
      phase: 'A/B 50/50',
      percentage: 50,
      requests: AB_REQUESTS_PER_STEP,
      request: heldOutRequest,
      onResult: logOutcome,
      decide: () => {
        const p = ab.results(name).comparisons['b']?.pValue;
        const shownP = p === undefined ? 'n/a' : formatP(p);
        if (!concluded) return `p = ${shownP}: keep collecting`;
        return concluded.decision === 'significant'
          ? `p = ${shownP} → concluded: '${concluded.winner}' (v${concluded.version}) wins`
          : `→ stopped: '${concluded.winner}' (v${concluded.version}) serves everyone (${concluded.decision})`;
      },
    });
  }
  analysis.stop();
  const results = ab.results(name);
  if (concluded) {
    await simulatedStep(ctx, scenario, started, {
      router,
      phase: `concluded: all on v${concluded.version}`,
      percentage: 100,
      requests: AB_REQUESTS_PER_STEP,
      request: heldOutRequest,
      decide: () => undefined,
    });
  }
  const [a, b] = results.variants;
  const comparison = results.comparisons['b'];
  scenario.notes.push(
    ...results.variants.map(
      (v) => `'${v.name}' v${v.version}: accuracy ${formatPercent(v.mean)} over ${v.count} requests (95% CI ${v.ci ? `${formatPercent(v.ci[0])}–${formatPercent(v.ci[1])}` : 'n/a'})`,
    ),
    comparison
      ? `difference ${formatPercent(comparison.difference)} (confidence sequence ${formatPercent(comparison.differenceCi[0])}–${formatPercent(comparison.differenceCi[1])}), always-valid p = ${formatP(comparison.pValue)}; sample ratio check: ${results.srm.status}`
      : 'no comparison yet',
  );
  expect(scenario, `the analysis concluded the experiment with v${challenger} ('b') as the significant winner`, concluded?.winner === 'b' && concluded.decision === 'significant', concluded ? `${concluded.winner} (${concluded.decision})` : 'not concluded');
  expect(scenario, 'no sample ratio mismatch', !results.srm.mismatch, results.srm.status);
  expect(scenario, 'both arms measured', (a?.count ?? 0) > 0 && (b?.count ?? 0) > 0);
  return scenario;
}

function formatP(p: number): string {
  return p < 0.0001 ? p.toExponential(1) : p.toFixed(4);
}

/** How both blue-green analyses judge a version: the canary's limits. */
export const BLUE_GREEN_ANALYSIS = ANALYSIS_LIMITS;

/**
 * Blue-green, Argo style, with both analyses on: v`active` serves, v`candidate` is deployed to the
 * idle slot and a QA team's smoke set is sent to it as preview requests; pre-promotion analysis
 * judges those and switches everyone at once; post-promotion analysis judges the new version on
 * live traffic and, if it fails, switches everyone back in one call. Here the smoke set has no
 * long petal, so it cannot see v3's bug: the switch happens, and the safety net catches it.
 */
export async function runBlueGreen(ctx: DemoContext, options: { active: number; candidate: number }): Promise<ScenarioTimeline> {
  const { active, candidate } = options;
  const scenario = begin(ctx, 'blue-green', `Blue-green v${active} → v${candidate}: preview-verified switch, automatic switch back`, [active, candidate]);
  const started = ctx.clock.now();
  const bg = new BlueGreenSwitch({ blue: active, clock: ctx.clock.now });
  const analyses = blueGreenAnalysis(bg, {
    monitor: ctx.monitor,
    clock: ctx.clock.now,
    prePromotion: { ...BLUE_GREEN_ANALYSIS, timers: ctx.clock },
    postPromotion: { ...BLUE_GREEN_ANALYSIS, timers: ctx.clock },
  });
  const router = new ModelRouter({ registry: ctx.registry, model: ctx.model, policy: bg, monitor: ctx.monitor, pool: ctx.pool });
  // Each loop judges its phase only after a full interval of that phase's own traffic, so the
  // post-promotion run never reads the preview traffic from before the switch.
  analyses.start();
  const decide = (reports: readonly AnalysisReport[]): string | undefined =>
    reports.length === 0 ? undefined : reports.map((r) => `${r.phase} ${describeBlueGreen(r, bg)}`).join('; ');

  await simulatedStep(ctx, scenario, started, {
    router,
    analysis: analyses,
    phase: `blue v${active} active`,
    decide: () => {
      bg.deploy(candidate);
      return `deploy(${candidate}) → green, idle; QA preview starts`;
    },
  });

  // Every PREVIEW_EVERY-th request is the QA team's, flagged preview: the idle slot answers it.
  const previewing = (index: number): { context: RouteContext; row: IrisRow } =>
    index % PREVIEW_EVERY === 0
      ? { context: { unitId: `qa-${index}`, preview: true }, row: ctx.smokeRows[(index / PREVIEW_EVERY) % ctx.smokeRows.length]! }
      : { context: { unitId: `user-${Math.floor(ctx.random() * USERS)}` }, row: ctx.rows[Math.floor(ctx.random() * ctx.rows.length)]! };
  const previewSteps: TimelineStep[] = [];
  for (let i = 0; i < 3 && bg.state.activeVersion === active; i++) {
    previewSteps.push(await simulatedStep(ctx, scenario, started, { router, analysis: analyses, phase: `live v${active} + preview v${candidate}`, request: previewing, decide }));
  }
  const switchedTo = bg.state.activeVersion;
  const liveSteps: TimelineStep[] = [];
  for (let i = 0; i < 3 && bg.state.activeVersion === candidate; i++) {
    liveSteps.push(await simulatedStep(ctx, scenario, started, { router, analysis: analyses, phase: `green v${candidate} active`, decide }));
  }
  analyses.stop();
  const after = await simulatedStep(ctx, scenario, started, { router, analysis: analyses, phase: `blue v${bg.state.activeVersion} active again`, decide });

  const previewRequests = Math.ceil(REQUESTS_PER_STEP / PREVIEW_EVERY);
  const firstPreview = previewSteps[0];
  expect(scenario, `preview requests, and only they, reached idle v${candidate}`, firstPreview?.versions.get(candidate)?.requests === previewRequests && firstPreview.versions.get(candidate)?.errors === 0, `${firstPreview?.versions.get(candidate)?.requests ?? 0} of ${previewRequests}, ${firstPreview?.versions.get(candidate)?.errors ?? 0} failed`);
  expect(scenario, `pre-promotion analysis passed the QA smoke traffic and switched to v${candidate}`, switchedTo === candidate, `active v${switchedTo}`);
  expect(scenario, `after the switch every request went to v${candidate}`, liveSteps[0]?.versions.get(candidate)?.requests === REQUESTS_PER_STEP, `${liveSteps[0]?.versions.get(candidate)?.requests ?? 0} of ${REQUESTS_PER_STEP}`);
  expect(scenario, `post-promotion analysis switched back to v${active} after one interval`, liveSteps.length === 1 && bg.state.activeVersion === active, `${liveSteps.length} intervals, active v${bg.state.activeVersion}`);
  expect(scenario, `after the switch back no request reached v${candidate}`, (after.versions.get(candidate)?.requests ?? 0) === 0 && after.versions.get(active)?.requests === REQUESTS_PER_STEP, `${after.versions.get(candidate)?.requests ?? 0} requests`);
  const failed = liveSteps.reduce((n, st) => n + (st.versions.get(candidate)?.errors ?? 0), 0);
  scenario.notes.push(
    `The QA smoke set (short petals only) could not see v${candidate}'s bug; live traffic did. Blue-green has no partial exposure: ${failed} requests failed in the one interval v${candidate} served everyone, then rollback() switched all traffic back in one call, with v${active} still loaded.`,
  );
  return scenario;
}

/** One blue-green analysis run in words. */
function describeBlueGreen(report: AnalysisReport, bg: BlueGreenSwitch): string {
  switch (report.decision) {
    case 'promote':
      return `${report.outcome} → switch(): v${bg.state.activeVersion} active`;
    case 'complete':
      return `${report.outcome} → promotion verified`;
    case 'rollback':
      return `${report.outcome} (${breaches(report)}) → rollback(): v${bg.state.activeVersion} active`;
    case 'abort':
      return `${report.outcome} (${breaches(report)}) → switch refused`;
    default:
      return `${report.outcome} → ${report.decision}`;
  }
}
