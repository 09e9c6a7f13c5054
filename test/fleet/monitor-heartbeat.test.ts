import { describe, expect, it } from 'vitest';
import {
  CapacityError,
  DeploymentMonitor,
  IntegrityError,
  MemoryStorage,
  MonitorHeartbeat,
  ValidationError,
  readFleetMonitors,
  type HeartbeatRecord,
  StorageError,
} from '../../src/index.js';
import { FakeClock, FaultyStorage } from '../../src/testing/index.js';
import { useFleetStores } from './fleet-stores.js';

const { stores } = useFleetStores('monitor-heartbeat.test.ts');
const T0 = Date.parse('2026-12-01T14:00:00.000Z');
const encoder = new TextEncoder();

/** A replica's monitor with `ok` successes and `bad` failures of version `version`, on `clock`. */
function monitorWith(clock: FakeClock, version: number, ok: number, bad: number, latencyMs = 10): DeploymentMonitor {
  const monitor = new DeploymentMonitor({ clock: clock.now });
  for (let i = 0; i < ok; i++) monitor.record(version, latencyMs + (i % 7));
  for (let i = 0; i < bad; i++) monitor.record(version, latencyMs, false);
  return monitor;
}

describe.each(stores)('monitor heartbeats on $kind', ({ skip, make }) => {
  it.skipIf(skip)('readFleetMonitors merges the latest fresh snapshot of each replica once, and leaves stale ones out', async () => {
    const storage = await make();
    const clock = new FakeClock(T0);
    const monitors = { r1: monitorWith(clock, 2, 300, 0), r2: monitorWith(clock, 2, 300, 0), r3: monitorWith(clock, 2, 270, 30) };
    const beats = Object.entries(monitors).map(
      ([replicaId, monitor]) => new MonitorHeartbeat({ storage, deployment: 'iris', replicaId, monitor, intervalMs: 1_000, clock: clock.now }),
    );
    for (const b of beats) await b.publish();
    // A second publish of the same replica replaces its heartbeat: nothing is counted twice.
    monitors.r1.record(2, 12);
    await beats[0]!.publish();

    const { merged, replicas } = await readFleetMonitors(storage, 'iris', { clock: clock.now });
    expect(replicas).toEqual([
      { replicaId: 'r1', at: new Date(T0).toISOString(), ageMs: 0, fresh: true, requests: 301 },
      { replicaId: 'r2', at: new Date(T0).toISOString(), ageMs: 0, fresh: true, requests: 300 },
      { replicaId: 'r3', at: new Date(T0).toISOString(), ageMs: 0, fresh: true, requests: 300 },
    ]);
    const stats = merged.stats(2);
    expect(stats.totalRequests).toBe(901);
    expect(stats.errorRate).toBeCloseTo(30 / 901, 12);

    // r2 and r3 go quiet; r1 keeps publishing. Past 3 × 1 000 ms the quiet ones are stale.
    clock.advance(3_001);
    await beats[0]!.publish();
    const later = await readFleetMonitors(storage, 'iris', { clock: clock.now });
    expect(later.replicas.map((r) => [r.replicaId, r.fresh, r.ageMs])).toEqual([
      ['r1', true, 0],
      ['r2', false, 3_001],
      ['r3', false, 3_001],
    ]);
    expect(later.merged.stats(2, { window: 'lifetime' }).totalRequests).toBe(301);
    // maxAgeMs overrides the 3 × interval default.
    const lenient = await readFleetMonitors(storage, 'iris', { clock: clock.now, maxAgeMs: 10_000 });
    expect(lenient.merged.stats(2, { window: 'lifetime' }).totalRequests).toBe(901);
  });

  it.skipIf(skip)('a record that is not a heartbeat of this deployment is an IntegrityError naming its key', async () => {
    const storage = await make();
    const clock = new FakeClock(T0);
    const good = new MonitorHeartbeat({ storage, deployment: 'iris', replicaId: 'r1', monitor: monitorWith(clock, 1, 5, 0), clock: clock.now });
    await good.publish();
    const valid = good.record();
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['not json', encoder.encode('{"specVersion":1,'), /heartbeat 'monitors\/iris\/r2.json' is not JSON/],
      ['other replica', json({ ...valid, replicaId: 'r1' }), /monitors\/iris\/r2.json.*expected replicaId 'r2'.*got string "r1"/],
      ['other deployment', json({ ...valid, replicaId: 'r2', deployment: 'wine' }), /expected deployment 'iris', got string "wine"/],
      ['bad time', json({ ...valid, replicaId: 'r2', at: 'yesterday' }), /expected at to be an ISO time, got string "yesterday"/],
      ['bad interval', json({ ...valid, replicaId: 'r2', intervalMs: -1 }), /expected intervalMs to be a positive number, got number -1/],
      ['no monitor', json({ ...valid, replicaId: 'r2', monitor: null }), /expected monitor to be a DeploymentMonitor snapshot, got null/],
      ['other window', json({ ...valid, replicaId: 'r2', monitor: { ...valid.monitor, windowMs: 30_000 } }), /monitors\/iris\/r2.json' holds a monitor snapshot that does not merge: snapshot.windowMs must equal/],
      ['broken sketch', json({ ...valid, replicaId: 'r2', monitor: { ...valid.monitor, versions: [{ version: 1, firstRecordAt: T0, latency: { retired: 7 } }] } }), /monitors\/iris\/r2.json' holds a monitor snapshot that does not merge/],
    ];
    for (const [what, data, message] of cases) {
      await storage.put('monitors/iris/r2.json', data);
      const read = readFleetMonitors(storage, 'iris', { clock: clock.now });
      await expect(read, what).rejects.toBeInstanceOf(IntegrityError);
      await expect(read, what).rejects.toThrow(message);
    }
  });
});

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

describe('MonitorHeartbeat and readFleetMonitors', () => {
  it('start() publishes at once and then on its interval until stop()', async () => {
    const storage = new MemoryStorage();
    const monitor = new DeploymentMonitor();
    monitor.record(1, 5);
    const heartbeat = new MonitorHeartbeat({ storage, deployment: 'iris', replicaId: 'pod-a', monitor, intervalMs: 20 });
    const published: string[] = [];
    heartbeat.on('published', (e) => published.push(e.key));
    await heartbeat.start();
    expect(heartbeat.running).toBe(true);
    expect(published).toEqual(['monitors/iris/pod-a.json']);
    const deadline = Date.now() + 2_000;
    while (published.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    heartbeat.stop();
    expect(heartbeat.running).toBe(false);
    expect(published.length).toBeGreaterThanOrEqual(3);
    const count = published.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(published.length).toBeLessThanOrEqual(count + 1); // at most the write already in flight
    const record = JSON.parse(new TextDecoder().decode((await storage.get(heartbeat.key))!.data)) as HeartbeatRecord;
    expect(record).toMatchObject({ specVersion: 1, deployment: 'iris', replicaId: 'pod-a', intervalMs: 20 });
    expect(record.monitor.versions.map((v) => v.version)).toEqual([1]);
  });

  it('carries observations and reports a failed write as an error event, trying again next interval', async () => {
    const inner = new MemoryStorage();
    let fail = true;
    const flaky = new FaultyStorage(inner, { decide: () => (fail ? 'fail' : 'pass') });
    const heartbeat = new MonitorHeartbeat({ storage: flaky, deployment: 'iris', replicaId: 'r1', monitor: new DeploymentMonitor(), intervalMs: 10, observations: () => ({ abTest: { exp: { n: 1 } } }) });
    await expect(heartbeat.start()).rejects.toThrow(StorageError);
    const errors: unknown[] = [];
    heartbeat.on('error', (e) => errors.push(e.error));
    const deadline = Date.now() + 2_000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(errors.length).toBeGreaterThan(0);
    fail = false;
    const published = new Promise((resolve) => heartbeat.once('published', resolve));
    await published;
    heartbeat.stop();
    const record = JSON.parse(new TextDecoder().decode((await inner.get('monitors/iris/r1.json'))!.data)) as HeartbeatRecord;
    expect(record.observations).toEqual({ abTest: { exp: { n: 1 } } });
  });

  it('merges into a given monitor (cleared first), and bounds what it reads', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock(T0);
    for (const id of ['a', 'b']) await new MonitorHeartbeat({ storage, deployment: 'iris', replicaId: id, monitor: monitorWith(clock, 3, 10, 0), clock: clock.now }).publish();
    const into = new DeploymentMonitor({ clock: clock.now });
    into.record(99, 1);
    const { merged } = await readFleetMonitors(storage, 'iris', { clock: clock.now, into });
    expect(merged).toBe(into);
    expect(into.versionsSeen).toEqual([3]);
    expect(into.stats(3).totalRequests).toBe(20);
    // Read twice: the same numbers, not twice the numbers.
    await readFleetMonitors(storage, 'iris', { clock: clock.now, into });
    expect(into.stats(3).totalRequests).toBe(20);

    await expect(readFleetMonitors(storage, 'iris', { maxReplicas: 1 })).rejects.toThrow(CapacityError);
    await expect(readFleetMonitors(storage, 'iris', { maxReplicas: 1 })).rejects.toThrow(/has 2 heartbeats under 'monitors\/iris\/'; at most maxReplicas = 1/);
    await expect(readFleetMonitors(storage, 'iris', { maxRecordBytes: 100 })).rejects.toThrow(/heartbeat 'monitors\/iris\/a.json' is \d+ bytes; at most maxRecordBytes = 100/);
    const { merged: none, replicas } = await readFleetMonitors(storage, 'wine');
    expect([none.versionsSeen, replicas]).toEqual([[], []]);
  });

  it('checks its options, naming the bad one', async () => {
    const storage = new MemoryStorage();
    const monitor = new DeploymentMonitor();
    expect(() => new MonitorHeartbeat({ storage, deployment: 'iris', replicaId: 'a/b', monitor })).toThrow(/replicaId must be one storage key segment/);
    expect(() => new MonitorHeartbeat({ storage, deployment: '../x', replicaId: 'r', monitor })).toThrow(/deployment name must be one storage key segment/);
    expect(() => new MonitorHeartbeat({ storage, deployment: 'iris', replicaId: 'r', monitor: {} as never })).toThrow(/monitor must have snapshot\(\)/);
    expect(() => new MonitorHeartbeat({ storage, deployment: 'iris', replicaId: 'r', monitor, intervalMs: 0 })).toThrow(/intervalMs must be a finite number >= 1, got number 0/);
    expect(() => new MonitorHeartbeat({ storage: {} as never, deployment: 'iris', replicaId: 'r', monitor })).toThrow(ValidationError);
    await expect(readFleetMonitors(storage, 'iris', { maxAgeMs: -1 })).rejects.toThrow(/maxAgeMs must be a finite number >= 0, got number -1/);
  });
});
