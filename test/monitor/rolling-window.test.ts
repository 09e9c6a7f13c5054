import { describe, expect, it } from 'vitest';
import { DeploymentMonitor, ValidationError } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

function setup(options: { windowMs?: number; buckets?: number } = {}) {
  const clock = new FakeClock(1_000_000);
  const monitor = new DeploymentMonitor({ ...options, clock: clock.now });
  return { clock, monitor };
}

describe('rolling window and lifetime', () => {
  it('data older than the window no longer counts in the rolling window; the lifetime keeps it', () => {
    const { clock, monitor } = setup({ windowMs: 60_000, buckets: 12 });
    for (let i = 0; i < 100; i++) monitor.record(1, 200, i >= 50);
    clock.advance(30_000);
    for (let i = 0; i < 10; i++) monitor.record(1, 10);

    expect(monitor.stats(1).totalRequests).toBe(110);
    clock.advance(30_000); // the first 100 are exactly windowMs old now
    const rolling = monitor.stats(1);
    expect(rolling).toMatchObject({ totalRequests: 10, failures: 0, successRate: 1, avgLatencyMs: 10 });
    expect(rolling.p99LatencyMs).toBeCloseTo(10, 0);

    const lifetime = monitor.stats(1, { window: 'lifetime' });
    expect(lifetime).toMatchObject({ totalRequests: 110, successes: 60, failures: 50, errorRate: 50 / 110 });
    expect(lifetime.avgLatencyMs).toBeCloseTo((100 * 200 + 10 * 10) / 110, 9);
    expect(lifetime.p99LatencyMs).toBeGreaterThan(190);

    clock.advance(60_000);
    expect(monitor.stats(1)).toMatchObject({ totalRequests: 0, p99LatencyMs: 0, successRate: 0 });
    expect(monitor.stats(1, { window: 'lifetime' }).totalRequests).toBe(110);
  });

  it('a record stays in the window for at least windowMs − windowMs/buckets and at most windowMs', () => {
    const { clock, monitor } = setup({ windowMs: 10_000, buckets: 10 });
    clock.set(0);
    monitor.record('a', 1); // at the very start of a bucket
    clock.set(9_999);
    expect(monitor.stats('a').totalRequests).toBe(1);
    clock.set(10_000);
    expect(monitor.stats('a').totalRequests).toBe(0);

    clock.set(20_999);
    monitor.record('a', 1); // at the very end of a bucket
    clock.set(29_999);
    expect(monitor.stats('a').totalRequests).toBe(1);
    clock.set(30_000); // 9 001 ms later: gone, one bucket early
    expect(monitor.stats('a').totalRequests).toBe(0);
  });

  it('ages out by recording alone, with no reads in between', () => {
    const { clock, monitor } = setup({ windowMs: 1_000, buckets: 4 });
    for (let second = 0; second < 100; second++) {
      for (let i = 0; i < 7; i++) monitor.record(1, 5);
      clock.advance(1_000);
    }
    monitor.record(1, 5);
    expect(monitor.stats(1).totalRequests).toBe(1);
    expect(monitor.stats(1, { window: 'lifetime' }).totalRequests).toBe(701);
  });

  it('reports requestsPerSecond and since for both windows', () => {
    const { clock, monitor } = setup({ windowMs: 60_000, buckets: 12 });
    clock.set(120_000);
    monitor.record(1, 1);
    clock.set(130_000);
    for (let i = 0; i < 99; i++) monitor.record(1, 1);
    // First record at 120 000, still inside the window: both windows start there.
    expect(monitor.stats(1)).toMatchObject({ since: 120_000, requestsPerSecond: 10 });
    clock.set(185_000);
    monitor.record(1, 1);
    clock.set(190_000);
    // The ring now holds buckets [135 000, 140 000) … [190 000, 195 000): the first 100 aged out.
    expect(monitor.stats(1)).toMatchObject({ totalRequests: 1, since: 135_000, requestsPerSecond: 1 / 55 });
    expect(monitor.stats(1, { window: 'lifetime' })).toMatchObject({ since: 120_000, requestsPerSecond: 101 / 70 });
    clock.set(260_000);
    expect(monitor.stats(1)).toMatchObject({ totalRequests: 0, since: 0, requestsPerSecond: 0 });
  });

  it('a clock that goes backwards keeps recording into the current bucket', () => {
    const { clock, monitor } = setup({ windowMs: 10_000, buckets: 10 });
    monitor.record(1, 3);
    clock.set(clock.now() - 50_000);
    monitor.record(1, 3);
    expect(monitor.stats(1).totalRequests).toBe(2);
    expect(monitor.stats(1, { window: 'lifetime' }).totalRequests).toBe(2);
  });
});

