import type { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import { type OutcomeHistogram, outcomesBetween } from '../monitor/outcome-histogram.js';
import { histogramQuantile, latencyNonInferiorityTest } from '../stats/latency-non-inferiority.js';
import { proportionNonInferiorityTest } from '../stats/non-inferiority.js';
import { judgeAnalysis } from './judge.js';
import type { Measurement } from './measure.js';
import type { ResolvedEvidenceOptions } from './options.js';
import type { AnalysedVersion, AnalysisCheck, AnalysisCriteria } from './types.js';

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
  const baseline = analysed(mark.baseline, b);
  const checks: AnalysisCheck[] = [];
  const { maxErrorRateIncrease, maxLatencyRatio } = criteria.relative ?? {};
  const enough = c.totalRequests > 0 && b.totalRequests > 0;
  const tuning = { alpha: mark.alpha, tuning: options.tuning };
  if (maxErrorRateIncrease !== undefined) {
    const threshold = baseline.errorRate + maxErrorRateIncrease;
    if (!enough) checks.push({ metric: 'errorRate', kind: 'evidence', value: candidate.errorRate, threshold, baseline: baseline.errorRate, passed: undefined });
    else {
      const evidence = proportionNonInferiorityTest(
        { successes: b.failures, trials: b.totalRequests },
        { successes: c.failures, trials: c.totalRequests },
        { ...tuning, margin: maxErrorRateIncrease },
      );
      checks.push({ metric: 'errorRate', kind: 'evidence', value: candidate.errorRate, threshold, baseline: baseline.errorRate, passed: passed(evidence.verdict), evidence });
    }
  }
  if (maxLatencyRatio !== undefined) {
    if (!enough) checks.push({ metric: 'latency', kind: 'evidence', value: 0, threshold: 0, passed: undefined });
    else {
      const evidence = latencyNonInferiorityTest(b.latency, c.latency, {
        ...tuning,
        quantile: options.latencyQuantile,
        maxLatencyRatio,
        minLatencyDifferenceMs: options.minLatencyDifferenceMs,
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
  return { candidate, baseline, judgement: judgeAnalysis(candidate, criteria, checks) };
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
