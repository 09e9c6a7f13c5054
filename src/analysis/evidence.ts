import { ValidationError, describeValue } from '../errors.js';
import type { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import { NO_OUTCOMES, type OutcomeHistogram, addOutcomes, outcomesBetween } from '../monitor/outcome-histogram.js';
import { checkRecord } from '../routing/checks.js';
import { histogramQuantile, latencyNonInferiorityTest } from '../stats/latency-non-inferiority.js';
import { proportionNonInferiorityTest } from '../stats/non-inferiority.js';
import { DEFAULT_MIN_REQUESTS, type Judgement, judgeAnalysis } from './judge.js';
import type { Measurement } from './measure.js';
import type { ResolvedEvidenceOptions } from './options.js';
import type {
  AnalysedVersion,
  AnalysisCheck,
  AnalysisCriteria,
  EvidenceOptions,
  EvidencePartCounts,
  EvidenceWindowCounts,
  OutcomeCounts,
  RelativeCriteria,
} from './types.js';

/**
 * One part of a monitor's outcomes inside an evidence window: a replica's, in a fleet's merged
 * monitor (`merge(snapshot, { source })`), or `''` for what no named source added. @internal
 */
interface PartWindow {
  /** Its lifetime outcomes of each version where its window starts: the mark, or when it was first seen. */
  candidateAt: OutcomeHistogram;
  baselineAt: OutcomeHistogram;
  /** What it had added since then at the last reading, kept as it was when it leaves the merge. */
  candidate: OutcomeHistogram;
  baseline: OutcomeHistogram;
  /** What its earlier lives added (its lifetime counts fell: a replica restarted under the same id). */
  bankedCandidate: OutcomeHistogram;
  bankedBaseline: OutcomeHistogram;
}

/** Where the evidence window of one (candidate, baseline) pair starts, part by part. @internal */
export interface EvidenceMark {
  candidate: number;
  baseline: number;
  /** The α this window's verdicts are judged at. */
  alpha: number;
  /** Each part's window, by source (`''`: what no named source added). */
  parts: Map<string, PartWindow>;
}

/** Reads the start of an evidence window now: every part of the monitor from its lifetime outcomes now. @internal */
export function markEvidence(monitor: DeploymentMonitor, candidate: number, baseline: number, alpha: number): EvidenceMark {
  const mark: EvidenceMark = { candidate, baseline, alpha, parts: new Map() };
  readWindow(monitor, mark);
  return mark;
}

const PART_FIELDS = ['candidateAt', 'baselineAt', 'candidate', 'baseline', 'bankedCandidate', 'bankedBaseline'] as const;

/** `mark` as plain data, to carry beside the counters (see `CarriedAnalysisCounters.evidence`). @internal */
export function evidenceWindowOf(mark: EvidenceMark): EvidenceWindowCounts {
  const parts: Record<string, EvidencePartCounts> = {};
  for (const [key, part] of mark.parts) {
    parts[key] = Object.fromEntries(PART_FIELDS.map((field) => [field, countsOf(part[field])])) as unknown as EvidencePartCounts;
  }
  return { candidate: mark.candidate, baseline: mark.baseline, alpha: mark.alpha, parts };
}

/**
 * The mark a carried window (as {@link evidenceWindowOf} gave it, read back from storage) stands
 * for; anything else is a `ValidationError` naming the field. @internal
 */
export function markOfEvidenceWindow(value: unknown): EvidenceMark {
  const window = checkRecord('counters.evidence', value) as Partial<Record<keyof EvidenceWindowCounts, unknown>>;
  for (const field of ['candidate', 'baseline'] as const) {
    if (typeof window[field] !== 'number' || !Number.isFinite(window[field])) {
      throw new ValidationError(`counters.evidence.${field} must be a version number, got ${describeValue(window[field])}`);
    }
  }
  const alpha = window.alpha;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) throw new ValidationError(`counters.evidence.alpha must be a number in (0, 1), got ${describeValue(alpha)}`);
  const parts = new Map<string, PartWindow>();
  for (const [key, part] of Object.entries(checkRecord('counters.evidence.parts', window.parts))) {
    const record = checkRecord(`counters.evidence.parts[${JSON.stringify(key)}]`, part);
    const fields = PART_FIELDS.map((field) => [field, outcomesOf(`counters.evidence.parts[${JSON.stringify(key)}].${field}`, record[field])]);
    parts.set(key, Object.fromEntries(fields) as PartWindow);
  }
  return { candidate: window.candidate as number, baseline: window.baseline as number, alpha, parts };
}

function countsOf(o: OutcomeHistogram): OutcomeCounts {
  return { totalRequests: o.totalRequests, failures: o.failures, latency: { values: Array.from(o.latency.values), counts: Array.from(o.latency.counts) } };
}

