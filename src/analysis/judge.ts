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
    const pending = unjudged.filter((c) => c.evidence !== undefined);
    const missing = unjudged.filter((c) => c.evidence === undefined);
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`too little baseline data to judge ${missing.map((c) => c.metric).join(', ')}`);
    if (pending.length > 0) parts.push(`not enough evidence yet: ${pending.map(describeCheck).join('; ')}`);
    return { outcome: 'inconclusive', checks, reason: parts.join('; ') };
  }
  return { outcome: 'successful', checks, reason: checks.map(describeCheck).join('; ') };
}

/** Default of {@link AnalysisCriteria.minRequests}. */
export const DEFAULT_MIN_REQUESTS = 100;

function limitCheck(metric: AnalysisCheck['metric'], value: number, threshold: number): AnalysisCheck {
  return { metric, kind: 'absolute', value, threshold, passed: value <= threshold };
}

function describeCheck(check: AnalysisCheck): string {
  if (check.evidence !== undefined) return describeEvidence(check, check.evidence);
  const verb = check.passed ? '<=' : '>';
  const of = check.baseline === undefined ? '' : ` (baseline ${round(check.baseline)})`;
  return `${check.metric} ${round(check.value)} ${verb} ${round(check.threshold)}${of}`;
}

/** E.g. `errorRate 0.0412 vs baseline 0.0098: worse than baseline + 0.01 (difference 0.0314, sequence [0.0121, 0.0507], p 0.0031)`. */
function describeEvidence(check: AnalysisCheck, e: NonNullable<AnalysisCheck['evidence']>): string {
  const verdict = check.passed === true ? 'within' : check.passed === false ? 'beyond' : 'not yet shown within or beyond';
  const p = check.passed === true ? e.pValueNonInferior : e.pValueWorse;
  const sequence = `sequence [${round(e.differenceCi[0])}, ${round(e.differenceCi[1])}], p ${round(p)}`;
  if (e.test === 'always-valid-latency-non-inferiority') {
    const q = `p${round(e.quantile * 100)}`;
    return (
      `${q} latency ${round(e.candidateQuantileMs)} ms vs baseline ${round(e.baselineQuantileMs)} ms: ${verdict} the ${round(e.limitMs)} ms bar ` +
      `(share slower than it ${round(e.candidateRate)} vs baseline's ${round(e.baselineRate)} above its ${q}, ${sequence})`
    );
  }
  return (
    `errorRate ${round(e.candidateRate)} vs baseline ${round(e.baselineRate)}: ${verdict} the margin of +${round(e.margin)} ` +
    `(difference ${round(e.difference)}, ${sequence})`
  );
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
