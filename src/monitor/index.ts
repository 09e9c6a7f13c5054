/**
 * DeploymentMonitor: bounded-memory outcome statistics per model version, rolling windows,
 * health rules, relative comparisons, output drift and Prometheus exposition.
 *
 * @module
 */
export {
  DeploymentMonitor,
  type DeploymentMonitorOptions,
  type DeploymentMonitorEvents,
  type MonitoredVersion,
  type Outcome,
  type HealthEvent,
  type StatsOptions,
  type DriftOptions,
  type MonitorSnapshot,
  type VersionSnapshot,
} from './deployment-monitor.js';
export type { DeploymentStats, StatsWindow } from './stats.js';
export { outcomesBetween, type OutcomeHistogram } from './outcome-histogram.js';
export {
  judgeHealth,
  compareStats,
  type HealthRules,
  type HealthStatus,
  type HealthViolation,
  type HealthReport,
  type ComparisonRules,
  type ComparisonRuleName,
  type ComparisonVerdict,
  type RuleJudgment,
  type ComparisonReport,
} from './health.js';
export { PSI_MODERATE, PSI_SIGNIFICANT, type DriftReport, type DriftVerdict } from './drift.js';
export type { PrometheusOptions, PromClientRegistry } from './prometheus.js';
export type { RingJSON, CellJSON } from './sketch-ring.js';
export type { SketchJSON, StoreJSON } from './sketch.js';
export type { RolloutGauges, RolloutAnalysisOutcome } from './rollout-gauges.js';
export type { OpenTelemetryMeter, OpenTelemetryBatchResult, OpenTelemetryObservable } from './opentelemetry.js';
