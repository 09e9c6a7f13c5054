import { EventEmitter } from 'eventemitter3';
import { InputShapeError, ValidationError, describeValue } from '../errors.js';
import { checkNumber, checkOneOf, checkVersion, type Clock, type RandomSource } from '../options.js';
import { checkNonEmptyString, checkOptions, checkPercentage, checkRecord, snapshotRecord, timeAndChance } from './checks.js';
import { unitHasher, type HashVersion, type UnitHasher } from './hash.js';
import type { Assignment, MirroringPolicy, PolicyRestoredEvent, PolicyTraffic, RouteContext } from './policy.js';

/**
 * How shadow outputs are compared with the primary's: `'classification'` counts equal labels,
 * `'regression'` measures numeric differences.
 */
export type ShadowComparison = 'classification' | 'regression';

const COMPARISONS: readonly ShadowComparison[] = ['classification', 'regression'];

/**
 * A shadow policy's decision: the primary always answers; `mirror` says whether the router
 * should also send this request to `shadowVersion`, off the caller's path.
 */
export interface ShadowAssignment extends Assignment {
  /** The shadow version, whether or not this request is mirrored to it. */
  shadowVersion: number;
}

/** Options of {@link ShadowDeployment}. */
export interface ShadowDeploymentOptions {
  /** The version that answers every request. */
  primary: number;
  /** The version that receives mirrored requests; its answers are only compared. */
  shadow: number;
  /** Share of requests mirrored, 0–100 (default 100). Sticky per `unitId`. */
  mirrorPercent?: number;
  /** How {@link ShadowDeployment.compare} compares outputs (default `'regression'`). */
  comparison?: ShadowComparison;
  /** Which named output {@link ShadowDeployment.compare} reads from a predictor's output record (default: the first). */
  output?: string;
  /** Name, for logs and the default salt (default `'shadow'`). */
  name?: string;
  /** Salt of the mirror draw (default: `name`). */
  salt?: string;
  /** Hash specification (default 1, the only one). */
  hashVersion?: HashVersion;
  /** Time source for events, in ms (default `Date.now`). */
  clock?: Clock;
  /** Uniform [0, 1) source for the mirror draw of requests without a `unitId` (default `Math.random`). */
  random?: RandomSource;
}

/** Streaming comparison statistics of a {@link ShadowDeployment}: sums and counts only, so they merge by addition. */
export interface ShadowStats {
  /** `compare()` calls that produced comparable outputs. */
  comparisons: number;
  /** Compared values (a batch output of n labels or numbers counts n). */
  values: number;
  /** Classification: equal labels. */
  agreements: number;
  /** Regression: Σ |primary − shadow|. */
  absoluteDifferenceSum: number;
  /** Regression: largest |primary − shadow|. */
  maxAbsoluteDifference: number;
  /** Regression: Σ |primary − shadow| / max(|primary|, |shadow|) (0 when both are 0). */
  relativeDifferenceSum: number;
  /** `compare()` calls whose outputs had different shapes (counted, not compared). */
  shapeMismatches: number;
  /** Mirrored calls that failed (see {@link ShadowDeployment.recordShadowError}). */
  shadowErrors: number;
}

/** What the shadow has shown so far (see {@link ShadowDeployment.report}). */
export interface ShadowReport {
  primary: number;
  shadow: number;
  comparison: ShadowComparison;
  comparisons: number;
  values: number;
  /** Classification: share of equal labels; `undefined` before any value or in regression. */
  agreementRate: number | undefined;
  /** Regression: mean |primary − shadow|; `undefined` before any value or in classification. */
  meanAbsoluteDifference: number | undefined;
  /** Regression: largest |primary − shadow|. */
  maxAbsoluteDifference: number | undefined;
  /** Regression: mean |primary − shadow| / max(|primary|, |shadow|). */
  meanRelativeDifference: number | undefined;
  shapeMismatches: number;
  shadowErrors: number;
}

