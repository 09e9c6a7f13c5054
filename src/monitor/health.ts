/**
 * Health and comparison judgments as pure functions of {@link DeploymentStats}, so the rules can
 * be tested without a monitor and reused by canary analysis.
 *
 * @module
 */
import { ValidationError } from '../errors.js';
import { checkNumber, checkOneOf } from '../options.js';
import type { DeploymentStats, StatsWindow } from './stats.js';

/** Absolute limits for {@link DeploymentMonitor.checkHealth}; unset limits are not checked. */
export interface HealthRules {
  /** Highest acceptable mean latency (ms). */
  maxAvgLatencyMs?: number;
  /** Highest acceptable 99th-percentile latency (ms). */
  maxP99LatencyMs?: number;
  /** Lowest acceptable success rate, in [0, 1]. */
  minSuccessRate?: number;
  /** Fewer requests than this in the window is `insufficient-data`, never healthy (default 1). */
  minRequests?: number;
}

/** `insufficient-data` means too few requests to judge: never treat it as healthy. */
export type HealthStatus = 'healthy' | 'unhealthy' | 'insufficient-data';

/** A metric that broke its limit: `value` is what was measured, `threshold` the limit it broke. */
export interface HealthViolation {
  metric: 'avgLatencyMs' | 'p99LatencyMs' | 'successRate';
  value: number;
  threshold: number;
}

/** Result of {@link DeploymentMonitor.checkHealth}: the status, why, and the figures judged. */
export interface HealthReport {
  status: HealthStatus;
  /** Empty unless `status` is `unhealthy`. */
  violations: HealthViolation[];
  /** The rolling-window stats the rules were applied to. */
  stats: DeploymentStats;
}

/** Checks health rules up front, naming the bad option. @internal */
export function checkHealthRules(rules: HealthRules): Required<Pick<HealthRules, 'minRequests'>> & HealthRules {
  if (typeof rules !== 'object' || rules === null) throw new ValidationError('health rules must be an object');
  const { maxAvgLatencyMs, maxP99LatencyMs, minSuccessRate, minRequests = 1 } = rules;
  if (maxAvgLatencyMs !== undefined) checkNumber('maxAvgLatencyMs', maxAvgLatencyMs, { min: 0 });
  if (maxP99LatencyMs !== undefined) checkNumber('maxP99LatencyMs', maxP99LatencyMs, { min: 0 });
  if (minSuccessRate !== undefined) checkNumber('minSuccessRate', minSuccessRate, { min: 0, max: 1 });
  checkNumber('minRequests', minRequests, { min: 1, integer: true });
  return { maxAvgLatencyMs, maxP99LatencyMs, minSuccessRate, minRequests };
}

/** Applies absolute health rules to one version's stats. */
export function judgeHealth(stats: DeploymentStats, rules: HealthRules): HealthReport {
  const { maxAvgLatencyMs, maxP99LatencyMs, minSuccessRate, minRequests } = checkHealthRules(rules);
  if (stats.totalRequests < minRequests) return { status: 'insufficient-data', violations: [], stats };
  const violations: HealthViolation[] = [];
  if (maxAvgLatencyMs !== undefined && stats.avgLatencyMs > maxAvgLatencyMs) {
    violations.push({ metric: 'avgLatencyMs', value: stats.avgLatencyMs, threshold: maxAvgLatencyMs });
  }
  if (maxP99LatencyMs !== undefined && stats.p99LatencyMs > maxP99LatencyMs) {
    violations.push({ metric: 'p99LatencyMs', value: stats.p99LatencyMs, threshold: maxP99LatencyMs });
  }
  if (minSuccessRate !== undefined && stats.successRate < minSuccessRate) {
    violations.push({ metric: 'successRate', value: stats.successRate, threshold: minSuccessRate });
  }
  return { status: violations.length > 0 ? 'unhealthy' : 'healthy', violations, stats };
}

/**
 * Limits of a candidate relative to a baseline, for {@link DeploymentMonitor.compare}. At least
 * one limit must be set. Latency ratios compare sketch quantiles, each within `relativeAccuracy`,
 * so a ratio carries up to about twice that error.
 */
