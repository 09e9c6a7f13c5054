/**
 * The experiment model behind `ABTestController`: building an experiment from its options,
 * comparing its variants, and its snapshot form. Internal.
 *
 * @internal
 * @module
 */
import { ValidationError, describeValue } from '../errors.js';
import { checkNumber, checkOneOf, checkVersion } from '../options.js';
import { checkAlpha, type ComparisonResult, type Interval } from '../stats/comparison.js';
import { meanConfidenceInterval, wilsonInterval } from '../stats/intervals.js';
import { twoProportionZTest } from '../stats/proportions.js';
import { checkSequentialState, sequentialLook, sequentialTest, type SequentialState } from '../stats/sequential.js';
import { checkSummary, emptySummary, type SampleSummary } from '../stats/summary.js';
import { welchTTest } from '../stats/welch.js';
import type { Conclusion, ExperimentOptions, ExperimentSnapshot, MetricConfig, VariantConfig } from './ab-test-types.js';
import { checkArray, checkNonEmptyString, checkRecord } from './checks.js';
import { normalizeWeights } from '../stats/weights.js';
import { bucketRanges, unitHasher, type BucketRange, type HashVersion, type UnitHasher } from './hash.js';
import type { Assignment } from './policy.js';

/** One arm with its statistics and the frozen assignments `route` hands out. @internal */
export interface Variant {
  name: string;
  version: number;
  weight: number;
  stats: SampleSummary;
  byHash: Readonly<Assignment>;
  byRandom: Readonly<Assignment>;
  forced: Readonly<Assignment>;
  concluded: Readonly<Assignment>;
}

/** An experiment's configuration and state, as the controller holds it. @internal */
export interface Experiment {
  name: string;
  variants: Variant[];
  indexByName: Map<string, number>;
  control: number;
  metric: Required<MetricConfig>;
  salt: string;
  coverage: number;
  alpha: number;
  sequential: boolean;
  sequentialTuning: number;
  analyzeEvery: number;
  hashVersion: HashVersion;
  ranges: BucketRange[];
  variantHash: UnitHasher;
  coverageHash: UnitHasher;
  forced: Map<string, number>;
  conclusion: Conclusion | null;
  fallback: Readonly<Assignment>;
  sinceAnalysis: number;
  srmReported: boolean;
  significantReported: Set<string>;
  /** Sequential mode: each challenger's looks so far (running minimum p, running intersection), by variant name. */
  looks: Map<string, SequentialState>;
}

/** Appended to the salt for the coverage draw, so membership and variant are independent draws. */
const COVERAGE_SALT_SUFFIX = '#coverage';

/** @internal */
export function controlOf(e: Experiment): Variant {
  return e.variants[e.control] as Variant;
}

/** @internal */
export function variantConfigs(e: Experiment): Array<Required<VariantConfig>> {
  return e.variants.map((v) => ({ name: v.name, version: v.version, weight: v.weight }));
}

/** @internal */
export function compare(e: Experiment, control: SampleSummary, treatment: SampleSummary): ComparisonResult | null {
  const binary = e.metric.kind === 'binary';
  if (binary ? control.count < 1 || treatment.count < 1 : control.count < 2 || treatment.count < 2) return null;
  if (e.sequential) return sequentialTest(control, treatment, { alpha: e.alpha, kind: e.metric.kind, tuning: e.sequentialTuning });
  if (!binary) return welchTTest(control, treatment, { alpha: e.alpha });
  return twoProportionZTest(asProportion(control), asProportion(treatment), { alpha: e.alpha });
}

/**
 * Each challenger against the control. In sequential mode each comparison is folded into that
 * challenger's looks (`sequentialLook`): the p-value reported is the running minimum and the
 * intervals the running intersection, so a result that crossed α stays significant. With
 * `commit` the fold is kept (a look: `analyze`); without, it is only reported (`results`), which
 * is as valid, since the guarantee holds at every time at once.
 * @internal
 */
export function compareVariants(e: Experiment, commit: boolean): Record<string, ComparisonResult | null> {
  const control = controlOf(e);
  const comparisons: Record<string, ComparisonResult | null> = {};
  for (const v of e.variants) {
    if (v === control) continue;
    const current = compare(e, control.stats, v.stats);
    if (current === null || !e.sequential) {
      comparisons[v.name] = current;
      continue;
    }
    const step = sequentialLook(e.looks.get(v.name), current);
    if (commit) e.looks.set(v.name, step.state);
    comparisons[v.name] = step.result;
  }
  return comparisons;
}

function asProportion(s: SampleSummary): { successes: number; trials: number } {
  return { successes: Math.round(s.mean * s.count), trials: s.count };
}

/** @internal */
export function variantInterval(s: SampleSummary, binary: boolean, alpha: number): Interval | null {
  if (binary) return s.count < 1 ? null : wilsonInterval(asProportion(s), alpha);
  return s.count < 2 ? null : meanConfidenceInterval(s, alpha);
}

