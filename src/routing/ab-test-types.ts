/**
 * The data of `ABTestController`: options, results, snapshots and event payloads. Kept apart from
 * the controller so the experiment model (`ab-test-experiment.ts`) can use them without a cycle.
 *
 * @module
 */
import type { Clock, RandomSource } from '../options.js';
import type { ComparisonResult, Interval } from '../stats/comparison.js';
import type { MetricKind } from '../stats/power.js';
import type { SrmResult } from '../stats/srm.js';
import type { SequentialState } from '../stats/sequential.js';
import type { SampleSummary } from '../stats/summary.js';
import type { HashVersion } from './hash.js';
import type { PolicyRestoredEvent } from './policy.js';

/** One arm of an experiment. */
export interface VariantConfig {
  /** Unique within the experiment (`'a'`, `'control'`, `'v2-large'` …). */
  name: string;
  /** Registry version this arm serves. */
  version: number;
  /** Relative share of units (finite, ≥ 0; normalised over all variants); default 1. */
  weight?: number;
}

/** What the experiment measures. */
export interface MetricConfig {
  kind: MetricKind;
  /** Whether a larger value is an improvement (conversion) or not (latency, error rate); default true. */
  higherIsBetter?: boolean;
}

/** Options of {@link ABTestController.createExperiment}. */
export interface ExperimentOptions {
  /** Two or more arms; the first is the control unless `control` names another. */
  variants?: readonly VariantConfig[];
  /** The seed's shorthand: variant `'a'` (control) serves `modelA`… */
  modelA?: number;
  /** …and variant `'b'` serves `modelB`. */
  modelB?: number;
  /** Share of units sent to `'b'` with the shorthand, in [0, 1]; default 0.5. */
  split?: number;
  /** Name of the control variant; default the first. */
  control?: string;
  /** Default `{ kind: 'continuous', higherIsBetter: true }`. */
  metric?: MetricConfig;
  /** Salt of the variant draw; default the experiment name. The coverage draw uses `salt + '#coverage'`. */
  salt?: string;
  /** Share of units in the experiment, in [0, 1]; default 1. Units outside get `null` from `assign`. */
  coverage?: number;
  /** Significance level of every comparison; default 0.05. */
  alpha?: number;
  /** Use always-valid p-values (safe to look after every result); default false (fixed horizon: look once). */
  sequential?: boolean;
  /** N* of the sequential test: total units at which its interval is tightest; default 5000. */
  sequentialTuning?: number;
  /** Run {@link ABTestController.analyze} automatically after every this many logged results; default 0 (never). */
  analyzeEvery?: number;
  /** Hash specification (default 1, the only one); see `docs/routing.md`. */
  hashVersion?: HashVersion;
}

/** Options of {@link ABTestController}. */
export interface ABTestControllerOptions {
  /** Experiment `route()` uses when the controller itself is a router's policy; default the first created. */
  defaultExperiment?: string;
  /** Time source for events, in ms (default `Date.now`). */
  clock?: Clock;
  /** Uniform [0, 1) source for units without a `unitId` (default `Math.random`). */
  random?: RandomSource;
}

/** One variant's numbers in {@link ExperimentResults}. */
export interface VariantResult {
  name: string;
  version: number;
  /** Normalised weight. */
  weight: number;
  count: number;
  mean: number;
  /** Sample standard deviation; `null` below 2 results. */
  stdev: number | null;
  /** `1 − alpha` interval of the mean (Student t; Wilson for a binary metric); `null` without enough results. */
  ci: Interval | null;
}

/** How an experiment ended. */
export type ConclusionDecision = 'given' | 'significant' | 'no-significant-winner';

/** The conclusion of an experiment, as kept in its state. */
export interface Conclusion {
  winner: string;
  decision: ConclusionDecision;
  at: number;
}

/** What {@link ABTestController.results} reports. */
export interface ExperimentResults {
  name: string;
  metric: Required<MetricConfig>;
  alpha: number;
  sequential: boolean;
  control: string;
  conclusion: Conclusion | null;
  variants: VariantResult[];
  /**
   * Each challenger against the control, keyed by variant name: Welch's t (continuous), the
   * two-proportion z-test (binary), or with `sequential` the asymptotic confidence sequence.
   * `null` until both arms have enough results (2 for continuous, 1 for binary).
   */
  comparisons: Record<string, ComparisonResult | null>;
  /** Sample-ratio mismatch of the logged counts against the configured weights. */
  srm: SrmResult;
}

/** Per-variant sufficient statistics of one experiment, to ship between replicas. */
export interface ExperimentStats {
  experiment: string;
  variants: Record<string, SampleSummary>;
}

/** An experiment's whole state, JSON-safe. */
export interface ExperimentSnapshot {
  name: string;
  variants: Array<Required<VariantConfig>>;
  control: string;
  metric: Required<MetricConfig>;
  salt: string;
  coverage: number;
  alpha: number;
  sequential: boolean;
  sequentialTuning: number;
  analyzeEvery: number;
  hashVersion: HashVersion;
  stats: Record<string, SampleSummary>;
  conclusion: Conclusion | null;
  /** Units pinned to a variant by {@link ABTestController.forceVariant}. */
  forced: Record<string, string>;
  /**
   * Sequential mode: each challenger's looks so far (running minimum p-value, running intersection
   * of the intervals), by variant name. Absent from snapshots of versions that did not keep them;
   * such a snapshot restores with no looks, and the next look starts the running values.
   */
  looks?: Record<string, SequentialState>;
}

/**
 * The controller's whole state, from {@link ABTestController.snapshot}. Tagged `'ab-test'`, in the
 * style of every policy's tag; `restore()` still reads `'ABTestController'`, the tag v0.1 wrote.
 */
export interface ABTestSnapshot {
  policy: 'ab-test';
  specVersion: 1;
  experiments: ExperimentSnapshot[];
}

/** Payload of the `created` event. */
export interface ExperimentCreatedEvent {
  name: string;
  variants: Array<Required<VariantConfig>>;
  control: string;
  at: number;
}

/** Payload of the `srmDetected` event. */
export interface SrmDetectedEvent {
  name: string;
  srm: SrmResult;
  counts: Record<string, number>;
  at: number;
}

/** Payload of the `significant` event. */
export interface SignificantEvent {
  name: string;
  variant: string;
  control: string;
  comparison: ComparisonResult;
  /** Whether the p-value is always-valid (sequential) or only valid at a planned horizon. */
  sequential: boolean;
  at: number;
}

/** Payload of the `concluded` event. */
export interface ConcludedEvent {
  name: string;
  winner: string;
  version: number;
  decision: ConclusionDecision;
  results: ExperimentResults;
  at: number;
}

/** Events of {@link ABTestController}. */
export interface ABTestControllerEvents {
  created: (event: ExperimentCreatedEvent) => void;
  /** First look at which the assignment counts disagree with the weights (p < 0.001). */
  srmDetected: (event: SrmDetectedEvent) => void;
  /** First look at which a challenger differs significantly from the control. */
  significant: (event: SignificantEvent) => void;
  concluded: (event: ConcludedEvent) => void;
  /**
   * Every look of {@link ABTestController.analyze} at a running experiment, after its `srmDetected`
   * and `significant` events: what an `ABTestAnalysis` acts on.
   */
  analyzed: (event: ExperimentAnalyzedEvent) => void;
  /** {@link ABTestController.restore} replaced every experiment with a snapshot's. */
  restored: (event: PolicyRestoredEvent) => void;
}

/** Payload of the `analyzed` event. */
export interface ExperimentAnalyzedEvent {
  name: string;
  results: ExperimentResults;
  at: number;
}