/** Payload of the `mirrorChanged` event. */
export interface ShadowMirrorChangedEvent {
  from: number;
  to: number;
  at: number;
}

/** Payload of the `statsReset` event: the report as it was before the reset. */
export interface ShadowStatsResetEvent {
  previous: ShadowReport;
  at: number;
}

/** Events of {@link ShadowDeployment}. */
export interface ShadowDeploymentEvents {
  /** {@link ShadowDeployment.setMirrorPercent} changed the mirrored share. */
  mirrorChanged: (event: ShadowMirrorChangedEvent) => void;
  /** {@link ShadowDeployment.resetStats} cleared the comparison statistics. */
  statsReset: (event: ShadowStatsResetEvent) => void;
  /** {@link ShadowDeployment.restore} replaced the state with a snapshot. */
  restored: (event: PolicyRestoredEvent) => void;
}

/** JSON-safe state of a {@link ShadowDeployment}, statistics included. */
export interface ShadowSnapshot {
  policy: 'shadow';
  specVersion: 1;
  name: string;
  salt: string;
  hashVersion: HashVersion;
  primary: number;
  shadow: number;
  mirrorPercent: number;
  comparison: ShadowComparison;
  stats: ShadowStats;
}

type Label = string | number | bigint | boolean;

function emptySums(): ShadowStats {
  return {
    comparisons: 0,
    values: 0,
    agreements: 0,
    absoluteDifferenceSum: 0,
    maxAbsoluteDifference: 0,
    relativeDifferenceSum: 0,
    shapeMismatches: 0,
    shadowErrors: 0,
  };
}

function isLabel(value: unknown): value is Label {
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'bigint' || type === 'boolean';
}

/** int64 labels arrive as bigint from one model and as number from another: compare them as numbers when exact. */
function plain(value: unknown): unknown {
  return typeof value === 'bigint' && value <= 9007199254740991n && value >= -9007199254740991n ? Number(value) : value;
}

/** Appends the scalars of a (nested, plain or typed) array to `into`; false if something else is inside. */
function flattenInto(value: unknown, into: unknown[]): boolean {
  if (isLabel(value)) {
    into.push(plain(value));
    return true;
  }
  if (Array.isArray(value)) {
    for (const item of value) if (!flattenInto(item, into)) return false;
    return true;
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const items = value as unknown as ArrayLike<unknown>;
    for (let i = 0; i < items.length; i++) into.push(plain(items[i]));
    return true;
  }
  return false;
}

/** An output's values, flat, and a key that equal shapes share. */
interface Flattened {
  values: unknown[];
  shape: string;
}

/**
 * Reads an output: a scalar, a (nested, typed) array, a tensor `{ data, dims }`, or a record of
 * named tensors (a predictor's output), of which `outputName` (default: the first) is compared.
 */
function flatten(output: unknown, outputName: string | undefined): Flattened | undefined {
  if (isLabel(output)) return { values: [plain(output)], shape: 'scalar' };
  const values: unknown[] = [];
  if (Array.isArray(output) || ArrayBuffer.isView(output)) {
    return flattenInto(output, values) ? { values, shape: `[${values.length}]` } : undefined;
  }
  if (typeof output !== 'object' || output === null) return undefined;
  const record = output as Record<string, unknown>;
  if ('data' in record && Array.isArray(record.dims)) {
    return flattenInto(record.data, values) ? { values, shape: `[${record.dims.join(',')}]` } : undefined;
  }
  const name = outputName ?? Object.keys(record)[0];
  const named = name === undefined ? undefined : record[name];
  return named === undefined || (typeof named === 'object' && named !== null && !('data' in named)) ? undefined : flatten(named, undefined);
}

/**
 * Shadow (dark) launch: the primary version answers every request, and a sticky, hash-sampled
 * share of requests is also mirrored to the shadow version so the two can be compared on live
 * traffic without the caller ever seeing the shadow's answer. The router runs the mirrored call;
 * this policy decides which requests to mirror and keeps streaming comparison statistics.
 *
 * @example
 * ```ts
 * const shadow = new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 20, comparison: 'classification' });
 * const a = shadow.route({ unitId: 'user-42' }); // { version: 1, variant: 'primary', mirror: true | false, shadowVersion: 2, … }
 * shadow.compare([0, 2, 1], [0, 2, 2]);
 * shadow.report().agreementRate;                 // 0.666…
 * ```
 */
