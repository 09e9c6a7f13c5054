/**
 * model-rollout: ship machine-learning model versions safely from a Node service.
 *
 * This file is the public surface and nothing else: every name a user can import is listed here
 * by name, so a change of the surface is a visible diff. Helpers the modules share among
 * themselves (argument checks, hashing internals, samplers) are not exported.
 *
 * @module model-rollout
 */

// Errors: every failure a caller can act on, each with a stable `code`.
export {
  ModelRolloutError,
  ValidationError,
  NotFoundError,
  IntegrityError,
  PreconditionFailedError,
  ModelLoadError,
  StorageError,
  InputShapeError,
  InferenceError,
  InvalidStateError,
  CapacityError,
  TimeoutError,
  AbortedError,
  ZeroPropensityError,
  type ModelRolloutErrorCode,
} from './errors.js';
export type { Clock, RandomSource, TimerScheduler } from './options.js';
export type { Logger, LogLevel } from './logger.js';

// Storage: where bytes live.
export type {
  StorageAdapter,
  StoredObject,
  PutCondition,
  DeleteCondition,
  StorageGuarantees,
  LocalFileStorage,
  ConditionalRead,
  NotModified,
} from './storage/storage-adapter.js';
export { hasConditionalRead, hasLocalFiles, isNotModified, readIfChanged } from './storage/storage-adapter.js';
export { checkStorageKey, checkStoragePrefix } from './storage/keys.js';
export { MemoryStorage } from './storage/memory-storage.js';
export { FileSystemStorage, type FileSystemStorageOptions } from './storage/file-system-storage.js';

// Registry: versioned models and aliases.
export { ModelRegistry, type ModelRegistryOptions } from './registry/model-registry.js';
export type {
  ModelVersion,
  ModelVersionRef,
  VersionStatus,
  VersionRef,
  Lineage,
  RegisterOptions,
  ListVersionsOptions,
  ListVersionsPageOptions,
  VersionsPage,
  AliasChangeOptions,
  AliasHistoryEntry,
  AliasChangedEvent,
  VersionDeletedEvent,
  ModelRegistryEvents,
} from './registry/model-version.js';
export type { ModelSignature, TensorSpec, SignatureSource } from './registry/signature.js';
export type { OnnxModelInfo, ValidatedBy } from './registry/onnx-info.js';

// Predictors: ONNX Runtime, plain functions, batching and the pool.
export type {
  Predictor,
  PredictInput,
  PredictOutput,
  PredictOptions,
  TensorInput,
  NestedArray,
  TensorData,
  NumericArray,
  OutputTensor,
  OutputData,
} from './predict/types.js';
export { OnnxPredictor, type OnnxPredictorOptions } from './predict/onnx-predictor.js';
export { FunctionPredictor, type FunctionPredictorOptions } from './predict/function-predictor.js';
export {
  BatchingPredictor,
  type BatchingOptions,
  type BatchingTimers,
  type ResolvedBatchingOptions,
} from './predict/batching-predictor.js';
export {
  PredictorPool,
  type PooledPredictor,
  type PredictorPoolOptions,
  type PredictorPoolEvents,
  type PoolRegistry,
  type PoolVersion,
  type WarmUpOptions,
} from './predict/predictor-pool.js';
export { toPrediction, type Prediction, type PredictionOptions, type PredictionValue } from './predict/outputs.js';
export { toJSONOutput, type JsonOutputTensor, type JsonPredictOutput } from './predict/json-output.js';