export interface ComparisonRules {
  /** Candidate mean latency ≤ this × baseline mean latency. */
  maxAvgLatencyRatio?: number;
  /** Candidate p95 latency ≤ this × baseline p95. */
  maxP95LatencyRatio?: number;
  /** Candidate p99 latency ≤ this × baseline p99 (e.g. 1.2). */
  maxP99LatencyRatio?: number;
  /** Candidate error rate ≤ baseline error rate + this, in absolute terms (0.01 = one point). */
  maxErrorRateIncrease?: number;
  /** Each side needs at least this many requests, or the verdict is `insufficient-data` (default 1). */
  minRequests?: number;
  /** Window both sides are read over (default `'rolling'`). */
  window?: StatsWindow;
}

/** Name of one relative rule in {@link ComparisonRules}. */
export type ComparisonRuleName = 'maxAvgLatencyRatio' | 'maxP95LatencyRatio' | 'maxP99LatencyRatio' | 'maxErrorRateIncrease';

/** `pass`/`fail` per rule or overall; `insufficient-data` when either side has too few requests. */
export type ComparisonVerdict = 'pass' | 'fail' | 'insufficient-data';

/** One rule applied: the metric on each side, the limit the candidate had to stay at or under, and the verdict. */
export interface RuleJudgment {
  rule: ComparisonRuleName;
  metric: 'avgLatencyMs' | 'p95LatencyMs' | 'p99LatencyMs' | 'errorRate';
  /** The rule's setting (a ratio or an absolute increase). */
  setting: number;
  baseline: number;
  candidate: number;
  /** Highest candidate value that passes: `baseline × ratio` or `baseline + increase`. */
  limit: number;
  verdict: ComparisonVerdict;
}

/** Result of {@link DeploymentMonitor.compare}: an overall verdict, one judgment per rule, and both sides' stats. */
export interface ComparisonReport {
  /** `fail` if any rule failed, `pass` if all passed, `insufficient-data` if either side is below `minRequests`. */
  verdict: ComparisonVerdict;
  judgments: RuleJudgment[];
  baseline: DeploymentStats;
  candidate: DeploymentStats;
}

const RELATIVE_RULES: ReadonlyArray<{
  rule: ComparisonRuleName;
  metric: RuleJudgment['metric'];
  limit: (baseline: number, setting: number) => number;
}> = [
  { rule: 'maxAvgLatencyRatio', metric: 'avgLatencyMs', limit: (b, s) => b * s },
  { rule: 'maxP95LatencyRatio', metric: 'p95LatencyMs', limit: (b, s) => b * s },
  { rule: 'maxP99LatencyRatio', metric: 'p99LatencyMs', limit: (b, s) => b * s },
  { rule: 'maxErrorRateIncrease', metric: 'errorRate', limit: (b, s) => b + s },
];

/** Checks comparison rules up front, naming the bad option. @internal */
export function checkComparisonRules(rules: ComparisonRules): { minRequests: number; window: StatsWindow } {
  if (typeof rules !== 'object' || rules === null) throw new ValidationError('comparison rules must be an object');
  let set = 0;
  for (const { rule } of RELATIVE_RULES) {
    const setting = rules[rule];
    if (setting === undefined) continue;
    checkNumber(rule, setting, { min: 0 });
    set++;
  }
  if (set === 0) {
    throw new ValidationError(`comparison rules must set at least one of ${RELATIVE_RULES.map((r) => r.rule).join(', ')}`);
  }
  const minRequests = checkNumber('minRequests', rules.minRequests ?? 1, { min: 1, integer: true });
  const window = checkOneOf<StatsWindow>('window', rules.window ?? 'rolling', ['rolling', 'lifetime']);
  return { minRequests, window };
}

/** Judges a candidate against a baseline by relative rules. */
export function compareStats(baseline: DeploymentStats, candidate: DeploymentStats, rules: ComparisonRules): ComparisonReport {
  const { minRequests } = checkComparisonRules(rules);
  const enough = baseline.totalRequests >= minRequests && candidate.totalRequests >= minRequests;
  const judgments: RuleJudgment[] = [];
  for (const { rule, metric, limit } of RELATIVE_RULES) {
    const setting = rules[rule];
    if (setting === undefined) continue;
    const judgment: RuleJudgment = {
      rule,
      metric,
      setting,
      baseline: baseline[metric],
      candidate: candidate[metric],
      limit: limit(baseline[metric], setting),
      verdict: 'insufficient-data',
    };
    if (enough) judgment.verdict = judgment.candidate <= judgment.limit ? 'pass' : 'fail';
    judgments.push(judgment);
  }
  const verdict: ComparisonVerdict = !enough
    ? 'insufficient-data'
    : judgments.some((j) => j.verdict === 'fail')
      ? 'fail'
      : 'pass';
  return { verdict, judgments, baseline, candidate };
}
