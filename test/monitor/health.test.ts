import { describe, expect, it } from 'vitest';
import { DeploymentMonitor, type HealthEvent, compareStats, judgeHealth } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

function setup() {
  const clock = new FakeClock(0);
  const monitor = new DeploymentMonitor({ windowMs: 60_000, buckets: 12, clock: clock.now });
  const events: Array<[string, HealthEvent]> = [];
  monitor.on('unhealthy', (e) => events.push(['unhealthy', e]));
  monitor.on('recovered', (e) => events.push(['recovered', e]));
  return { clock, monitor, events };
}

const RULES = { maxP99LatencyMs: 100, minSuccessRate: 0.95, minRequests: 20 };

describe('checkHealth', () => {
  it('judges the rolling window and emits exactly one event per transition', () => {
    const { clock, monitor, events } = setup();
    for (let i = 0; i < 50; i++) monitor.record(1, 20);
    expect(monitor.checkHealth(1, RULES).status).toBe('healthy');
    expect(events).toEqual([]); // healthy from the start is not a recovery

    for (let i = 0; i < 50; i++) monitor.record(1, 500, false);
    for (let check = 0; check < 3; check++) {
      const report = monitor.checkHealth(1, RULES);
      expect(report.status).toBe('unhealthy');
      expect(report.violations).toEqual([
        { metric: 'p99LatencyMs', value: report.stats.p99LatencyMs, threshold: 100 },
        { metric: 'successRate', value: 0.5, threshold: 0.95 },
      ]);
    }
    expect(events.map(([name]) => name)).toEqual(['unhealthy']);
    expect(events[0]?.[1]).toMatchObject({ version: 1, status: 'unhealthy' });

    clock.advance(60_000); // the bad requests age out of the window
    for (let i = 0; i < 30; i++) monitor.record(1, 20);
    for (let check = 0; check < 3; check++) expect(monitor.checkHealth(1, RULES).status).toBe('healthy');
    expect(events.map(([name]) => name)).toEqual(['unhealthy', 'recovered']);
    expect(events[1]?.[1]).toMatchObject({ version: 1, status: 'healthy', violations: [] });
  });

  it('is insufficient-data below minRequests, which is neither healthy nor a recovery', () => {
    const { clock, monitor, events } = setup();
    expect(monitor.checkHealth(1, RULES)).toMatchObject({ status: 'insufficient-data', violations: [] });
    for (let i = 0; i < 19; i++) monitor.record(1, 20);
    expect(monitor.checkHealth(1, RULES).status).toBe('insufficient-data');
    monitor.record(1, 20);
    expect(monitor.checkHealth(1, RULES).status).toBe('healthy');
    expect(monitor.checkHealth(1, {}).status).toBe('healthy'); // default minRequests is 1

    for (let i = 0; i < 20; i++) monitor.record(1, 20, false);
    expect(monitor.checkHealth(1, RULES).status).toBe('unhealthy');
    clock.advance(60_000);
    expect(monitor.checkHealth(1, RULES).status).toBe('insufficient-data');
    expect(monitor.checkHealth(1, {}).status).toBe('insufficient-data'); // an empty window is never healthy
    for (let i = 0; i < 20; i++) monitor.record(1, 20);
    expect(monitor.checkHealth(1, RULES).status).toBe('healthy');
    expect(events.map(([name]) => name)).toEqual(['unhealthy', 'recovered']);
  });

  it('tracks transitions per version', () => {
    const { monitor, events } = setup();
    for (let i = 0; i < 5; i++) {
      monitor.record(1, 20);
      monitor.record(2, 20, false);
    }
    monitor.checkHealth(1, { minSuccessRate: 0.9 });
    monitor.checkHealth(2, { minSuccessRate: 0.9 });
    monitor.checkHealth(2, { minSuccessRate: 0.9 });
    expect(events.map(([name, e]) => [name, e.version])).toEqual([['unhealthy', 2]]);
  });

  it('checks the average latency rule and its options', () => {
    const { monitor } = setup();
    monitor.record(1, 30);
    monitor.record(1, 50);
    expect(monitor.checkHealth(1, { maxAvgLatencyMs: 40 }).violations).toEqual([]); // at the limit is within it
    expect(monitor.checkHealth(1, { maxAvgLatencyMs: 39.9 }).violations).toEqual([{ metric: 'avgLatencyMs', value: 40, threshold: 39.9 }]);
    expect(() => monitor.checkHealth(1, { minSuccessRate: 1.5 })).toThrow(/minSuccessRate must be a finite number >= 0 <= 1, got number 1.5/);
    expect(() => monitor.checkHealth(1, { minRequests: 0 })).toThrow(/minRequests must be an integer >= 1/);
    expect(() => monitor.checkHealth(1, { maxP99LatencyMs: -1 })).toThrow(/maxP99LatencyMs/);
  });

  it('judgeHealth is a pure function of the stats', () => {
    const { monitor } = setup();
    for (let i = 0; i < 10; i++) monitor.record(1, 10, i !== 0);
    const stats = monitor.stats(1);
    expect(judgeHealth(stats, { minSuccessRate: 0.95 })).toEqual({
      status: 'unhealthy',
      violations: [{ metric: 'successRate', value: 0.9, threshold: 0.95 }],
      stats,
    });
  });
});

