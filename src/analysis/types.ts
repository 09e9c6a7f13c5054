import type { LatencyNonInferiorityResult } from '../stats/latency-non-inferiority.js';
import type { NonInferiorityResult } from '../stats/non-inferiority.js';

/** How one analysis run ended (Argo Rollouts' measurement phases). */
export type AnalysisOutcome = 'successful' | 'failed' | 'inconclusive' | 'error';

/**
 * What the analysis did about an outcome:
 * `'advance'` (next canary step), `'promote'` (canary becomes stable, or blue-green switches to the
 * preview), `'complete'` (blue-green post-promotion verified), `'rollback'` (everyone back to the
 * stable / previous version), `'abort'` (blue-green preview refused, no switch), `'pause'` (too
 * many inconclusive runs: a human must look), `'hold'` (stay where we are and measure again),
 * `'conclude'` (an A/B test picked its winner), `'stopVariant'` (a guardrail stopped an A/B variant).
 */
export type AnalysisDecision =
  | 'advance'
  | 'promote'
  | 'complete'
  | 'rollback'
  | 'abort'
  | 'pause'
  | 'hold'
  | 'conclude'
  | 'stopVariant';

/** The few numbers of one version an analysis judges; a `DeploymentMonitor` stats object has them all. */
export interface MeasuredNumbers {
  totalRequests: number;
  errorRate: number;
  p99LatencyMs: number;
}

/**
 * Thresholds relative to the stable version's own live numbers (Flagger users' #739); with the
 * `'evidence'` method, the non-inferiority margins.
 */
export interface RelativeCriteria {
  /** Candidate error rate may exceed the baseline's by at most this much (absolute, 0.01 = 1 point). */
  maxErrorRateIncrease?: number;
  /** Candidate p99 latency (with `'evidence'`: latency at `evidence.latencyQuantile`) may be at most this multiple of the baseline's (1.2 = 20 % slower). */
  maxLatencyRatio?: number;
}

/**
 * How the candidate is judged against the baseline: `'threshold'` (the default: the rolling
 * window's numbers against fixed and relative limits, as Argo and Flagger do) or `'evidence'`
 * (always-valid non-inferiority tests on everything both versions served since the rollout
 * started, with `relative`'s limits as margins; see {@link EvidenceOptions}).
 */
export type AnalysisMethod = 'threshold' | 'evidence';

/** Settings of the `'evidence'` method. */
export interface EvidenceOptions {
  /** Chance that a verdict is wrong, over every run of the rollout together, in (0, 1); default 0.05. */
  alpha?: number;
  /** Total requests (both versions) at which the confidence sequences are tightest; default 5000. */
  tuning?: number;
  /** The latency quantile compared, in (0, 1); default 0.95. */
  latencyQuantile?: number;
  /** The candidate may always be this many ms slower at that quantile, whatever `maxLatencyRatio` says; default 1. */
  minLatencyDifferenceMs?: number;
}

/** What a run checks. At least one of `maxErrorRate`, `maxP99LatencyMs` or `relative` must be set. */
export interface AnalysisCriteria {
  /** `'threshold'` (default) or `'evidence'`, which needs `relative`. */
  method?: AnalysisMethod;
  /** Settings of the `'evidence'` method. */
  evidence?: EvidenceOptions;
  /** Fewer candidate requests than this in the window judged is `inconclusive`, never a pass (default 100). */
  minRequests?: number;
  /** Highest acceptable error rate of the candidate, in [0, 1] (with `'evidence'`, a hard ceiling on the rollout's numbers). */
  maxErrorRate?: number;
  /** Highest acceptable p99 latency of the candidate, in ms (with `'evidence'`, a hard ceiling on the rollout's numbers). */
  maxP99LatencyMs?: number;
  /** Limits relative to the baseline (stable / active) version. */
  relative?: RelativeCriteria;
}

/** Argo Rollouts' counters. A run's counts start again at every step, switch or resume. */
export interface AnalysisLimits {
  /** Failed runs tolerated; one more rolls back (default 0: the first failure rolls back). */
  failureLimit?: number;
  /** Inconclusive runs tolerated; one more pauses and emits `needsAttention` (default 2). */
  inconclusiveLimit?: number;
  /** Successful runs in a row needed before advancing or promoting (default 1). */
  consecutiveSuccessLimit?: number;
  /** Runs in a row that could not be measured (a throwing gate or monitor) tolerated; one more is treated as a failure and rolls back (default 4, as Argo). */
  consecutiveErrorLimit?: number;
}

/** One comparison of a run, for logs, events and dashboards (Flagger users' #1147: show the numbers). */
export interface AnalysisCheck {
  /** `'errorRate'`, `'p99LatencyMs'`, or for an evidence check `'latency'` (the latency at `evidence.latencyQuantile`). */
  metric: 'errorRate' | 'p99LatencyMs' | 'latency';
  /**
   * `'absolute'` (a fixed limit), `'relative'` (a limit derived from the baseline's own number) or
   * `'evidence'` (an always-valid non-inferiority test against the baseline).
   */
  kind: 'absolute' | 'relative' | 'evidence';
  /** The candidate's measured value. */
  value: number;
  /** The highest value that passes: the fixed limit, or `baseline × maxLatencyRatio` / `baseline + maxErrorRateIncrease`. */
  threshold: number;
  /** Relative and evidence checks: the baseline's value the threshold was derived from. */
  baseline?: number;
  /**
   * `true` within the limit, `false` past it, `undefined` when there was too little data to judge.
   * Evidence checks: `true` shown within the margin, `false` shown beyond it, `undefined` not shown either way yet.
   */
  passed: boolean | undefined;
  /** Evidence checks: the test behind the verdict (estimates, confidence sequence, p-values). */
  evidence?: NonInferiorityResult | LatencyNonInferiorityResult;
}

