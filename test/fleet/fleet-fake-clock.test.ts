/**
 * FleetDeployment on a FakeClock's timers: every loop a replica runs — analysis turns, heartbeats,
 * the follower's jittered re-reads — and the lease's expiry move only with fake time, so a test
 * watches them happen in order, the same on every run.
 */
import { describe, expect, it } from 'vitest';
import {
  CanaryDeployment,
  DeploymentFollower,
  DeploymentMonitor,
  DeploymentStore,
  FleetDeployment,
  MemoryStorage,
  MonitorHeartbeat,
  type PutCondition,
  type StorageAdapter,
  type TimerScheduler,
} from '../../src/index.js';
import { FakeClock, seededRandom } from '../../src/testing/index.js';
import { canaryReplica } from './canary-replica.js';

const T0 = Date.parse('2026-12-01T18:00:00Z');

/** Every call to the storage, with the fake time it was made at. */
function recorded(inner: StorageAdapter, clock: FakeClock, log: string[]): StorageAdapter {
  const note = (what: string) => log.push(`${clock.now() - T0} ${what}`);
  return {
    get: (key) => (note(`get ${key}`), inner.get(key)),
    put: (key: string, data: Uint8Array, cond?: PutCondition) => (note(`put ${key}`), inner.put(key, data, cond)),
    delete: (key, cond) => (note(`delete ${key}`), inner.delete(key, cond)),
    list: (prefix) => (note(`list ${prefix}`), inner.list(prefix)),
  };
}

/** A replica's timers on the shared clock that can die: `kill()` drops them all, as a SIGKILL does (nothing released). */
function killable(clock: FakeClock): TimerScheduler & { kill(): void } {
  const live = new Set<unknown>();
  const track = <T>(handle: T) => (live.add(handle), handle);
  return {
    setTimeout: (callback, ms) => track(clock.setTimeout(callback, ms)),
    setInterval: (callback, ms) => track(clock.setInterval(callback, ms)),
    clearTimeout: (handle) => (live.delete(handle), clock.clearTimeout(handle as never)),
    clearInterval: (handle) => (live.delete(handle), clock.clearInterval(handle as never)),
    kill: () => {
      for (const handle of live) clock.clearTimeout(handle as never);
      live.clear();
    },
  };
}

function replica(storage: StorageAdapter, clock: FakeClock, id: string, timers: TimerScheduler, extra: { followMs?: number; seed?: number } = {}) {
  const { canary, monitor, fleet } = canaryReplica(storage, clock, id, {
    analysis: { minRequests: 100, maxErrorRate: 0.05, consecutiveSuccessLimit: 2 },
    monitor: { windowMs: 600_000 },
    fleet: { intervalMs: 10_000, leaseTtlMs: 30_000, followMs: extra.followMs ?? 60_000, random: seededRandom(extra.seed ?? 1), timers },
  });
  for (let i = 0; i < 200; i++) {
    monitor.record(1, 10);
    monitor.record(2, 10);
  }
  return { id, canary, monitor, fleet };
}

