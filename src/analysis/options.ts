import { ValidationError, describeValue } from '../errors.js';
import { checkFunction, checkNumber, checkOneOf, globalTimers } from '../options.js';
import { checkAlpha } from '../stats/comparison.js';
import { DEFAULT_ANALYSIS_LIMITS } from './counters.js';
import { DEFAULT_MIN_REQUESTS } from './judge.js';
import type { AnalysisCriteria, AnalysisGate, AnalysisGates, AnalysisLimits, AnalysisMethod, EvidenceOptions } from './types.js';

/**
 * Something that runs a callback every `ms`: the global timers (the default) or a `FakeClock`
 * from `model-rollout/testing`, so a test drives the analysis loop by advancing fake time.
 */
export interface IntervalScheduler {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Options shared by every automated analysis (canary steps, blue-green pre/post promotion). */
export interface AnalysisOptions extends AnalysisCriteria, AnalysisLimits {
  /** Time between two runs when driven by the analysis's `start()`, in ms (default 60 000, Flagger's default). */
  intervalMs?: number;
  /** Async yes/no functions asked before acting on a success. */
  gates?: AnalysisGates;
  /** Timers for the analysis's `start()` (default: the global ones, unref'd). */
  timers?: IntervalScheduler;
}

/** {@link EvidenceOptions} with defaults applied and checked. @internal */
export type ResolvedEvidenceOptions = Required<EvidenceOptions>;

/** {@link AnalysisOptions} with defaults applied and every value checked. @internal */
export interface ResolvedAnalysisOptions {
  intervalMs: number;
  criteria: AnalysisCriteria & { minRequests: number };
  /** Set for the `'evidence'` method. */
  evidence: ResolvedEvidenceOptions | undefined;
  limits: Required<AnalysisLimits>;
  gates: AnalysisGates;
  timers: IntervalScheduler;
}

/**
 * Checks analysis options up front, naming the bad one (`analysis.maxErrorRate must be …`).
 * @param name - the option's name in messages, e.g. `'analysis'` or `'prePromotionAnalysis'`.
 * @internal
 */
export function resolveAnalysisOptions(name: string, options: unknown): ResolvedAnalysisOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ValidationError(`${name} must be an object, got ${describeValue(options)}`);
  }
  const o = options as AnalysisOptions;
  const optional = (key: string, value: unknown, bounds: Parameters<typeof checkNumber>[2]) =>
    value === undefined ? undefined : checkNumber(`${name}.${key}`, value, bounds);

  const criteria: AnalysisCriteria & { minRequests: number } = {
    minRequests: optional('minRequests', o.minRequests, { min: 1, integer: true }) ?? DEFAULT_MIN_REQUESTS,
  };
  const maxErrorRate = optional('maxErrorRate', o.maxErrorRate, { min: 0, max: 1 });
  const maxP99LatencyMs = optional('maxP99LatencyMs', o.maxP99LatencyMs, { min: 0, exclusiveMin: true });
  if (maxErrorRate !== undefined) criteria.maxErrorRate = maxErrorRate;
  if (maxP99LatencyMs !== undefined) criteria.maxP99LatencyMs = maxP99LatencyMs;
  if (o.relative !== undefined) {
    if (typeof o.relative !== 'object' || o.relative === null) {
      throw new ValidationError(`${name}.relative must be an object, got ${describeValue(o.relative)}`);
    }
    const maxErrorRateIncrease = optional('relative.maxErrorRateIncrease', o.relative.maxErrorRateIncrease, { min: 0, max: 1 });
    const maxLatencyRatio = optional('relative.maxLatencyRatio', o.relative.maxLatencyRatio, { min: 0, exclusiveMin: true });
    if (maxErrorRateIncrease === undefined && maxLatencyRatio === undefined) {
      throw new ValidationError(`${name}.relative must set maxErrorRateIncrease or maxLatencyRatio, got neither`);
    }
    criteria.relative = {};
    if (maxErrorRateIncrease !== undefined) criteria.relative.maxErrorRateIncrease = maxErrorRateIncrease;
    if (maxLatencyRatio !== undefined) criteria.relative.maxLatencyRatio = maxLatencyRatio;
  }
  if (criteria.maxErrorRate === undefined && criteria.maxP99LatencyMs === undefined && criteria.relative === undefined) {
    throw new ValidationError(
      `${name} must set at least one of maxErrorRate, maxP99LatencyMs or relative (an analysis that checks nothing would pass everything), got none`,
    );
  }
  const evidence = resolveEvidence(name, o, criteria);

  const limits = resolveLimits(name, o);

  const gates: AnalysisGates = {};
  if (o.gates !== undefined) {
    if (typeof o.gates !== 'object' || o.gates === null) {
      throw new ValidationError(`${name}.gates must be an object, got ${describeValue(o.gates)}`);
    }
    if (o.gates.beforeStep !== undefined) gates.beforeStep = checkFunction<AnalysisGate>(`${name}.gates.beforeStep`, o.gates.beforeStep);
    if (o.gates.beforePromote !== undefined) {
      gates.beforePromote = checkFunction<AnalysisGate>(`${name}.gates.beforePromote`, o.gates.beforePromote);
    }
  }

  const { intervalMs, timers } = resolveSchedule(name, o);

  return {
    intervalMs,
    criteria,
    evidence,
    limits,
    gates,
    timers,
  };
}

