import { ValidationError, describeValue } from '../errors.js';
import type { AnalysisCounters, AnalysisLimits, AnalysisOutcome, AnalysisVerdict } from './types.js';

/** Argo Rollouts' defaults, except `inconclusiveLimit` (Argo: 0), so a quiet minute does not page anyone. */
export const DEFAULT_ANALYSIS_LIMITS: Readonly<Required<AnalysisLimits>> = Object.freeze({
  failureLimit: 0,
  inconclusiveLimit: 2,
  consecutiveSuccessLimit: 1,
  consecutiveErrorLimit: 4,
});

/** Counters at the start of a step, switch or resume. */
export function emptyAnalysisCounters(): AnalysisCounters {
  return { runs: 0, successes: 0, consecutiveSuccesses: 0, failures: 0, inconclusives: 0, errors: 0, consecutiveErrors: 0 };
}

/**
 * Checks stored counters (as an analysis's `counters` gave them) before an analysis carries on
 * from them: every field a non-negative integer, else a `ValidationError` naming it. Returns a copy.
 * @internal
 */
export function checkAnalysisCounters(counters: unknown): AnalysisCounters {
  const fresh = emptyAnalysisCounters();
  for (const field of Object.keys(fresh) as Array<keyof AnalysisCounters>) {
    const value = (counters as Partial<AnalysisCounters> | null | undefined)?.[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ValidationError(`counters.${field} must be a non-negative integer, got ${describeValue(value)}`);
    }
    fresh[field] = value;
  }
  return fresh;
}

/**
 * Counts one run's outcome and says whether a limit was crossed. Pure: returns new counters.
 * Failures and inconclusive runs add up over the step (as Argo counts an analysis run's
 * measurements); successes and errors count in a row. A failure, an inconclusive run or an error
 * breaks a success streak (Argo resets its consecutive-success count on an error too); only a
 * measured run (successful, failed or inconclusive) breaks an error streak.
 *
 * @example
 * ```ts
 * countAnalysisOutcome(emptyAnalysisCounters(), 'failed', { failureLimit: 0 }).verdict; // 'failed'
 * ```
 */
export function countAnalysisOutcome(
  counters: AnalysisCounters,
  outcome: AnalysisOutcome,
  limits: AnalysisLimits = {},
): { counters: AnalysisCounters; verdict: AnalysisVerdict } {
  const { failureLimit, inconclusiveLimit, consecutiveSuccessLimit, consecutiveErrorLimit } = {
    ...DEFAULT_ANALYSIS_LIMITS,
    ...definedOnly(limits),
  };
  const next: AnalysisCounters = { ...counters, runs: counters.runs + 1 };
  switch (outcome) {
    case 'successful':
      next.successes++;
      next.consecutiveSuccesses++;
      next.consecutiveErrors = 0;
      return { counters: next, verdict: next.consecutiveSuccesses >= consecutiveSuccessLimit ? 'passed' : 'continue' };
    case 'failed':
      next.failures++;
      next.consecutiveSuccesses = 0;
      next.consecutiveErrors = 0;
      return { counters: next, verdict: next.failures > failureLimit ? 'failed' : 'continue' };
    case 'inconclusive':
      next.inconclusives++;
      next.consecutiveSuccesses = 0;
      next.consecutiveErrors = 0;
      return { counters: next, verdict: next.inconclusives > inconclusiveLimit ? 'needsAttention' : 'continue' };
    case 'error':
      next.errors++;
      next.consecutiveErrors++;
      next.consecutiveSuccesses = 0;
      return { counters: next, verdict: next.consecutiveErrors > consecutiveErrorLimit ? 'failed' : 'continue' };
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
