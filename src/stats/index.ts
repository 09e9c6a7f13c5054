/**
 * Statistics for experiments, as pure functions: streaming sufficient statistics, Welch's t-test,
 * the two-proportion z-test, sample-ratio-mismatch, sample size and minimum detectable effect, and
 * an always-valid sequential test, always-valid non-inferiority tests of error rate and latency
 * (canary evidence), and off-policy value estimates (IPS, self-normalised IPS). See `docs/ab-testing.md` for the formulas and references.
 *
 * @module
 */
export {
  emptySummary,
  addObservation,
  mergeSummaries,
  summarize,
  summaryVariance,
  checkSummary,
  type SampleSummary,
  type SampleInput,
} from './summary.js';
export type { ComparisonResult, ComparisonOptions, ComparisonTest, Interval } from './comparison.js';
export { welchTTest } from './welch.js';
export { twoProportionZTest, type ProportionInput } from './proportions.js';
export { meanConfidenceInterval, wilsonInterval } from './intervals.js';
export { srmTest, type SrmResult, type SrmOptions, type SrmStatus } from './srm.js';
export {
  sampleSize,
  minimumDetectableEffect,
  type MetricKind,
  type ExperimentDesign,
  type SampleSizeOptions,
  type MdeOptions,
  type SampleSizeResult,
} from './power.js';
export { sequentialTest, sequentialRho, type SequentialOptions } from './sequential.js';
export {
  proportionNonInferiorityTest,
  type EvidenceVerdict,
  type NonInferiorityOptions,
  type NonInferiorityResult,
} from './non-inferiority.js';
export {
  latencyNonInferiorityTest,
  type LatencySample,
  type LatencyHistogram,
  type LatencyNonInferiorityOptions,
  type LatencyNonInferiorityResult,
} from './latency-non-inferiority.js';
export {
  offPolicyEstimate,
  type LoggedDecision,
  type TargetPolicy,
  type PolicyValueEstimate,
  type OffPolicyResult,
  type OffPolicyOptions,
} from './off-policy.js';