describe('FleetDeployment on a FakeClock', () => {
  it('heartbeats, re-reads and analysis turns run on fake time alone, in order; the dead leader\'s lease expires on fake time and the next holder carries its counters on', async () => {
    const clock = new FakeClock(T0);
    const log: string[] = [];
    const inner = new MemoryStorage();
    const r1Timers = killable(clock);
    const r1 = replica(recorded(inner, clock, log), clock, 'r1', r1Timers);
    const r2 = replica(inner, clock, 'r2', clock);
    const events: string[] = [];
    for (const r of [r1, r2]) {
      r.fleet.on('lease', (e) => events.push(`${clock.now() - T0} ${r.id} lease ${e.held ? 'held' : `held by ${e.holder}`}`));
      r.fleet.on('analysis', (e) => events.push(`${clock.now() - T0} ${r.id} analysis runs ${e.report.counters.runs} successes ${e.report.counters.consecutiveSuccesses} → ${e.report.decision}`));
      r.fleet.on('transitioned', (e) => events.push(`${clock.now() - T0} ${r.id} ${e.action} → ${e.to}`));
    }
    await r1.fleet.start();
    await r2.fleet.start();
    await r1.fleet.transition((canary) => canary.start());
    log.length = 0;

    await clock.tickAsync(9_999);
    expect(log).toEqual([]); // nothing happens between timers: no real time involved
    await clock.tickAsync(1);
    // r1's turn at 10 s, step by step: heartbeat (its timer and the turn's), re-read, merge, lease, analysis, lease again.
    expect(log).toEqual([
      '10000 put monitors/iris/r1.json',
      '10000 put monitors/iris/r1.json',
      '10000 get deployments/iris.json',
      '10000 list monitors/iris/',
      '10000 get monitors/iris/r1.json',
      '10000 get monitors/iris/r2.json',
      '10000 get deployments/iris/lease.json',
      '10000 put deployments/iris/lease.json',
      '10000 put deployments/iris/lease.json',
    ]);
    r1Timers.kill(); // r1 dies holding the lease (renewed at 10 s: it expires at 40 s)
    await clock.tickAsync(50_000);
    expect(events).toEqual([
      '0 r1 start → progressing 10',
      '10000 r1 lease held',
      '10000 r1 analysis runs 1 successes 1 → hold',
      '10000 r2 lease held by r1',
      '50000 r2 lease held',
      '50000 r2 analysis runs 2 successes 2 → advance',
      '50000 r2 step → progressing 50',
      '60000 r2 analysis runs 1 successes 1 → hold',
    ]);
    expect(r2.fleet.coverage).toMatchObject({ replicas: 1, replicaIds: ['r2'], stale: ['r1'] });
    expect(log.every((line) => line.startsWith('10000 '))).toBe(true); // a dead replica does nothing more
    const audit = await new DeploymentStore({ storage: inner }).audit('iris');
    expect(audit.map((a) => [a.action, a.by, Date.parse(a.at) - T0])).toEqual([['create', 'r1', 0], ['start', 'r1', 0], ['step', 'r2', 50_000]]);
    await r2.fleet.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('the follower re-reads on its jittered interval on fake time, and a transition reaches it at the first re-read after it lands', async () => {
    const clock = new FakeClock(T0);
    const log: string[] = [];
    const inner = new MemoryStorage();
    const leader = replica(inner, clock, 'leader', clock);
    await leader.fleet.start();
    const follower = replica(recorded(inner, clock, log), clock, 'follower', clock, { followMs: 1_000, seed: 42 });
    await follower.fleet.start();
    const applied: number[] = [];
    follower.fleet.on('applied', () => applied.push(clock.now() - T0));
    await clock.tickAsync(5_000);
    const ms = (t: number) => Math.round(t * 100) / 100; // fake time is epoch ms: keep what a double holds there
    // start() reads the state, then the follower's first re-read (conditional: the document is not sent again).
    const reads = log.filter((line) => line.endsWith('get deployments/iris.json')).map((line) => ms(Number(line.split(' ')[0])));
    expect(reads.slice(0, 2)).toEqual([0, 0]);
    reads.shift();
    // Then the waits the same seed draws: 1 000 ms ± 20 %.
    const random = seededRandom(42);
    const expected = [0];
    while (expected.at(-1)! + 1_200 <= 7_000) expected.push(expected.at(-1)! + 1_000 * (1 + 0.2 * (2 * random() - 1)));
    expect(reads).toEqual(expected.filter((t) => t <= 5_000).map(ms));
    const gaps = reads.slice(1).map((t, i) => t - reads[i]!);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(800);
      expect(gap).toBeLessThanOrEqual(1_200);
    }
    expect(new Set(gaps).size).toBe(gaps.length); // jittered, not in step

    await leader.fleet.transition((canary) => canary.start());
    const landed = clock.now() - T0;
    await clock.tickAsync(2_000);
    const next = ms(expected[reads.length]!);
    expect(applied.map(ms)).toEqual([next]);
    expect(next - landed).toBeLessThanOrEqual(1_200);
    expect(follower.canary.state).toMatchObject({ status: 'progressing', percentage: 10 });
    await follower.fleet.stop();
    await leader.fleet.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('the follower and the heartbeat take the same timers alone, and every timers option is checked', async () => {
    const clock = new FakeClock(T0);
    const storage = new MemoryStorage();
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const heartbeat = new MonitorHeartbeat({ storage, deployment: 'iris', replicaId: 'r1', monitor, intervalMs: 1_000, clock: clock.now, timers: clock });
    const published: number[] = [];
    heartbeat.on('published', () => published.push(clock.now() - T0));
    await heartbeat.start();
    await clock.tickAsync(3_000);
    expect(published).toEqual([0, 1_000, 2_000, 3_000]);
    heartbeat.stop();
    const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2 });
    const follower = new DeploymentFollower({ store: new DeploymentStore({ storage }), name: 'iris', policy: canary, intervalMs: 500, jitter: 0, timers: clock });
    await follower.start();
    expect(clock.pendingTimers).toBe(1);
    follower.stop();
    expect(clock.pendingTimers).toBe(0);

    const bad = { setInterval: () => 1, clearInterval: () => undefined };
    expect(() => new MonitorHeartbeat({ storage, deployment: 'iris', replicaId: 'r1', monitor, timers: bad as never })).toThrow(/timers must have setTimeout, clearTimeout, setInterval and clearInterval \(e.g. a FakeClock\), got object Object without setTimeout/);
    expect(() => new DeploymentFollower({ store: new DeploymentStore({ storage }), name: 'iris', policy: canary, timers: {} as never })).toThrow(/timers must have/);
    expect(() => new FleetDeployment({ storage, name: 'iris', replicaId: 'r1', policy: canary, monitor, timers: null as never })).toThrow(/timers must have .* got null/);
  });
});