// Routing: pure policies and the sticky hash.
export type {
  RouteContext,
  Assignment,
  AssignmentReason,
  RoutingPolicy,
  MirroringPolicy,
  PolicyTraffic,
  PolicyRestoredEvent,
} from './routing/policy.js';
export {
  hashUnit,
  unitHasher,
  bucketRanges,
  chooseBucket,
  type HashVersion,
  type UnitHasher,
  type BucketRange,
} from './routing/hash.js';
export { normalizeWeights } from './stats/weights.js';
export {
  StaticPolicy,
  type StaticPolicyOptions,
  type StaticPolicyEvents,
  type StaticPinnedEvent,
  type StaticPolicySnapshot,
} from './routing/static-policy.js';
export {
  BlueGreenSwitch,
  type BlueGreenSlot,
  type BlueGreenSwitchOptions,
  type BlueGreenState,
  type BlueGreenSwitchEvents,
  type BlueGreenDeployedEvent,
  type BlueGreenSwitchedEvent,
  type BlueGreenSnapshot,
} from './routing/blue-green.js';
export {
  CanaryDeployment,
  type CanaryStatus,
  type CanaryAction,
  type CanaryHistoryEntry,
  type CanaryState,
  type CanaryDeploymentOptions,
  type CanaryDeploymentEvents,
  type CanaryStartedEvent,
  type CanarySteppedEvent,
  type CanaryPausedEvent,
  type CanaryRolledBackEvent,
  type CanaryPromotedEvent,
  type CanaryHistorySnapshotEntry,
  type CanarySnapshot,
} from './routing/canary.js';
export { ABTestController } from './routing/ab-test.js';
export { policyFromSnapshot, type RestoredPolicy, type PolicyFromSnapshotOptions } from './routing/policy-from-snapshot.js';
export type {
  VariantConfig,
  MetricConfig,
  ExperimentOptions,
  ABTestControllerOptions,
  VariantResult,
  ConclusionDecision,
  Conclusion,
  ExperimentResults,
  ExperimentStats,
  ExperimentSnapshot,
  ABTestSnapshot,
  ExperimentCreatedEvent,
  SrmDetectedEvent,
  SignificantEvent,
  ConcludedEvent,
  ABTestControllerEvents,
  ExperimentAnalyzedEvent,
} from './routing/ab-test-types.js';
export {
  ShadowDeployment,
  type ShadowComparison,
  type ShadowAssignment,
  type ShadowDeploymentOptions,
  type ShadowReport,
  type ShadowStats,
  type ShadowDeploymentEvents,
  type ShadowMirrorChangedEvent,
  type ShadowStatsResetEvent,
  type ShadowSnapshot,
} from './routing/shadow.js';
export {
  BanditPolicy,
  type BanditAlgorithm,
  type BanditArm,
  type BanditPolicyOptions,
  type BanditArmState,
  type BanditState,
  type BanditCounts,
  type BanditSnapshot,
  type BanditRewardedEvent,
  type BanditMergedEvent,
  type BanditPolicyEvents,
} from './routing/bandit.js';

// Statistics: pure functions for experiments.
export {
  emptySummary,
  addObservation,
  mergeSummaries,
  summarize,
  type SampleSummary,
  type SampleInput,
} from './stats/summary.js';
export type { ComparisonResult, ComparisonOptions, ComparisonTest, Interval } from './stats/comparison.js';
export { welchTTest } from './stats/welch.js';
export { twoProportionZTest, type ProportionInput } from './stats/proportions.js';
export { meanConfidenceInterval, wilsonInterval } from './stats/intervals.js';
export { srmTest, type SrmResult, type SrmOptions, type SrmStatus } from './stats/srm.js';
export {
  sampleSize,
  minimumDetectableEffect,
  type MetricKind,
  type ExperimentDesign,
  type SampleSizeOptions,
  type MdeOptions,
  type SampleSizeResult,
} from './stats/power.js';
export { sequentialTest, sequentialLook, checkSequentialState, type SequentialOptions, type SequentialState } from './stats/sequential.js';
export {
  proportionNonInferiorityTest,
  type EvidenceVerdict,
  type NonInferiorityOptions,
  type NonInferiorityResult,
} from './stats/non-inferiority.js';
export {
  latencyNonInferiorityTest,
  type LatencySample,
  type LatencyHistogram,
  type LatencyNonInferiorityOptions,
  type LatencyNonInferiorityResult,
} from './stats/latency-non-inferiority.js';
export {
  offPolicyEstimate,
  type LoggedDecision,
  type TargetPolicy,
  type PolicyValueEstimate,
  type OffPolicyResult,
  type OffPolicyOptions,
} from './stats/off-policy.js';

// Monitor: outcomes per version in bounded memory.
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
  type RecordOptions,
  type MonitorMergeOptions,
} from './monitor/deployment-monitor.js';
export type { DeploymentStats, StatsWindow } from './monitor/stats.js';
export { outcomesBetween, addOutcomes, type OutcomeHistogram } from './monitor/outcome-histogram.js';
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
} from './monitor/health.js';
export { PSI_MODERATE, PSI_SIGNIFICANT, type DriftReport, type DriftVerdict } from './monitor/drift.js';
export type { PrometheusOptions, PromClientRegistry } from './monitor/prometheus.js';
export type { RolloutGauges, RolloutAnalysisOutcome } from './monitor/rollout-gauges.js';
export type { OpenTelemetryMeter, OpenTelemetryBatchResult, OpenTelemetryObservable } from './monitor/opentelemetry.js';
export type { RingJSON, CellJSON } from './monitor/sketch-ring.js';
export type { SketchJSON, StoreJSON } from './monitor/sketch.js';