describe('record', () => {
  it('takes (version, latencyMs, success) and (version, { latencyMs, success, output })', () => {
    const { monitor } = setup();
    monitor.record(1, 10);
    monitor.record(1, 20, false);
    monitor.record(1, { latencyMs: 30 });
    monitor.record(1, { latencyMs: 40, success: false, output: 0.7 });
    expect(monitor.stats(1)).toMatchObject({ totalRequests: 4, successes: 2, failures: 2, avgLatencyMs: 25 });
    expect(monitor.drift(1, 1, { minSamples: 1 }).samples).toBe(1);
  });

  it('keys versions by number or string and keeps them apart', () => {
    const { monitor } = setup();
    monitor.record(3, 10);
    monitor.record('shadow:3', 90);
    expect(monitor.stats(3).avgLatencyMs).toBe(10);
    expect(monitor.stats('shadow:3').avgLatencyMs).toBe(90);
    expect(monitor.versionsSeen).toEqual([3, 'shadow:3']);
  });

  it('refuses the same label under two types (1 and "1" would collide in Prometheus)', () => {
    const { monitor } = setup();
    monitor.record(1, 10);
    expect(() => monitor.record('1', 10)).toThrow(/share the label "1"/);
    expect(monitor.versionsSeen).toEqual([1]);
  });

  it.each([
    ['negative latency', -1],
    ['NaN latency', Number.NaN],
    ['infinite latency', Number.POSITIVE_INFINITY],
    ['string latency', '5'],
  ])('%s is a ValidationError and records nothing', (_what, latency) => {
    const { monitor } = setup();
    monitor.record(1, 10);
    expect(() => monitor.record(1, latency as number)).toThrow(ValidationError);
    expect(() => monitor.record(1, { latencyMs: latency as number })).toThrow(/latencyMs must be a finite number from 0 to 1000000000000/);
    expect(() => monitor.record(2, latency as number)).toThrow(ValidationError);
    expect(monitor.stats(1, { window: 'lifetime' }).totalRequests).toBe(1);
    expect(monitor.versionsSeen).toEqual([1]);
  });

  it('rejects a bad success flag, output or version without recording', () => {
    const { monitor } = setup();
    expect(() => monitor.record(1, 5, 'yes' as unknown as boolean)).toThrow(/success must be a boolean, got string "yes"/);
    expect(() => monitor.record(1, { latencyMs: 5, output: Number.NaN })).toThrow(/output must be a finite number/);
    expect(() => monitor.recordOutput(1, Number.POSITIVE_INFINITY)).toThrow(/value must be a finite number/);
    expect(() => monitor.record(Number.NaN, 5)).toThrow(/version must be a finite number or a non-empty string/);
    expect(() => monitor.record('', 5)).toThrow(ValidationError);
    expect(monitor.versionsSeen).toEqual([]);
  });

  it('returns zeros, never undefined, for a version without data', () => {
    const { monitor } = setup();
    const stats = monitor.stats('never');
    expect(stats).toEqual({
      totalRequests: 0,
      successes: 0,
      failures: 0,
      successRate: 0,
      errorRate: 0,
      avgLatencyMs: 0,
      p50LatencyMs: 0,
      p95LatencyMs: 0,
      p99LatencyMs: 0,
      requestsPerSecond: 0,
      since: 0,
    });
    expect(monitor.versionsSeen).toEqual([]);
  });

  it('checks its options up front, naming the option', () => {
    expect(() => new DeploymentMonitor({ windowMs: 0 })).toThrow(/windowMs must be a finite number > 0, got number 0/);
    expect(() => new DeploymentMonitor({ buckets: 2.5 })).toThrow(/buckets must be an integer/);
    expect(() => new DeploymentMonitor({ relativeAccuracy: 1 })).toThrow(/relativeAccuracy must be a finite number > 0 <= 0.5/);
    expect(() => new DeploymentMonitor({ clock: 5 as unknown as () => number })).toThrow(/clock must be a function/);
    expect(() => new DeploymentMonitor().stats(1, { window: 'hour' as 'rolling' })).toThrow(/window must be one of 'rolling', 'lifetime'/);
  });
});
