import { describe, expect, it } from 'vitest';
import { judgeAnalysis } from '../../src/analysis/judge.js';
import { countAnalysisOutcome, emptyAnalysisCounters } from '../../src/analysis/counters.js';
import { resolveAnalysisOptions } from '../../src/analysis/options.js';
import type { AnalysisCheck, AnalysisCounters, AnalysisOutcome } from '../../src/analysis/types.js';
import { ValidationError } from '../../src/errors.js';

const healthy = { totalRequests: 500, errorRate: 0.01, p99LatencyMs: 30 };

describe('judgeAnalysis', () => {
  it('is inconclusive below minRequests, never a pass', () => {
    const j = judgeAnalysis({ totalRequests: 199, errorRate: 0, p99LatencyMs: 1 }, { minRequests: 200, maxErrorRate: 0.02 });
    expect(j.outcome).toBe('inconclusive');
    expect(j.reason).toMatch(/199 candidate requests, need 200/);
  });

  it('passes when every limit holds, and shows the numbers', () => {
    const j = judgeAnalysis(healthy, { minRequests: 200, maxErrorRate: 0.02, maxP99LatencyMs: 50 });
    expect(j.outcome).toBe('successful');
    expect(j.checks).toEqual([
      { metric: 'errorRate', kind: 'absolute', value: 0.01, threshold: 0.02, passed: true },
      { metric: 'p99LatencyMs', kind: 'absolute', value: 30, threshold: 50, passed: true },
    ]);
  });

  it('fails on any breached absolute limit; the limit itself is still acceptable', () => {
    expect(judgeAnalysis({ ...healthy, errorRate: 0.021 }, { maxErrorRate: 0.02 }).outcome).toBe('failed');
    expect(judgeAnalysis({ ...healthy, p99LatencyMs: 51 }, { maxP99LatencyMs: 50 }).outcome).toBe('failed');
    expect(judgeAnalysis({ ...healthy, errorRate: 0.02 }, { maxErrorRate: 0.02 }).outcome).toBe('successful');
    expect(judgeAnalysis({ ...healthy, errorRate: 0.05 }, { maxErrorRate: 0.02 }).reason).toBe('errorRate 0.05 > 0.02');
  });

  it('folds in relative checks: a breach fails, a check without baseline data is inconclusive', () => {
    const ok: AnalysisCheck = { metric: 'p99LatencyMs', kind: 'relative', value: 22, threshold: 24, baseline: 20, passed: true };
    const breach: AnalysisCheck = { ...ok, value: 30, passed: false };
    const unknown: AnalysisCheck = { metric: 'errorRate', kind: 'relative', value: 0, threshold: 0.01, baseline: 0, passed: undefined };
    expect(judgeAnalysis(healthy, { maxErrorRate: 0.02 }, [ok]).outcome).toBe('successful');
    expect(judgeAnalysis(healthy, { maxErrorRate: 0.02 }, [breach]).outcome).toBe('failed');
    expect(judgeAnalysis(healthy, { maxErrorRate: 0.02 }, [unknown]).outcome).toBe('inconclusive');
    // A breach seen on enough candidate traffic decides even when another check lacked data.
    expect(judgeAnalysis(healthy, { maxErrorRate: 0.02 }, [unknown, breach]).outcome).toBe('failed');
    expect(judgeAnalysis(healthy, { maxErrorRate: 0.02 }, [breach]).reason).toBe('p99LatencyMs 30 > 24 (baseline 20)');
  });
});

function countAll(outcomes: AnalysisOutcome[], limits = {}) {
  let counters: AnalysisCounters = emptyAnalysisCounters();
  const verdicts: string[] = [];
  for (const outcome of outcomes) {
    const r = countAnalysisOutcome(counters, outcome, limits);
    counters = r.counters;
    verdicts.push(r.verdict);
  }
  return { counters, verdicts };
}