function outcomesOf(path: string, value: unknown): OutcomeHistogram {
  const o = checkRecord(path, value) as Partial<Record<keyof OutcomeCounts, unknown>>;
  for (const field of ['totalRequests', 'failures'] as const) {
    if (typeof o[field] !== 'number' || !Number.isSafeInteger(o[field]) || o[field] < 0) {
      throw new ValidationError(`${path}.${field} must be a non-negative integer, got ${describeValue(o[field])}`);
    }
  }
  const latency = checkRecord(`${path}.latency`, o.latency) as { values?: unknown; counts?: unknown };
  const { values, counts } = latency;
  const numbers = (list: unknown): list is number[] => Array.isArray(list) && list.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0);
  if (!numbers(values) || !numbers(counts) || values.length !== counts.length || values.some((v, i) => i > 0 && v <= (values[i - 1] as number))) {
    throw new ValidationError(`${path}.latency must hold values (ascending) and counts, two arrays of as many non-negative numbers, got ${describeValue(latency)}`);
  }
  return { totalRequests: o.totalRequests as number, failures: o.failures as number, latency: { values: Float64Array.from(values), counts: Float64Array.from(counts) } };
}

/**
 * Both versions' outcomes in the window since `mark`, added up over the parts, and the parts'
 * windows brought up to date (so call it once per reading):
 * - a part present at the mark counts what it added since;
 * - a part first seen after the mark (a replica joining the merge) counts from when it was first
 *   seen: its history before that is none of this window's;
 * - a part no longer present (a replica that left the merge, its heartbeat stale) keeps what it had
 *   added at its last reading: those requests were served in the window, and keeping them means
 *   the window's requests only ever grow, as the always-valid tests need;
 * - a part whose lifetime counts fell below its last reading (restarted under the same id) keeps
 *   what its earlier life added and counts on from now.
 */
function readWindow(monitor: DeploymentMonitor, mark: EvidenceMark): { candidate: OutcomeHistogram; baseline: OutcomeHistogram } {
  const candidateNow = partsOf(monitor, mark.candidate);
  const baselineNow = partsOf(monitor, mark.baseline);
  for (const [key, c] of candidateNow) {
    const b = baselineNow.get(key) ?? NO_OUTCOMES;
    const part = mark.parts.get(key);
    if (part === undefined) {
      mark.parts.set(key, { candidateAt: c, baselineAt: b, candidate: NO_OUTCOMES, baseline: NO_OUTCOMES, bankedCandidate: NO_OUTCOMES, bankedBaseline: NO_OUTCOMES });
    } else if (c.totalRequests < part.candidateAt.totalRequests + part.candidate.totalRequests || b.totalRequests < part.baselineAt.totalRequests + part.baseline.totalRequests) {
      part.bankedCandidate = addOutcomes(part.bankedCandidate, part.candidate);
      part.bankedBaseline = addOutcomes(part.bankedBaseline, part.baseline);
      Object.assign(part, { candidateAt: c, baselineAt: b, candidate: NO_OUTCOMES, baseline: NO_OUTCOMES });
    } else {
      part.candidate = outcomesBetween(c, part.candidateAt);
      part.baseline = outcomesBetween(b, part.baselineAt);
    }
  }
  let candidate = NO_OUTCOMES;
  let baseline = NO_OUTCOMES;
  for (const part of mark.parts.values()) {
    candidate = addOutcomes(candidate, addOutcomes(part.bankedCandidate, part.candidate));
    baseline = addOutcomes(baseline, addOutcomes(part.bankedBaseline, part.baseline));
  }
  return { candidate, baseline };
}

/** A version's lifetime outcomes now, part by part: each named source's, and `''` for the rest. */
function partsOf(monitor: DeploymentMonitor, version: number): Map<string, OutcomeHistogram> {
  const parts = monitor.outcomesBySource(version);
  let named = NO_OUTCOMES;
  for (const outcomes of parts.values()) named = addOutcomes(named, outcomes);
  parts.set('', outcomesBetween(monitor.outcomes(version), named));
  return parts;
}

/**
 * The evidence method's measurement: both versions' outcomes since `mark` (the same window for
 * both, so load that hits both is no evidence against either; replicas joining and leaving a
 * merged monitor as `readWindow` says), judged by the always-valid error-rate and
 * latency non-inferiority tests with `relative`'s limits as margins, plus any absolute ceilings on
 * the same numbers. @internal
 */
