import { describe, expect, it } from 'vitest';
import { CapacityError, DeploymentMonitor, type MonitorSnapshot, ValidationError } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function monitorWith(versions: number, options: { maxVersions?: number } = {}) {
  const clock = new FakeClock(1_700_000_000_000);
  const monitor = new DeploymentMonitor({ windowMs: 10_000, buckets: 5, clock: clock.now, ...options });
  for (let v = 1; v <= versions; v++) monitor.record(v, 10);
  return { clock, monitor };
}

describe('DeploymentMonitor bounds on distinct versions', () => {
  it('keeps at most maxVersions (default 1000); one more is a CapacityError that records nothing', () => {
    const { monitor } = monitorWith(1000);
    expect(monitor.maxVersions).toBe(1000);
    expect(() => monitor.record(1001, 10)).toThrow(CapacityError);
    expect(() => monitor.record('label-of-the-day', { latencyMs: 1, output: 3 })).toThrow(/maxVersions = 1000/);
    expect(() => monitor.recordOutput(1002, 0.5)).toThrow(CapacityError);
    expect(monitor.versionsSeen).toHaveLength(1000);
    expect(monitor.stats(1001, { window: 'lifetime' }).totalRequests).toBe(0);
    // Versions already kept go on recording.
    monitor.record(1000, 20);
    expect(monitor.stats(1000, { window: 'lifetime' }).totalRequests).toBe(2);
  });

  it('validates maxVersions', () => {
    expect(() => new DeploymentMonitor({ maxVersions: 0 })).toThrow(/maxVersions/);
    expect(() => new DeploymentMonitor({ maxVersions: 1.5 })).toThrow(ValidationError);
  });

  it('refuses a snapshot with more versions than maxVersions before parsing any of it', () => {
    const { monitor } = monitorWith(1);
    const before = monitor.snapshot();
    const entry = before.versions[0]!;
    const huge: MonitorSnapshot = { ...before, versions: Array.from({ length: 200_000 }, (_, i) => ({ ...entry, version: i + 2 })) };
    expect(() => monitor.merge(huge)).toThrow(CapacityError);
    expect(monitor.snapshot()).toEqual(before);
  });

  it('refuses a merge that would take it past maxVersions, changing nothing', () => {
    const a = monitorWith(3, { maxVersions: 4 }).monitor;
    const b = monitorWith(0, { maxVersions: 4 });
    for (const v of [3, 4, 5]) b.monitor.record(v, 10);
    const before = a.snapshot();
    expect(() => a.merge(b.monitor.snapshot())).toThrow(/2 new version\(s\) was refused/);
    expect(a.snapshot()).toEqual(before);
  });
});

describe('DeploymentMonitor.merge refuses values that would make its state unsafe', () => {
  function tamper(change: (s: MonitorSnapshot) => void) {
    const { monitor } = monitorWith(2);
    const before = monitor.snapshot();
    const snapshot = clone(before);
    change(snapshot);
    return { monitor, before, snapshot };
  }

  it('negative latencies', () => {
    const { monitor, before, snapshot } = tamper((s) => {
      const cell = s.versions[0]!.latency.live[0]!;
      cell.sketch.negative = { offset: cell.sketch.positive.offset, counts: [5] };
      cell.sketch.count += 5;
      cell.sketch.min = -21_813;
      cell.sketch.sum -= 5 * 21_813;
    });
    expect(() => monitor.merge(snapshot)).toThrow(/negative values/);
    expect(monitor.snapshot()).toEqual(before);
  });

  it('a minimum below zero alone', () => {
    const { monitor, before, snapshot } = tamper((s) => {
      s.versions[0]!.latency.live[0]!.sketch.min = -1;
    });
    expect(() => monitor.merge(snapshot)).toThrow(ValidationError);
    expect(monitor.snapshot()).toEqual(before);
  });

  it('counts beyond 2^53 in one snapshot, and counts that pass 2^53 only once added to ours', () => {
    const big = Number.MAX_SAFE_INTEGER - 1;
    const setCount = (s: MonitorSnapshot, cell: MonitorSnapshot['versions'][number]['latency']['retired'], count: number) => {
      cell.sketch.count = count;
      cell.sketch.positive = { offset: s.versions[0]!.latency.live[0]!.sketch.positive.offset, counts: [count] };
      cell.sketch.min = 10;
      cell.sketch.max = 10;
      cell.sketch.sum = 10;
    };
    const inOne = tamper((s) => {
      setCount(s, s.versions[0]!.latency.retired, big);
      setCount(s, s.versions[0]!.latency.live[0]!, big);
    });
    expect(() => inOne.monitor.merge(inOne.snapshot)).toThrow(/past 2\^53/);
    expect(inOne.monitor.snapshot()).toEqual(inOne.before);

    const withOurs = tamper((s) => {
      setCount(s, s.versions[0]!.latency.retired, Number.MAX_SAFE_INTEGER);
      s.versions[0]!.latency.live = [];
    });
    expect(() => withOurs.monitor.merge(withOurs.snapshot)).toThrow(/would overflow/);
    expect(withOurs.monitor.snapshot()).toEqual(withOurs.before);
  });

  it('sums that overflow to Infinity', () => {
    const { monitor, before, snapshot } = tamper((s) => {
      s.versions[0]!.latency.live[0]!.sketch.sum = 1.7e308;
      s.versions[0]!.latency.retired = clone(s.versions[0]!.latency.live[0]!);
      delete (s.versions[0]!.latency.retired as { index?: number }).index;
    });
    expect(() => monitor.merge(snapshot)).toThrow(/not finite/);
    expect(monitor.snapshot()).toEqual(before);
  });

  it('more live buckets than the window has, or one index twice', () => {
    const longer = tamper((s) => {
      const cell = s.versions[0]!.latency.live[0]!;
      s.versions[0]!.latency.live = Array.from({ length: 6 }, (_, i) => ({ ...clone(cell), index: cell.index - i }));
    });
    expect(() => longer.monitor.merge(longer.snapshot)).toThrow(/at most 5 buckets/);
    const twice = tamper((s) => {
      const cell = s.versions[0]!.latency.live[0]!;
      s.versions[0]!.latency.live = [cell, clone(cell)];
    });
    expect(() => twice.monitor.merge(twice.snapshot)).toThrow(/appears twice/);
    expect(twice.monitor.snapshot()).toEqual(twice.before);
  });
});