describe('compare', () => {
  it('passes and fails relative rules, carrying both numbers, the limit and a verdict per rule', () => {
    const { monitor } = setup();
    for (let i = 0; i < 1000; i++) {
      monitor.record('stable', 10 + (i % 100) / 10, i % 100 !== 0); // 1 % errors, p99 ≈ 19.9 ms
      monitor.record('canary', 10 + (i % 100) / 5, i % 50 !== 0); // 2 % errors, p99 ≈ 29.8 ms
    }
    const report = monitor.compare('stable', 'canary', { maxP99LatencyRatio: 1.2, maxErrorRateIncrease: 0.015, minRequests: 100 });
    const stable = monitor.stats('stable');
    const canary = monitor.stats('canary');
    expect(report.baseline).toEqual(stable);
    expect(report.candidate).toEqual(canary);
    expect(report.judgments).toEqual([
      {
        rule: 'maxP99LatencyRatio',
        metric: 'p99LatencyMs',
        setting: 1.2,
        baseline: stable.p99LatencyMs,
        candidate: canary.p99LatencyMs,
        limit: stable.p99LatencyMs * 1.2,
        verdict: 'fail',
      },
      { rule: 'maxErrorRateIncrease', metric: 'errorRate', setting: 0.015, baseline: 0.01, candidate: 0.02, limit: 0.025, verdict: 'pass' },
    ]);
    expect(report.verdict).toBe('fail');
    expect(monitor.compare('stable', 'canary', { maxP99LatencyRatio: 1.6, maxErrorRateIncrease: 0.015 }).verdict).toBe('pass');
    expect(monitor.compare('stable', 'canary', { maxErrorRateIncrease: 0.005 }).verdict).toBe('fail');
    expect(monitor.compare('canary', 'stable', { maxAvgLatencyRatio: 1, maxP95LatencyRatio: 1 }).verdict).toBe('pass');
  });

  it('is insufficient-data when either side has too few requests, still carrying the numbers', () => {
    const { monitor } = setup();
    for (let i = 0; i < 200; i++) monitor.record(1, 10);
    for (let i = 0; i < 10; i++) monitor.record(2, 1_000, false);
    const report = monitor.compare(1, 2, { maxP99LatencyRatio: 1.2, minRequests: 50 });
    expect(report.verdict).toBe('insufficient-data');
    expect(report.judgments).toEqual([
      expect.objectContaining({ rule: 'maxP99LatencyRatio', baseline: 10, candidate: 1_000, verdict: 'insufficient-data' }),
    ]);
    expect(monitor.compare(1, 99, { maxErrorRateIncrease: 0.01 }).verdict).toBe('insufficient-data');
  });

  it('reads the window asked for', () => {
    const { clock, monitor } = setup();
    for (let i = 0; i < 100; i++) monitor.record(2, 10, false);
    clock.advance(60_000);
    for (let i = 0; i < 100; i++) {
      monitor.record(1, 10);
      monitor.record(2, 10);
    }
    const rules = { maxErrorRateIncrease: 0.01, minRequests: 50 };
    expect(monitor.compare(1, 2, rules).verdict).toBe('pass');
    expect(monitor.compare(1, 2, { ...rules, window: 'lifetime' }).verdict).toBe('fail');
  });

  it('rejects rules that judge nothing or are malformed', () => {
    const { monitor } = setup();
    expect(() => monitor.compare(1, 2, {})).toThrow(/must set at least one of maxAvgLatencyRatio/);
    expect(() => monitor.compare(1, 2, { maxP99LatencyRatio: Number.NaN })).toThrow(/maxP99LatencyRatio must be a finite number >= 0, got number NaN/);
    expect(() => compareStats(monitor.stats(1), monitor.stats(2), { maxErrorRateIncrease: 0.01, window: 'day' as 'rolling' })).toThrow(/window/);
  });
});