export function measureEvidence(
  monitor: DeploymentMonitor,
  mark: EvidenceMark,
  criteria: AnalysisCriteria & { minRequests: number },
  options: ResolvedEvidenceOptions,
): Measurement {
  const { candidate: c, baseline: b } = readWindow(monitor, mark);
  const candidate = analysed(mark.candidate, c);
  const checks = evidenceChecks(b, c, { ...options, ...criteria.relative, alpha: mark.alpha });
  return { candidate, baseline: analysed(mark.baseline, b), judgement: judgeAnalysis(candidate, criteria, checks) };
}

/** What {@link judgeEvidence} needs: the margins and the evidence settings. */
export interface EvidenceCriteria extends RelativeCriteria, EvidenceOptions {
  /** Fewer candidate requests than this is `inconclusive` (default 100). */
  minRequests?: number;
}

/**
 * The evidence method as a pure function: judges a candidate's outcomes against a baseline's over
 * the same window (e.g. `outcomesBetween(monitor.outcomes(v), outcomesAtStart)` for each) by the
 * always-valid error-rate and latency non-inferiority tests, with `maxErrorRateIncrease` and
 * `maxLatencyRatio` as margins. What an analysis with `method: 'evidence'` does at every run,
 * for hosts that want the verdict without an analysis driving a rollout (a dry run beside the
 * threshold method, a dashboard).
 *
 * @example
 * ```ts
 * const atStart = { v1: monitor.outcomes(1), v2: monitor.outcomes(2) };
 * // … traffic …
 * const verdict = judgeEvidence(outcomesBetween(monitor.outcomes(1), atStart.v1), outcomesBetween(monitor.outcomes(2), atStart.v2), {
 *   maxErrorRateIncrease: 0.01,
 *   maxLatencyRatio: 1.2,
 * });
 * verdict.outcome; // 'failed' | 'successful' | 'inconclusive'
 * ```
 */
export function judgeEvidence(baseline: OutcomeHistogram, candidate: OutcomeHistogram, criteria: EvidenceCriteria): Judgement {
  const checks = evidenceChecks(baseline, candidate, criteria);
  return judgeAnalysis(analysed(0, candidate), { minRequests: criteria.minRequests ?? DEFAULT_MIN_REQUESTS }, checks);
}

function evidenceChecks(b: OutcomeHistogram, c: OutcomeHistogram, criteria: RelativeCriteria & EvidenceOptions): AnalysisCheck[] {
  const checks: AnalysisCheck[] = [];
  const { maxErrorRateIncrease, maxLatencyRatio } = criteria;
  const enough = c.totalRequests > 0 && b.totalRequests > 0;
  const tuning = { alpha: criteria.alpha, tuning: criteria.tuning };
  const baselineErrorRate = b.totalRequests === 0 ? 0 : b.failures / b.totalRequests;
  const candidateErrorRate = c.totalRequests === 0 ? 0 : c.failures / c.totalRequests;
  if (maxErrorRateIncrease !== undefined) {
    const check: AnalysisCheck = {
      metric: 'errorRate',
      kind: 'evidence',
      value: candidateErrorRate,
      threshold: baselineErrorRate + maxErrorRateIncrease,
      baseline: baselineErrorRate,
      passed: undefined,
    };
    if (enough) {
      check.evidence = proportionNonInferiorityTest(
        { successes: b.failures, trials: b.totalRequests },
        { successes: c.failures, trials: c.totalRequests },
        { ...tuning, margin: maxErrorRateIncrease },
      );
      check.passed = passed(check.evidence.verdict);
    }
    checks.push(check);
  }
  if (maxLatencyRatio !== undefined) {
    if (!enough) checks.push({ metric: 'latency', kind: 'evidence', value: 0, threshold: 0, passed: undefined });
    else {
      const evidence = latencyNonInferiorityTest(b.latency, c.latency, {
        ...tuning,
        quantile: criteria.latencyQuantile,
        maxLatencyRatio,
        minLatencyDifferenceMs: criteria.minLatencyDifferenceMs,
      });
      checks.push({
        metric: 'latency',
        kind: 'evidence',
        value: evidence.candidateQuantileMs,
        threshold: evidence.limitMs,
        baseline: evidence.baselineQuantileMs,
        passed: passed(evidence.verdict),
        evidence,
      });
    }
  }
  return checks;
}

function passed(verdict: 'failed' | 'successful' | 'inconclusive'): boolean | undefined {
  return verdict === 'successful' ? true : verdict === 'failed' ? false : undefined;
}

function analysed(version: number, o: OutcomeHistogram): AnalysedVersion {
  return {
    version,
    window: 'rollout',
    totalRequests: o.totalRequests,
    errorRate: o.totalRequests === 0 ? 0 : o.failures / o.totalRequests,
    p99LatencyMs: histogramQuantile(o.latency, 0.99),
  };
}