// Router: the facade a host calls.
export {
  ModelRouter,
  shadowKey,
  type ModelRouterOptions,
  type RouterPredictOptions,
  type RouterPrediction,
  type ServedVersion,
  type RouterFallbackEvent,
  type RouterShadowFailedEvent,
  type RouterShadowDroppedEvent,
  type ModelRouterEvents,
} from './router/model-router.js';
export type { RouterMonitor, RouterPool } from './router/parts.js';
export { isRoutedError, type RoutedError, type RoutedErrorDetails } from './router/routed-error.js';
export type { ShadowCounters } from './router/shadow-mirror.js';

// Analysis: judging a candidate on the monitor's numbers and steering a policy.
export type {
  AnalysisOutcome,
  AnalysisDecision,
  MeasuredNumbers,
  RelativeCriteria,
  AnalysisCriteria,
  AnalysisLimits,
  AnalysisCheck,
  AnalysisCounters,
  CarriedAnalysisCounters,
  EvidenceWindowCounts,
  EvidencePartCounts,
  OutcomeCounts,
  AnalysisVerdict,
  GateContext,
  AnalysisGate,
  AnalysisGates,
  AnalysedVersion,
  AnalysisReport,
  AnalysisMethod,
  EvidenceOptions,
} from './analysis/types.js';
export { judgeEvidence, type EvidenceCriteria } from './analysis/evidence.js';
export { judgeAnalysis, type Judgement } from './analysis/judge.js';
export { countAnalysisOutcome, emptyAnalysisCounters } from './analysis/counters.js';
export type { AnalysisOptions, IntervalScheduler } from './analysis/options.js';
export type { AnalysisEvents, AnalysisBinding, CountersResetEvent } from './analysis/analysis-controller.js';
export { CanaryAnalysis, type CanaryAnalysisOptions } from './analysis/canary-analysis.js';
export {
  canaryAnalysis,
  blueGreenAnalysis,
  type BlueGreenAnalysisOptions,
  type BlueGreenAnalyses,
  type BlueGreenAnalysesCounters,
} from './analysis/compose.js';
export { BlueGreenAnalysis, type BlueGreenPhase, type BlueGreenPhaseCounters } from './analysis/blue-green-analysis.js';
export {
  ABTestAnalysis,
  type ABTestAnalysisCounters,
  type ABTestAnalysisOptions,
  type ABTestAnalysisSchedule,
  type ABTestAnalysisReport,
  type ABTestAnalysisEvents,
  type Guardrails,
  type VariantGuardrail,
} from './analysis/ab-test-analysis.js';

// Fleet: one rollout shared by every replica through storage.
export {
  DeploymentStore,
  type DeploymentStoreOptions,
  type DeploymentState,
  type AuditRecord,
  type TransitionInput,
  type StoredDeployment,
} from './fleet/deployment-store.js';
export {
  DeploymentFollower,
  type DeploymentFollowerOptions,
  type DeploymentFollowerEvents,
  type RestorablePolicy,
  type ChangeHints,
} from './fleet/deployment-follower.js';
export {
  MonitorHeartbeat,
  type MonitorHeartbeatOptions,
  type MonitorHeartbeatEvents,
  type HeartbeatRecord,
  type HeartbeatObservations,
  type SnapshotSource,
} from './fleet/monitor-heartbeat.js';
export { readFleetMonitors, type ReadFleetMonitorsOptions, type FleetMonitors, type ReplicaHeartbeat } from './fleet/fleet-monitors.js';
export { DeploymentLease, type DeploymentLeaseOptions, type LeaseRecord, type LeaseHold } from './fleet/deployment-lease.js';
export {
  FleetDeployment,
  type FleetDeploymentOptions,
  type FleetDeploymentEvents,
  type FleetPolicy,
  type FleetAnalysis,
  type FleetAnalysisReport,
  type FleetCoverage,
  type FleetAnalysisContext,
  type FleetReport,
  type FleetTransitionEvent,
} from './fleet/fleet-deployment.js';
