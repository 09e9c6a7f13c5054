import type { AnalysisCheck, AnalysisCriteria, AnalysisOutcome, MeasuredNumbers } from './types.js';

/** Outcome of {@link judgeAnalysis}. */
export interface Judgement {
  outcome: Exclude<AnalysisOutcome, 'error'>;
  checks: AnalysisCheck[];
  reason: string;
}

/**
 * Judges one analysis run from plain numbers: the candidate against the absolute limits of
 * `criteria`, plus any `relativeChecks` (already measured against the baseline, e.g. from
 * `DeploymentMonitor.compare`). Pure.
 *
 * - fewer candidate requests than `criteria.minRequests` → `inconclusive` (never a pass);
 * - any check past its limit → `failed`, even if another check lacked data: a breach seen on enough
 *   candidate traffic is decisive;
 * - otherwise any check without data (`passed: undefined`) → `inconclusive`;
 * - otherwise `successful`.
 *
 * @example
 * ```ts
 * judgeAnalysis({ totalRequests: 400, errorRate: 0.05, p99LatencyMs: 20 }, { minRequests: 200, maxErrorRate: 0.02 });
 * // → { outcome: 'failed', checks: [{ metric: 'errorRate', kind: 'absolute', value: 0.05, threshold: 0.02, passed: false }], reason: … }
 * ```
 */
export function judgeAnalysis(
  candidate: MeasuredNumbers,
  criteria: AnalysisCriteria,
  relativeChecks: readonly AnalysisCheck[] = [],
): Judgement {
  const minRequests = criteria.minRequests ?? DEFAULT_MIN_REQUESTS;
  if (candidate.totalRequests < minRequests) {
    return {
      outcome: 'inconclusive',
      checks: [],
      reason: `too little data: ${candidate.totalRequests} candidate requests, need ${minRequests}`,
    };
  }
  const checks: AnalysisCheck[] = [];
  if (criteria.maxErrorRate !== undefined) {
    checks.push(limitCheck('errorRate', candidate.errorRate, criteria.maxErrorRate));
  }
  if (criteria.maxP99LatencyMs !== undefined) {
    checks.push(limitCheck('p99LatencyMs', candidate.p99LatencyMs, criteria.maxP99LatencyMs));
  }
  checks.push(...relativeChecks);

  const breached = checks.filter((c) => c.passed === false);
  if (breached.length > 0) {
    return { outcome: 'failed', checks, reason: breached.map(describeCheck).join('; ') };
  }
  const unjudged = checks.filter((c) => c.passed === undefined);
  if (unjudged.length > 0) {
    return {
      outcome: 'inconclusive',
      checks,
      reason: `too little baseline data to judge ${unjudged.map((c) => c.metric).join(', ')}`,
    };
  }
  return { outcome: 'successful', checks, reason: checks.map(describeCheck).join('; ') };
}

/** Default of {@link AnalysisCriteria.minRequests}. */
export const DEFAULT_MIN_REQUESTS = 100;

function limitCheck(metric: AnalysisCheck['metric'], value: number, threshold: number): AnalysisCheck {
  return { metric, kind: 'absolute', value, threshold, passed: value <= threshold };
}

function describeCheck(check: AnalysisCheck): string {
  const verb = check.passed ? '<=' : '>';
  const of = check.baseline === undefined ? '' : ` (baseline ${round(check.baseline)})`;
  return `${check.metric} ${round(check.value)} ${verb} ${round(check.threshold)}${of}`;
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
