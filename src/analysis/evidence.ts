import type { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import { type OutcomeHistogram, outcomesBetween } from '../monitor/outcome-histogram.js';
import { histogramQuantile, latencyNonInferiorityTest } from '../stats/latency-non-inferiority.js';
import { proportionNonInferiorityTest } from '../stats/non-inferiority.js';
import { DEFAULT_MIN_REQUESTS, type Judgement, judgeAnalysis } from './judge.js';
import type { Measurement } from './measure.js';
import type { ResolvedEvidenceOptions } from './options.js';
import type { AnalysedVersion, AnalysisCheck, AnalysisCriteria, EvidenceOptions, RelativeCriteria } from './types.js';

/** Where the evidence window of one (candidate, baseline) pair starts: both versions' lifetime outcomes then. @internal */
export interface EvidenceMark {
  candidate: number;
  baseline: number;
  candidateAt: OutcomeHistogram;
  baselineAt: OutcomeHistogram;
  /** The α this window's verdicts are judged at. */
  alpha: number;
}

/** Reads the start of an evidence window now. @internal */
export function markEvidence(monitor: DeploymentMonitor, candidate: number, baseline: number, alpha: number): EvidenceMark {
  return { candidate, baseline, candidateAt: monitor.outcomes(candidate), baselineAt: monitor.outcomes(baseline), alpha };
}

/**
 * The evidence method's measurement: both versions' outcomes since `mark` (the same window for
 * both, so load that hits both is no evidence against either), judged by the always-valid
 * error-rate and latency non-inferiority tests with `relative`'s limits as margins, plus any
 * absolute ceilings on the same numbers. @internal
 */
export function measureEvidence(
  monitor: DeploymentMonitor,
  mark: EvidenceMark,
  criteria: AnalysisCriteria & { minRequests: number },
  options: ResolvedEvidenceOptions,
): Measurement {
  const c = outcomesBetween(monitor.outcomes(mark.candidate), mark.candidateAt);
  const b = outcomesBetween(monitor.outcomes(mark.baseline), mark.baselineAt);
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