describe('countAnalysisOutcome (Argo limits)', () => {
  it('defaults: the first failure fails, the third inconclusive needs attention, one success passes', () => {
    expect(countAll(['failed']).verdicts).toEqual(['failed']);
    expect(countAll(['inconclusive', 'inconclusive', 'inconclusive']).verdicts).toEqual([
      'continue',
      'continue',
      'needsAttention',
    ]);
    expect(countAll(['successful']).verdicts).toEqual(['passed']);
  });

  it('failureLimit tolerates that many failures over the step, not in a row', () => {
    expect(countAll(['failed', 'successful', 'failed', 'failed'], { failureLimit: 2, consecutiveSuccessLimit: 2 }).verdicts).toEqual([
      'continue',
      'continue',
      'continue',
      'failed',
    ]);
  });

  it('consecutiveSuccessLimit needs successes in a row; failures and inconclusive runs break the streak', () => {
    const { verdicts, counters } = countAll(['successful', 'inconclusive', 'successful', 'successful', 'successful'], {
      consecutiveSuccessLimit: 3,
    });
    expect(verdicts).toEqual(['continue', 'continue', 'continue', 'continue', 'passed']);
    expect(counters).toEqual({
      runs: 5,
      successes: 4,
      consecutiveSuccesses: 3,
      failures: 0,
      inconclusives: 1,
      errors: 0,
      consecutiveErrors: 0,
    });
  });

  it('an error run breaks a success streak, as Argo Rollouts resets its consecutive-success count on an error', () => {
    // successful, error, successful with consecutiveSuccessLimit 2: the canary holds (issue 13, defect 15).
    const { verdicts, counters } = countAll(['successful', 'error', 'successful'], { consecutiveSuccessLimit: 2 });
    expect(verdicts).toEqual(['continue', 'continue', 'continue']);
    expect(counters.consecutiveSuccesses).toBe(1);
    expect(countAll(['successful', 'error', 'successful', 'successful'], { consecutiveSuccessLimit: 2 }).verdicts.at(-1)).toBe('passed');
  });

  it('errors count in a row and past consecutiveErrorLimit count as a failure; a measured run resets them', () => {
    expect(countAll(['error', 'error', 'error', 'error', 'error']).verdicts.at(-1)).toBe('failed');
    expect(countAll(['error', 'error', 'error', 'error']).verdicts.at(-1)).toBe('continue');
    expect(countAll(['error', 'error', 'inconclusive', 'error', 'error'], { consecutiveErrorLimit: 2 }).verdicts).toEqual([
      'continue',
      'continue',
      'continue',
      'continue',
      'continue',
    ]);
  });

  it('is pure: the counters passed in are not changed', () => {
    const before = emptyAnalysisCounters();
    countAnalysisOutcome(before, 'failed');
    expect(before).toEqual(emptyAnalysisCounters());
  });
});

describe('resolveAnalysisOptions', () => {
  it('applies the documented defaults', () => {
    const r = resolveAnalysisOptions('analysis', { maxErrorRate: 0.02 });
    expect(r.intervalMs).toBe(60_000);
    expect(r.criteria).toEqual({ minRequests: 100, maxErrorRate: 0.02 });
    expect(r.limits).toEqual({ failureLimit: 0, inconclusiveLimit: 2, consecutiveSuccessLimit: 1, consecutiveErrorLimit: 4 });
  });

  it.each([
    [{ maxErrorRate: 1.5 }, /analysis\.maxErrorRate must be a finite number >= 0 <= 1, got number 1.5/],
    [{ maxErrorRate: 0.1, minRequests: 0 }, /analysis\.minRequests must be an integer >= 1, got number 0/],
    [{ maxErrorRate: 0.1, failureLimit: -1 }, /analysis\.failureLimit/],
    [{ maxErrorRate: 0.1, consecutiveSuccessLimit: 0 }, /analysis\.consecutiveSuccessLimit/],
    [{ maxErrorRate: 0.1, intervalMs: Number.NaN }, /analysis\.intervalMs/],
    [{ minRequests: 10 }, /at least one of maxErrorRate, maxP99LatencyMs or relative/],
    [{ relative: {} }, /analysis\.relative must set maxErrorRateIncrease or maxLatencyRatio/],
    [{ maxErrorRate: 0.1, gates: { beforeStep: 'yes' } }, /analysis\.gates\.beforeStep must be a function, got string "yes"/],
    [{ maxErrorRate: 0.1, timers: {} }, /analysis\.timers must have setInterval and clearInterval/],
    [null, /analysis must be an object, got null/],
  ])('rejects %j with a ValidationError naming the option', (options, message) => {
    expect(() => resolveAnalysisOptions('analysis', options)).toThrow(ValidationError);
    expect(() => resolveAnalysisOptions('analysis', options)).toThrow(message);
  });
});
