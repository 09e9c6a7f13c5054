import { describe, expect, it } from 'vitest';
import { DeploymentMonitor, ValidationError } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

/** `record(…, { at })` is the router's shortcut: it passes the time it has just read, so the monitor need not read its clock. */
describe('DeploymentMonitor.record with { at }', () => {
  it('counts exactly like record with the default clock, failures included', () => {
    const viaRecord = new DeploymentMonitor();
    const viaAt = new DeploymentMonitor();
    for (let i = 0; i < 5_000; i++) {
      const latency = 1 + (i % 97);
      const ok = i % 10 !== 0;
      viaRecord.record(3, latency, ok);
      viaAt.record(3, latency, ok, { at: performance.timeOrigin + performance.now() });
    }
    const a = viaRecord.stats(3);
    const b = viaAt.stats(3);
    expect(b.totalRequests).toBe(5_000);
    expect(b.failures).toBe(500);
    expect({ ...b, requestsPerSecond: 0, since: 0 }).toEqual({ ...a, requestsPerSecond: 0, since: 0 });
  });

  it('never files a record in the wrong bucket when the given time is off: it reads its own clock instead', () => {
    const monitor = new DeploymentMonitor({ windowMs: 60_000, buckets: 12 });
    monitor.record('v', 10);
    // A reading an hour behind and one an hour ahead of the wall clock (a faked or skewed performance clock).
    monitor.record('v', 20, true, { at: performance.timeOrigin + performance.now() - 3_600_000 });
    monitor.record('v', 30, false, { at: performance.timeOrigin + performance.now() + 3_600_000 });
    const rolling = monitor.stats('v');
    expect(rolling.totalRequests).toBe(3);
    expect(rolling.failures).toBe(1);
    expect(monitor.stats('v', { window: 'lifetime' }).totalRequests).toBe(3);
  });

  it('rotates on its own clock when the given time lags behind a bucket boundary that really passed', async () => {
    const monitor = new DeploymentMonitor({ windowMs: 200, buckets: 20 }); // 10 ms buckets, real time
    monitor.record('v', 10);
    await new Promise((resolve) => setTimeout(resolve, 250)); // the first record has left the window
    // Trusting this lagging reading would file the record in the stale bucket, which then ages out with the old one.
    monitor.record('v', 20, true, { at: performance.timeOrigin + performance.now() - 3_600_000 });
    const rolling = monitor.stats('v');
    expect(rolling.totalRequests).toBe(1);
    expect(monitor.stats('v', { window: 'lifetime' }).totalRequests).toBe(2);
  });

  it('is plain record when the given time is not on the monitor’s clock: a fake clock still ages data out', () => {
    const clock = new FakeClock(1_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
    monitor.record(1, 5);
    monitor.record(1, 5, true, { at: performance.timeOrigin + performance.now() });
    expect(monitor.stats(1).totalRequests).toBe(2);
    clock.advance(11_000);
    expect(monitor.stats(1).totalRequests).toBe(0);
    expect(monitor.stats(1, { window: 'lifetime' }).totalRequests).toBe(2);
  });

  it('validates like record: a bad latency records nothing', () => {
    const monitor = new DeploymentMonitor();
    monitor.record(1, 5);
    expect(() => monitor.record(1, -1, true, { at: performance.timeOrigin + performance.now() })).toThrow(ValidationError);
    expect(() => monitor.record(1, Number.NaN, true, { at: performance.timeOrigin + performance.now() })).toThrow(ValidationError);
    expect(() => monitor.record(1, 5, true, { at: Number.NaN })).toThrow('at must be a finite number of ms, got number NaN');
    expect(monitor.stats(1).totalRequests).toBe(1);
  });
});
