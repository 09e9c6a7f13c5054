import type { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import { compareStats, type ComparisonRules } from '../monitor/health.js';
import type { DeploymentStats } from '../monitor/stats.js';
import { type Judgement, judgeAnalysis } from './judge.js';
import type { AnalysedVersion, AnalysisCheck, AnalysisCriteria } from './types.js';

/** What one run read from the monitor and concluded. @internal */
export interface Measurement {
  candidate: AnalysedVersion;
  baseline: AnalysedVersion | undefined;
  judgement: Judgement;
}

/**
 * Reads the candidate's rolling-window numbers and the baseline's, and judges them. The baseline
 * is read over the rolling window too, or over its lifetime when the window holds fewer than
 * `minRequests` of it (a stable version at 0 % of traffic after the canary reached 100 % still has
 * a history to compare with). Relative limits go through the monitor's own `compareStats`.
 * @internal
 */
export function measure(
  monitor: DeploymentMonitor,
  candidateVersion: number,
  baselineVersion: number,
  criteria: AnalysisCriteria & { minRequests: number },
): Measurement {
  const candidateStats = monitor.stats(candidateVersion, { window: 'rolling' });
  let baselineWindow: AnalysedVersion['window'] = 'rolling';
  let baselineStats = monitor.stats(baselineVersion, { window: 'rolling' });
  if (baselineStats.totalRequests < criteria.minRequests) {
    baselineWindow = 'lifetime';
    baselineStats = monitor.stats(baselineVersion, { window: 'lifetime' });
  }
  const relativeChecks: AnalysisCheck[] = [];
  const relative = criteria.relative;
  if (relative !== undefined) {
    const rules: ComparisonRules = { minRequests: criteria.minRequests };
    if (relative.maxLatencyRatio !== undefined) rules.maxP99LatencyRatio = relative.maxLatencyRatio;
    if (relative.maxErrorRateIncrease !== undefined) rules.maxErrorRateIncrease = relative.maxErrorRateIncrease;
    for (const j of compareStats(baselineStats, candidateStats, rules).judgments) {
      relativeChecks.push({
        metric: j.metric === 'errorRate' ? 'errorRate' : 'p99LatencyMs',
        kind: 'relative',
        value: j.candidate,
        threshold: j.limit,
        baseline: j.baseline,
        passed: j.verdict === 'pass' ? true : j.verdict === 'fail' ? false : undefined,
      });
    }
  }
  return {
    candidate: analysed(candidateVersion, candidateStats, 'rolling'),
    baseline: analysed(baselineVersion, baselineStats, baselineWindow),
    judgement: judgeAnalysis(candidateStats, criteria, relativeChecks),
  };
}

function analysed(version: number, stats: DeploymentStats, window: AnalysedVersion['window']): AnalysedVersion {
  return { version, window, totalRequests: stats.totalRequests, errorRate: stats.errorRate, p99LatencyMs: stats.p99LatencyMs };
}