function resolveEvidence(name: string, o: AnalysisOptions, criteria: AnalysisCriteria): ResolvedEvidenceOptions | undefined {
  const method = checkOneOf<AnalysisMethod>(`${name}.method`, o.method ?? 'threshold', ['threshold', 'evidence']);
  if (method === 'threshold') {
    if (o.evidence !== undefined) throw new ValidationError(`${name}.evidence only applies with method 'evidence', got method 'threshold'`);
    return undefined;
  }
  criteria.method = 'evidence';
  if (criteria.relative === undefined) {
    throw new ValidationError(
      `${name}.method 'evidence' judges the candidate against the baseline with relative's limits as margins: set relative.maxErrorRateIncrease and/or relative.maxLatencyRatio, got no relative`,
    );
  }
  const ratio = criteria.relative.maxLatencyRatio;
  if (ratio !== undefined && ratio < 1) {
    throw new ValidationError(`${name}.relative.maxLatencyRatio must be >= 1 with method 'evidence' (a candidate faster than the baseline cannot be required), got number ${ratio}`);
  }
  const e = (o.evidence ?? {}) as EvidenceOptions;
  if (typeof e !== 'object' || e === null) throw new ValidationError(`${name}.evidence must be an object, got ${describeValue(o.evidence)}`);
  const quantile = checkNumber(`${name}.evidence.latencyQuantile`, e.latencyQuantile ?? 0.95, { min: 0, max: 1, exclusiveMin: true });
  if (quantile === 1) throw new ValidationError(`${name}.evidence.latencyQuantile must be a finite number > 0 and < 1, got number 1`);
  return {
    alpha: checkAlpha(e.alpha, `${name}.evidence.alpha`),
    tuning: checkNumber(`${name}.evidence.tuning`, e.tuning ?? 5000, { min: 0, exclusiveMin: true }),
    latencyQuantile: quantile,
    minLatencyDifferenceMs: checkNumber(`${name}.evidence.minLatencyDifferenceMs`, e.minLatencyDifferenceMs ?? 1, { min: 0 }),
  };
}

/**
 * Checks Argo's limits every analysis counts against (`failureLimit`, `inconclusiveLimit`,
 * `consecutiveSuccessLimit`, `consecutiveErrorLimit`), naming the bad one, with the defaults of
 * `DEFAULT_ANALYSIS_LIMITS` for those not given.
 * @internal
 */
export function resolveLimits(name: string, options: AnalysisLimits): Required<AnalysisLimits> {
  const limit = (key: keyof AnalysisLimits, min: number): number =>
    options[key] === undefined ? DEFAULT_ANALYSIS_LIMITS[key] : checkNumber(`${name}.${key}`, options[key], { min, integer: true });
  return {
    failureLimit: limit('failureLimit', 0),
    inconclusiveLimit: limit('inconclusiveLimit', 0),
    consecutiveSuccessLimit: limit('consecutiveSuccessLimit', 1),
    consecutiveErrorLimit: limit('consecutiveErrorLimit', 0),
  };
}

/**
 * Checks the loop settings every analysis shares (`intervalMs`, default 60 000, Flagger's; `timers`,
 * default the global ones, unref'd), naming the bad one.
 * @internal
 */
export function resolveSchedule(name: string, options: { intervalMs?: unknown; timers?: unknown }): { intervalMs: number; timers: IntervalScheduler } {
  const intervalMs = options.intervalMs === undefined ? 60_000 : checkNumber(`${name}.intervalMs`, options.intervalMs, { min: 1 });
  const timers = options.timers as Partial<IntervalScheduler> | undefined;
  if (timers === undefined) return { intervalMs, timers: globalTimers };
  if (typeof timers?.setInterval !== 'function' || typeof timers?.clearInterval !== 'function') {
    throw new ValidationError(`${name}.timers must have setInterval and clearInterval functions (e.g. a FakeClock), got ${describeValue(timers)}`);
  }
  return { intervalMs, timers: timers as IntervalScheduler };
}
