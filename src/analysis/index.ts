/**
 * Automated analysis: judging a candidate version on live monitor numbers, Argo Rollouts'
 * counters, async gates, and the controllers that drive canary and blue-green rollouts.
 *
 * @module
 */
export type {
  AnalysisOutcome,
  AnalysisDecision,
  MeasuredNumbers,
  RelativeCriteria,
  AnalysisCriteria,
  AnalysisLimits,
  AnalysisCheck,
  AnalysisCounters,
  AnalysisVerdict,
  GateContext,
  AnalysisGate,
  AnalysisGates,
  AnalysedVersion,
  AnalysisReport,
  AnalysisMethod,
  EvidenceOptions,
} from './types.js';
export { judgeEvidence, type EvidenceCriteria } from './evidence.js';
export { judgeAnalysis, DEFAULT_MIN_REQUESTS, type Judgement } from './judge.js';
export { countAnalysisOutcome, emptyAnalysisCounters, DEFAULT_ANALYSIS_LIMITS } from './counters.js';
export type { AnalysisOptions, IntervalScheduler } from './options.js';
export { AnalysisController, type AnalysisEvents, type AnalysisBinding } from './analysis-controller.js';
export { CanaryAnalysis } from './canary-analysis.js';
export { BlueGreenAnalysis, type BlueGreenPhase } from './blue-green-analysis.js';
export { ABTestAnalysis, type ABTestAnalysisOptions, type ABTestAnalysisSchedule, type ABTestAnalysisReport, type ABTestAnalysisEvents, type Guardrails, type VariantGuardrail } from './ab-test-analysis.js';