function frozen(version: number, variant: string, reason: Assignment['reason'], propensity = 1): Readonly<Assignment> {
  return Object.freeze({ version, variant, reason, propensity });
}

function checkVariants(options: ExperimentOptions): Array<Required<VariantConfig>> {
  const shorthand = options.modelA !== undefined || options.modelB !== undefined || options.split !== undefined;
  if (shorthand) {
    if (options.variants !== undefined) throw new ValidationError('give either variants or modelA/modelB/split, not both');
    const split = checkNumber('split', options.split ?? 0.5, { min: 0, max: 1 });
    return [
      { name: 'a', version: checkVersion('modelA', options.modelA), weight: 1 - split },
      { name: 'b', version: checkVersion('modelB', options.modelB), weight: split },
    ];
  }
  const list = checkArray('variants', options.variants);
  if (list.length < 2) throw new ValidationError(`variants must list at least 2 variants, got ${list.length}`);
  const seen = new Set<string>();
  return list.map((item, i) => {
    const v = checkRecord(`variants[${i}]`, item);
    const name = checkNonEmptyString(`variants[${i}].name`, v.name);
    if (seen.has(name)) throw new ValidationError(`variants[${i}].name '${name}' is a duplicate`);
    seen.add(name);
    return {
      name,
      version: checkVersion(`variants[${i}].version`, v.version),
      weight: v.weight === undefined ? 1 : checkNumber(`variants[${i}].weight`, v.weight, { min: 0 }),
    };
  });
}

function checkMetric(value: unknown): Required<MetricConfig> {
  if (value === undefined) return { kind: 'continuous', higherIsBetter: true };
  const m = checkRecord('metric', value);
  const kind = checkOneOf('metric.kind', m.kind, ['binary', 'continuous'] as const);
  if (m.higherIsBetter !== undefined && typeof m.higherIsBetter !== 'boolean') {
    throw new ValidationError(`metric.higherIsBetter must be a boolean, got ${describeValue(m.higherIsBetter)}`);
  }
  return { kind, higherIsBetter: m.higherIsBetter ?? true };
}

function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ValidationError(`${name} must be a boolean, got ${describeValue(value)}`);
  return value;
}

/** @internal */
export function buildExperiment(name: string, options: ExperimentOptions): Experiment {
  const configs = checkVariants(options);
  const weights = normalizeWeights(
    configs.map((v) => v.weight),
    'variants[].weight',
  );
  const controlName = options.control === undefined ? (configs[0] as Required<VariantConfig>).name : checkNonEmptyString('control', options.control);
  const control = configs.findIndex((v) => v.name === controlName);
  if (control < 0) throw new ValidationError(`control must name one of the variants (${configs.map((v) => v.name).join(', ')}), got '${controlName}'`);
  const salt = options.salt === undefined ? name : checkNonEmptyString('salt', options.salt);
  const coverage = checkNumber('coverage', options.coverage ?? 1, { min: 0, max: 1 });
  const alpha = checkAlpha(options.alpha);
  const hashVersion = (options.hashVersion ?? 1) as HashVersion;
  const variantHash = unitHasher(salt, hashVersion);
  // A unit outside the coverage gets the control too, so the control's share includes theirs.
  const propensityOf = (i: number) => coverage * (weights[i] as number) + (i === control ? 1 - coverage : 0);
  const variants: Variant[] = configs.map((v, i) => ({
    name: v.name,
    version: v.version,
    weight: weights[i] as number,
    stats: emptySummary(),
    byHash: frozen(v.version, v.name, 'hash', propensityOf(i)),
    byRandom: frozen(v.version, v.name, 'random', propensityOf(i)),
    forced: frozen(v.version, v.name, 'forced'),
    concluded: frozen(v.version, v.name, 'concluded'),
  }));
  const controlVariant = variants[control] as Variant;
  return {
    name,
    variants,
    indexByName: new Map(variants.map((v, i) => [v.name, i])),
    control,
    metric: checkMetric(options.metric),
    salt,
    coverage,
    alpha,
    sequential: checkBoolean('sequential', options.sequential, false),
    sequentialTuning: checkNumber('sequentialTuning', options.sequentialTuning ?? 5000, { min: 0, exclusiveMin: true }),
    analyzeEvery: checkNumber('analyzeEvery', options.analyzeEvery ?? 0, { min: 0, integer: true }),
    hashVersion,
    ranges: bucketRanges(weights, 1),
    variantHash,
    coverageHash: unitHasher(salt + COVERAGE_SALT_SUFFIX, hashVersion),
    forced: new Map(),
    conclusion: null,
    fallback: frozen(controlVariant.version, controlVariant.name, 'fallback', propensityOf(control)),
    sinceAnalysis: 0,
    srmReported: false,
    significantReported: new Set(),
    looks: new Map(),
  };
}