/** Where a run's counters stand. */
export interface AnalysisCounters {
  /** Runs judged since the counters last started again. */
  runs: number;
  successes: number;
  consecutiveSuccesses: number;
  failures: number;
  inconclusives: number;
  errors: number;
  consecutiveErrors: number;
}

/** A version's outcomes as plain JSON: requests, failures, and the latency sketch's bins (ascending values, their counts). */
export interface OutcomeCounts {
  totalRequests: number;
  failures: number;
  latency: { values: number[]; counts: number[] };
}

/**
 * One part of an evidence window (a replica's, in a fleet's merged monitor, or `''` for what no
 * named source added), as plain data.
 */
export interface EvidencePartCounts {
  /** The part's lifetime outcomes of each version where its window starts (the mark, or when it was first seen). */
  candidateAt: OutcomeCounts;
  baselineAt: OutcomeCounts;
  /** What it had added since, at the last reading (kept as it was once it leaves the merge). */
  candidate: OutcomeCounts;
  baseline: OutcomeCounts;
  /** What its earlier lives added (its lifetime counts fell: it restarted under the same id). */
  bankedCandidate: OutcomeCounts;
  bankedBaseline: OutcomeCounts;
}

/**
 * Where the evidence method's window of one (candidate, baseline) pair stands, as plain data:
 * its start part by part and what each part had added at the last reading. What an analysis
 * with `method: 'evidence'` carries in {@link CarriedAnalysisCounters.evidence}, so another
 * replica of a fleet judges the same window.
 */
export interface EvidenceWindowCounts {
  candidate: number;
  baseline: number;
  /** The α the window's verdicts are judged at (the step's share of `evidence.alpha`). */
  alpha: number;
  /** Each part's window, by source. */
  parts: Record<string, EvidencePartCounts>;
}

/**
 * What a rollout analysis's `counters` hands on (to be stored beside the policy's snapshot and
 * given back to `restoreCounters`): the counters, and with `method: 'evidence'` the window the
 * current step is judged on, once one has started.
 */
export interface CarriedAnalysisCounters extends AnalysisCounters {
  evidence?: EvidenceWindowCounts;
}

/**
 * What one limit check concluded: `'continue'` (keep measuring), `'passed'` (enough successes in a
 * row), `'failed'` (past `failureLimit` or `consecutiveErrorLimit`), `'needsAttention'` (past
 * `inconclusiveLimit`).
 */
export type AnalysisVerdict = 'continue' | 'passed' | 'failed' | 'needsAttention';

/** A gate's question: may the rollout take this step? (Flagger's confirm-* webhooks as plain functions.) */
export interface GateContext {
  /** `'step'` (more traffic to the candidate), `'promote'` (candidate becomes stable / active). */
  action: 'step' | 'promote';
  /** The version serving most traffic now. */
  stable: number;
  /** The version being rolled out. */
  candidate: number;
  /** Candidate traffic share now, in percent. */
  percentage: number;
  /** Share it would get after this step, in percent. */
  nextPercentage: number;
  /** The analysis that asked. */
  report: AnalysisReport;
}

/** An async yes/no: anything but `true` (or a promise of `true`) refuses and the rollout holds. A throw is an `error` run. */
export type AnalysisGate = (context: GateContext) => boolean | Promise<boolean>;

/** Gates asked before acting on a successful analysis. */
export interface AnalysisGates {
  /** Asked before each traffic increase (Flagger's confirm-traffic-increase). */
  beforeStep?: AnalysisGate;
  /** Asked before promotion (Flagger's confirm-promotion). */
  beforePromote?: AnalysisGate;
}

/** Numbers of one version in a report. */
export interface AnalysedVersion extends MeasuredNumbers {
  version: number;
  /**
   * The window the numbers come from: `'rolling'` (the monitor's window), `'lifetime'` (a baseline
   * with too little recent traffic) or `'rollout'` (the evidence method: since the rollout started).
   */
  window: 'rolling' | 'lifetime' | 'rollout';
}

/** Everything one analysis run saw and did; emitted as the `analysis` event and returned by `analyze()`. */
export interface AnalysisReport {
  outcome: AnalysisOutcome;
  decision: AnalysisDecision;
  /** One sentence for humans: why this outcome and this decision. */
  reason: string;
  /** Clock time of the run, in ms. */
  at: number;
  /** Which analysis produced it: `'canary'`, `'prePromotion'`, `'postPromotion'`, `'guardrail'`, `'significance'`. */
  phase: 'canary' | 'prePromotion' | 'postPromotion' | 'guardrail' | 'significance';
  candidate: AnalysedVersion;
  baseline: AnalysedVersion | undefined;
  checks: AnalysisCheck[];
  /** Counters after this run (before any reset its decision causes). */
  counters: AnalysisCounters;
  /** Candidate traffic share when the run started, in percent. */
  percentage: number;
  /** What went wrong in an `error` run. */
  error?: unknown;
}