export class ShadowDeployment extends EventEmitter<ShadowDeploymentEvents> implements MirroringPolicy {
  readonly #clock: Clock;
  readonly #random: RandomSource;
  #shadowName: string;
  #salt: string;
  #hashVersion: HashVersion;
  #hash: UnitHasher;
  #primary: number;
  #shadow: number;
  #mirrorPercent: number;
  #comparison: ShadowComparison;
  readonly #outputName: string | undefined;
  #sums: ShadowStats = emptySums();

  #threshold = 1;
  #mirroredByHash!: Readonly<ShadowAssignment>;
  #unmirroredByHash!: Readonly<ShadowAssignment>;
  #mirroredByRandom!: Readonly<ShadowAssignment>;
  #unmirroredByRandom!: Readonly<ShadowAssignment>;
  #forcedPrimary!: Readonly<ShadowAssignment>;
  #forcedShadow!: Readonly<ShadowAssignment>;
  #fallbackAssignment!: Readonly<ShadowAssignment>;

  constructor(options: ShadowDeploymentOptions) {
    super();
    const opts = checkOptions<ShadowDeploymentOptions>('ShadowDeployment', options);
    ({ clock: this.#clock, random: this.#random } = timeAndChance(opts));
    this.#primary = checkVersion('primary', opts.primary);
    this.#shadow = checkVersion('shadow', opts.shadow);
    if (this.#shadow === this.#primary) throw new ValidationError(`shadow must differ from primary, got ${this.#shadow} for both`);
    this.#mirrorPercent = opts.mirrorPercent === undefined ? 100 : checkPercentage('mirrorPercent', opts.mirrorPercent);
    this.#comparison = opts.comparison === undefined ? 'regression' : checkOneOf('comparison', opts.comparison, COMPARISONS);
    this.#outputName = opts.output === undefined ? undefined : checkNonEmptyString('output', opts.output);
    this.#shadowName = opts.name === undefined ? 'shadow' : checkNonEmptyString('name', opts.name);
    this.#salt = opts.salt === undefined ? this.#shadowName : checkNonEmptyString('salt', opts.salt);
    this.#hashVersion = (opts.hashVersion ?? 1) as HashVersion;
    this.#hash = unitHasher(this.#salt, this.#hashVersion);
    this.#refresh();
  }

  /** The name of this shadow launch. */
  get name(): string {
    return this.#shadowName;
  }

  /** Share of requests mirrored, 0–100. */
  get mirrored(): number {
    return this.#mirrorPercent;
  }

  /** The primary answers everyone (share 1); the shadow answers nobody but receives `mirrored / 100` of the requests. */
  traffic(): PolicyTraffic[] {
    return [
      { version: this.#primary, variant: 'primary', share: 1 },
      { version: this.#shadow, variant: 'shadow', share: 0, mirrorShare: this.#mirrorPercent / 100 },
    ];
  }

  /**
   * Always the primary (variant `'primary'`). `mirror` is `{ version: shadow }` when
   * `hashUnit(salt, unitId) < mirrorPercent / 100` (reason `'hash'`), or, without a `unitId`,
   * when `random() < mirrorPercent / 100` (reason `'random'`). `ctx.force` may name `'primary'`
   * or `'shadow'` (reason `'forced'`, no mirror), to query the shadow directly while debugging.
   * The returned object is frozen and shared.
   */
  route(ctx?: RouteContext): ShadowAssignment {
    if (ctx !== undefined) {
      if (ctx.force !== undefined) {
        if (ctx.force === 'primary') return this.#forcedPrimary;
        if (ctx.force === 'shadow') return this.#forcedShadow;
        throw new ValidationError(`force must be 'primary' or 'shadow', got ${describeValue(ctx.force)}`);
      }
      const unitId = ctx.unitId;
      if (unitId !== undefined) return this.#hash(unitId) < this.#threshold ? this.#mirroredByHash : this.#unmirroredByHash;
    }
    return this.#random() < this.#threshold ? this.#mirroredByRandom : this.#unmirroredByRandom;
  }

  /** The primary, reason `'fallback'`, never mirrored. */
  fallback(): ShadowAssignment {
    return this.#fallbackAssignment;
  }

  /** Changes the mirrored share (sticky units mirrored at a lower share stay mirrored) and emits `mirrorChanged`. */
  setMirrorPercent(percent: number): void {
    const to = checkPercentage('mirrorPercent', percent);
    const from = this.#mirrorPercent;
    this.#mirrorPercent = to;
    this.#refresh();
    this.emit('mirrorChanged', { from, to, at: this.#clock() });
  }

  /**
   * Adds one pair of outputs to the statistics. Outputs are scalars, (nested, typed) arrays of
   * them, tensors `{ data, dims }`, or a predictor's record of named tensors (the `output` option
   * picks one, default the first), compared element by element: labels for equality in `'classification'`, numbers by
   * absolute and relative difference in `'regression'`. Outputs of different shapes are counted
   * in `shapeMismatches` and not compared; an output that is not a scalar or array of scalars,
   * or a non-number in regression, is an `InputShapeError` and changes nothing.
   */
  compare(primaryOutput: unknown, shadowOutput: unknown): void {
    const primary = flatten(primaryOutput, this.#outputName);
    const shadow = flatten(shadowOutput, this.#outputName);
    if (primary === undefined || shadow === undefined) {
      const bad = primary === undefined ? `primaryOutput ${describeValue(primaryOutput)}` : `shadowOutput ${describeValue(shadowOutput)}`;
      throw new InputShapeError(
        `compare() expects a scalar, an array of scalars, a tensor { data, dims } or a record holding ${this.#outputName === undefined ? 'tensors' : `output '${this.#outputName}'`}, got ${bad}`,
      );
    }
    const primaryValues = primary.values;
    const shadowValues = shadow.values;
    if (primary.shape !== shadow.shape) {
      this.#sums.shapeMismatches += 1;
      return;
    }
    if (this.#comparison === 'classification') {
      let agreements = 0;
      for (let i = 0; i < primaryValues.length; i++) if (primaryValues[i] === shadowValues[i]) agreements += 1;
      this.#sums.agreements += agreements;
    } else {
      for (let i = 0; i < primaryValues.length; i++) {
        const a = primaryValues[i];
        const b = shadowValues[i];
        if (typeof a !== 'number' || typeof b !== 'number') {
          throw new InputShapeError(`compare() in regression expects numbers, got ${describeValue(typeof a !== 'number' ? a : b)} at index ${i}`);
        }
      }
      let absoluteSum = 0;
      let relativeSum = 0;
      let max = this.#sums.maxAbsoluteDifference;
      for (let i = 0; i < primaryValues.length; i++) {
        const a = primaryValues[i] as number;
        const b = shadowValues[i] as number;
        const difference = Math.abs(a - b);
        const scale = Math.max(Math.abs(a), Math.abs(b));
        absoluteSum += difference;
        relativeSum += scale === 0 ? 0 : difference / scale;
        if (difference > max) max = difference;
      }
      this.#sums.absoluteDifferenceSum += absoluteSum;
      this.#sums.relativeDifferenceSum += relativeSum;
      this.#sums.maxAbsoluteDifference = max;
    }
    this.#sums.comparisons += 1;
    this.#sums.values += primaryValues.length;
  }

  /** Counts a mirrored call that failed (it never reaches the caller, but it matters). */
  recordShadowError(): void {
    this.#sums.shadowErrors += 1;
  }

  /** The comparison statistics so far. */
  report(): ShadowReport {
    const { comparisons, values, agreements, absoluteDifferenceSum, maxAbsoluteDifference, relativeDifferenceSum, shapeMismatches, shadowErrors } =
      this.#sums;
    const classification = this.#comparison === 'classification';
    const any = values > 0;
    return {
      primary: this.#primary,
      shadow: this.#shadow,
      comparison: this.#comparison,
      comparisons,
      values,
      agreementRate: classification && any ? agreements / values : undefined,
      meanAbsoluteDifference: !classification && any ? absoluteDifferenceSum / values : undefined,
      maxAbsoluteDifference: !classification && any ? maxAbsoluteDifference : undefined,
      meanRelativeDifference: !classification && any ? relativeDifferenceSum / values : undefined,
      shapeMismatches,
      shadowErrors,
    };
  }

  /** Clears the comparison statistics (e.g. after fixing the shadow) and emits `statsReset` with the old report. */
  resetStats(): void {
    const previous = this.report();
    this.#sums = emptySums();
    this.emit('statsReset', { previous, at: this.#clock() });
  }

  snapshot(): ShadowSnapshot {
    return {
      policy: 'shadow',
      specVersion: 1,
      name: this.#shadowName,
      salt: this.#salt,
      hashVersion: this.#hashVersion,
      primary: this.#primary,
      shadow: this.#shadow,
      mirrorPercent: this.#mirrorPercent,
      comparison: this.#comparison,
      stats: { ...this.#sums },
    };
  }

  restore(snapshot: unknown): void {
    const record = snapshotRecord(snapshot, 'shadow');
    const name = checkNonEmptyString('snapshot.name', record.name);
    const salt = checkNonEmptyString('snapshot.salt', record.salt);
    const hash = unitHasher(salt, record.hashVersion as HashVersion);
    const primary = checkVersion('snapshot.primary', record.primary);
    const shadow = checkVersion('snapshot.shadow', record.shadow);
    if (shadow === primary) throw new ValidationError(`snapshot.shadow must differ from snapshot.primary, got ${shadow} for both`);
    const mirrorPercent = checkPercentage('snapshot.mirrorPercent', record.mirrorPercent);
    const comparison = checkOneOf('snapshot.comparison', record.comparison, COMPARISONS);
    const stats = checkRecord('snapshot.stats', record.stats);
    const sums = emptySums();
    for (const key of Object.keys(sums) as (keyof ShadowStats)[]) {
      const integer = key !== 'absoluteDifferenceSum' && key !== 'maxAbsoluteDifference' && key !== 'relativeDifferenceSum';
      sums[key] = checkNumber(`snapshot.stats.${key}`, stats[key], { min: 0, integer });
    }
    this.#shadowName = name;
    this.#salt = salt;
    this.#hashVersion = record.hashVersion as HashVersion;
    this.#hash = hash;
    this.#primary = primary;
    this.#shadow = shadow;
    this.#mirrorPercent = mirrorPercent;
    this.#comparison = comparison;
    this.#sums = sums;
    this.#refresh();
    this.emit('restored', { at: this.#clock() });
  }

  #refresh(): void {
    const primary = this.#primary, shadow = this.#shadow;
    this.#threshold = this.#mirrorPercent / 100;
    const mirror = Object.freeze({ version: shadow });
    const make = (mirrored: boolean, reason: Assignment['reason'], version = primary, variant = 'primary'): Readonly<ShadowAssignment> =>
      Object.freeze(
        mirrored
          ? { version, variant, reason, propensity: 1, mirror, shadowVersion: shadow }
          : { version, variant, reason, propensity: 1, shadowVersion: shadow },
      );
    this.#mirroredByHash = make(true, 'hash');
    this.#unmirroredByHash = make(false, 'hash');
    this.#mirroredByRandom = make(true, 'random');
    this.#unmirroredByRandom = make(false, 'random');
    this.#forcedPrimary = make(false, 'forced');
    this.#forcedShadow = make(false, 'forced', shadow, 'shadow');
    this.#fallbackAssignment = make(false, 'fallback');
  }
}