/** @internal */
export function snapshotExperiment(e: Experiment): ExperimentSnapshot {
  return {
    name: e.name,
    variants: variantConfigs(e),
    control: controlOf(e).name,
    metric: { ...e.metric },
    salt: e.salt,
    coverage: e.coverage,
    alpha: e.alpha,
    sequential: e.sequential,
    sequentialTuning: e.sequentialTuning,
    analyzeEvery: e.analyzeEvery,
    hashVersion: e.hashVersion,
    stats: Object.fromEntries(e.variants.map((v) => [v.name, { ...v.stats }])),
    conclusion: e.conclusion && { ...e.conclusion },
    forced: Object.fromEntries([...e.forced].map(([unit, index]) => [unit, (e.variants[index] as Variant).name])),
    looks: Object.fromEntries([...e.looks].map(([variant, s]) => [variant, { ...s, differenceCi: [...s.differenceCi], liftCi: s.liftCi && [...s.liftCi] }])),
  };
}

/** Per-variant summaries of a stats record, checked against the experiment (metric range included). */
/** @internal */
export function checkStatsRecord(e: Experiment, value: unknown, field: string): Array<[number, SampleSummary]> {
  const record = checkRecord(field, value);
  return Object.entries(record).map(([variant, raw]) => {
    const index = e.indexByName.get(variant);
    if (index === undefined) throw new ValidationError(`${field} has unknown variant '${variant}' (experiment '${e.name}' has ${[...e.indexByName.keys()].join(', ')})`);
    const summary = checkSummary(`${field}.${variant}`, raw);
    if (e.metric.kind === 'binary' && (summary.mean < 0 || summary.mean > 1)) {
      throw new ValidationError(`${field}.${variant}.mean must be a rate in [0, 1] for a binary metric, got ${summary.mean}`);
    }
    return [index, summary];
  });
}

/** @internal */
export function restoreExperiment(value: unknown, field: string): Experiment {
  const s = checkRecord(field, value);
  const name = checkNonEmptyString(`${field}.name`, s.name);
  let e: Experiment;
  try {
    e = buildExperiment(name, {
      variants: s.variants as VariantConfig[],
      control: s.control as string,
      metric: s.metric as MetricConfig,
      salt: s.salt as string,
      coverage: s.coverage as number,
      alpha: s.alpha as number,
      sequential: s.sequential as boolean,
      sequentialTuning: s.sequentialTuning as number,
      analyzeEvery: s.analyzeEvery as number,
      hashVersion: s.hashVersion as HashVersion,
    });
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError(`${field}: ${error.message}`, { cause: error });
    throw error;
  }
  for (const [index, summary] of checkStatsRecord(e, s.stats, `${field}.stats`)) (e.variants[index] as Variant).stats = summary;
  if (s.conclusion !== null && s.conclusion !== undefined) {
    const c = checkRecord(`${field}.conclusion`, s.conclusion);
    const winner = checkNonEmptyString(`${field}.conclusion.winner`, c.winner);
    if (!e.indexByName.has(winner)) throw new ValidationError(`${field}.conclusion.winner '${winner}' is not a variant`);
    const decision = checkOneOf(`${field}.conclusion.decision`, c.decision, ['given', 'significant', 'no-significant-winner'] as const);
    e.conclusion = { winner, decision, at: checkNumber(`${field}.conclusion.at`, c.at) };
  }
  if (s.forced !== undefined) {
    for (const [unit, variant] of Object.entries(checkRecord(`${field}.forced`, s.forced))) {
      const index = typeof variant === 'string' ? e.indexByName.get(variant) : undefined;
      if (index === undefined) throw new ValidationError(`${field}.forced['${unit}'] must name a variant, got ${describeValue(variant)}`);
      e.forced.set(unit, index);
    }
  }
  // Absent from snapshots taken before looks were kept: the next look starts the running values.
  if (s.looks !== undefined) e.looks = checkLooks(e, s.looks, `${field}.looks`);
  return e;
}

/** Each challenger's sequential state in `value` (a snapshot's `looks`), checked against experiment `e`. */
export function checkLooks(e: Experiment, value: unknown, field: string): Map<string, SequentialState> {
  const looks = new Map<string, SequentialState>();
  for (const [variant, state] of Object.entries(checkRecord(field, value))) {
    if (!e.indexByName.has(variant) || variant === controlOf(e).name) {
      throw new ValidationError(`${field} has '${variant}', which is not a challenger of experiment '${e.name}' (${challengers(e)})`);
    }
    looks.set(variant, checkSequentialState(state, `${field}.${variant}`));
  }
  return looks;
}

function challengers(e: Experiment): string {
  return e.variants.filter((v) => v !== controlOf(e)).map((v) => `'${v.name}'`).join(', ');
}
