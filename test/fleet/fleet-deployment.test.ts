import { describe, expect, it } from 'vitest';
import {
  ABTestController,
  BanditPolicy,
  CanaryDeployment,
  DeploymentMonitor,
  DeploymentStore,
  FleetDeployment,
  MemoryStorage,
  type FleetAnalysisReport,
  type StorageAdapter,
} from '../../src/index.js';
import { FakeClock, FaultyStorage } from '../../src/testing/index.js';
import { NEVER, canaryReplica, type CanaryReplica } from './canary-replica.js';
import { useFleetStores } from './fleet-stores.js';

const { stores } = useFleetStores('fleet-deployment.test.ts');

type Replica = CanaryReplica;

function replicas(storage: StorageAdapter, clock: FakeClock, ids = ['r1', 'r2', 'r3'], limits: { consecutiveSuccessLimit?: number } = {}): Replica[] {
  return ids.map((id) => canaryReplica(storage, clock, id, { analysis: { minRequests: 100, maxErrorRate: 0.05, ...limits }, fleet: { leaseTtlMs: 30_000 } }));
}

/** Each replica serves `n` requests of each version; `failing` replicas fail `rate` of the canary's. */
function serve(rs: Replica[], n: number, failing: Record<string, number> = {}): void {
  for (const r of rs) {
    const rate = failing[r.id] ?? 0;
    for (let i = 0; i < n; i++) {
      r.monitor.record(1, 10);
      r.monitor.record(2, 10, i / n >= rate);
    }
  }
}

async function all(rs: Replica[], f: (r: Replica) => Promise<unknown>): Promise<void> {
  await Promise.all(rs.map(f));
}

describe.each(stores)('FleetDeployment on $kind', ({ skip, make }) => {
  it.skipIf(skip)('a candidate failing only on one replica\'s traffic is rolled back by the merged analysis of whichever replica holds the lease', async () => {
    const storage = await make();
    const clock = new FakeClock(Date.parse('2026-12-01T14:00:00Z'));
    const rs = replicas(storage, clock);
    await all(rs, (r) => r.fleet.start());
    rs[1]!.canary.start();
    await rs[1]!.fleet.flush();
    await all(rs, (r) => r.fleet.refresh());
    for (const r of rs) expect(r.canary.state).toMatchObject({ status: 'progressing', percentage: 10 });

    serve(rs, 200, { r3: 0.3 });
    await all(rs, (r) => r.fleet.publish()); // so whichever replica leads reads everyone's latest numbers
    const reports: FleetAnalysisReport[] = [];
    for (const r of rs) r.fleet.on('analysis', (e) => reports.push(e));
    await all(rs, (r) => r.fleet.tick());
    expect(reports).toHaveLength(1); // one lease, one run per interval
    const [run] = reports;
    expect(run).toMatchObject({ replicas: 3, replicaIds: ['r1', 'r2', 'r3'], requests: 1_200 });
    expect(run!.report).toMatchObject({ outcome: 'failed', decision: 'rollback' });
    expect(run!.report.candidate.errorRate).toBeCloseTo(60 / 600, 10);
    await all(rs, (r) => r.fleet.flush());
    await all(rs, (r) => r.fleet.refresh());
    for (const r of rs) expect(r.canary.state.status).toBe('rolledBack');

    const audit = await new DeploymentStore({ storage }).audit('iris');
    expect(audit.map((a) => [a.action, a.from, a.to])).toEqual([
      ['create', null, 'idle 0'],
      ['start', 'idle 0', 'progressing 10'],
      ['rollback', 'progressing 10', 'rolledBack 0'],
    ]);
    expect(audit[2]!.numbers).toMatchObject({ replicas: 3, requests: 1_200, candidateRequests: 600, failures: 1 });
    expect(audit[2]!.numbers!.candidateErrorRate).toBeCloseTo(0.1, 10);
    expect(audit[2]!.reason).toMatch(/analysis failed/);
    await all(rs, (r) => r.fleet.stop());
  });

  it.skipIf(skip)('a healthy candidate is promoted with exactly one audit record per step while all three run the loop; a lease that expires moves with its counters', async () => {
    const storage = await make();
    const clock = new FakeClock(Date.parse('2026-12-01T14:00:00Z'));
    const rs = replicas(storage, clock, ['r1', 'r2', 'r3'], { consecutiveSuccessLimit: 2 });
    await all(rs, (r) => r.fleet.start());
    rs[0]!.canary.start();
    await rs[0]!.fleet.flush();
    const leaders = new Set<string>();
    for (const r of rs) r.fleet.on('analysis', () => leaders.add(r.id));
    let rounds = 0;
    while (rs.some((r) => r.canary.state.status !== 'promoted') && rounds < 20) {
      rounds++;
      serve(rs, 100);
      if (rounds === 2) {
        // The leader dies after one success of the two needed: the others take over once its lease expires.
        const leader = rs.find((r) => r.fleet.leader)!;
        expect(leader.fleet.analysis!.counters).toMatchObject({ consecutiveSuccesses: 1 });
        rs.splice(rs.indexOf(leader), 1);
        clock.advance(31_000);
        serve(rs, 100);
      }
      await all(rs, (r) => r.fleet.publish());
      await all(rs, (r) => r.fleet.tick());
      clock.advance(1_000);
      await all(rs, (r) => r.fleet.refresh());
    }
    for (const r of rs) expect(r.canary.state.status).toBe('promoted');
    expect(leaders.size).toBe(2);
    const audit = await new DeploymentStore({ storage }).audit('iris');
    expect(audit.map((a) => a.revision)).toEqual([1, 2, 3, 4, 5]);
    expect(audit.map((a) => [a.action, a.to])).toEqual([
      ['create', 'idle 0'],
      ['start', 'progressing 10'],
      ['step', 'progressing 50'],
      ['step', 'progressing 100'],
      ['promote', 'promoted 0'],
    ]);
    // Two successes per step, with the takeover carrying the first one over: 3 steps × 2 runs.
    expect(rounds).toBe(6);
    for (const a of audit.slice(2)) expect(a.numbers).toMatchObject({ successes: 2, runs: 2 });
    await all(rs, (r) => r.fleet.stop());
  });

  it.skipIf(skip)('two replicas acting on the same revision: one transition lands, the other is superseded and restores the winner\'s state', async () => {
    const storage = await make();
    const clock = new FakeClock(Date.parse('2026-12-01T14:00:00Z'));
    const [a, b] = replicas(storage, clock, ['a', 'b']);
    await a!.fleet.start();
    await b!.fleet.start();
    a!.canary.start();
    await a!.fleet.flush();
    await b!.fleet.refresh();
    const superseded: unknown[] = [];
    b!.fleet.on('superseded', (e) => superseded.push(e));
    a!.canary.rollback('a says no');
    await a!.fleet.flush();
    // b has not seen revision 3: it acts on revision 2, as a replica between two polls does.
    b!.canary.increase();
    b!.canary.increase(); // queued on a state that lost: dropped with it
    await b!.fleet.flush();
    expect(superseded).toEqual([{ action: 'step', revision: 3, by: 'a' }]);
    expect(b!.canary.state).toMatchObject({ status: 'rolledBack' });
    expect(b!.fleet.revision).toBe(3);
    const audit = await new DeploymentStore({ storage }).audit('iris');
    expect(audit.map((r) => [r.action, r.by, r.reason])).toEqual([
      ['create', 'a', null],
      ['start', 'a', null],
      ['rollback', 'a', 'a says no'],
    ]);
    await a!.fleet.stop();
    await b!.fleet.stop();
  });
});

describe('FleetDeployment', () => {
  it('a save storage refuses is reported and the live policy goes back to the stored state', async () => {
    let failState = false;
    let down = false;
    const storage = new FaultyStorage(new MemoryStorage(), {
      decide: (call) => (down || (failState && call.operation === 'put' && call.key.includes('/audit/')) ? 'fail' : 'pass'),
    });
    const clock = new FakeClock(Date.parse('2026-12-01T14:00:00Z'));
    const [r] = replicas(storage, clock, ['solo']);
    await r!.fleet.start();
    r!.canary.start();
    await r!.fleet.flush();
    const failed: Array<{ action: string; error: unknown }> = [];
    r!.fleet.on('transitionFailed', (e) => failed.push(e));
    failState = true;
    r!.canary.rollback('by hand');
    await r!.fleet.flush();
    expect(failed.map((f) => [f.action, (f.error as Error).name])).toEqual([['rollback', 'StorageError']]);
    expect(r!.canary.state).toMatchObject({ status: 'progressing', percentage: 10 });
    // Storage down altogether: nothing can be saved nor read back; once it is up, the next re-read puts the stored state back.
    down = true;
    r!.canary.pause('storage is down');
    await r!.fleet.flush();
    expect(r!.canary.state.status).toBe('paused');
    down = false;
    await r!.fleet.refresh();
    expect(r!.canary.state).toMatchObject({ status: 'progressing', percentage: 10 });
    expect(failed.map((f) => f.action)).toEqual(['rollback', 'pause']);
    failState = false;
    r!.canary.rollback('by hand, again');
    await r!.fleet.flush();
    const audit = await new DeploymentStore({ storage }).audit('iris');
    expect(audit.map((a) => [a.revision, a.action, a.reason])).toEqual([
      [1, 'create', null],
      [2, 'start', null],
      [3, 'rollback', 'by hand, again'],
    ]);
    await r!.fleet.stop();
  });

  it('a save whose claim landed but whose state write failed did happen: settled, reported as transitioned, never doubled', async () => {
    let failState = false;
    const storage = new FaultyStorage(new MemoryStorage(), {
      decide: (call) => {
        if (!failState || call.operation !== 'put' || call.key !== 'deployments/iris.json') return 'pass';
        failState = false; // once
        return 'fail';
      },
    });
    const clock = new FakeClock(Date.parse('2026-12-01T14:00:00Z'));
    const [r] = replicas(storage, clock, ['solo']);
    await r!.fleet.start();
    r!.canary.start();
    await r!.fleet.flush();
    const events: string[] = [];
    r!.fleet.on('transitioned', (e) => events.push(`transitioned ${e.action} ${e.revision}`));
    r!.fleet.on('transitionFailed', (e) => events.push(`failed ${e.action}`));
    failState = true;
    r!.canary.increase();
    await r!.fleet.flush();
    expect(events).toEqual(['transitioned step 3']);
    expect(r!.fleet.revision).toBe(3);
    expect(r!.canary.state).toMatchObject({ status: 'progressing', percentage: 50 });
    const store = new DeploymentStore({ storage });
    expect((await store.read('iris'))!.state).toMatchObject({ revision: 3, by: 'solo' });
    expect((await store.audit('iris')).map((a) => a.action)).toEqual(['create', 'start', 'step']);
    await r!.fleet.stop();
  });

  it('bandit counts merge from heartbeats: each replica\'s latest once, however often read', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock(Date.parse('2026-12-01T14:00:00Z'));
    const arms = [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }];
    const rs = ['r1', 'r2', 'r3'].map((id) => {
      const bandit = new BanditPolicy({ name: 'rec', arms, replicaId: id, clock: clock.now });
      const fleet = new FleetDeployment({ storage, name: 'rec', replicaId: id, policy: bandit, monitor: new DeploymentMonitor({ clock: clock.now }), intervalMs: NEVER, followMs: NEVER, clock: clock.now });
      return { id, bandit, fleet };
    });
    for (const r of rs) await r.fleet.start();
    rs.forEach((r, i) => {
      for (let k = 0; k < 10 * (i + 1); k++) r.bandit.reward('a', true);
      r.bandit.reward('b', false);
    });
    for (let round = 0; round < 3; round++) for (const r of rs) await r.fleet.tick();
    for (const r of rs) {
      const a = r.bandit.state.arms.find((x) => x.variant === 'a')!;
      const b = r.bandit.state.arms.find((x) => x.variant === 'b')!;
      expect([r.id, a.successes, a.failures, b.successes, b.failures]).toEqual([r.id, 60, 0, 0, 3]);
    }
    for (const r of rs) await r.fleet.stop();
  });

  it('A/B results merge from heartbeats without counting twice, and a conclusion applied from another replica keeps each replica\'s own results', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock(Date.parse('2026-12-01T14:00:00Z'));
    const rs = ['r1', 'r2'].map((id) => {
      const ab = new ABTestController({ clock: clock.now });
      ab.createExperiment('ui', { variants: [{ name: 'control', version: 1 }, { name: 'new', version: 2 }], metric: { kind: 'binary' } });
      const fleet = new FleetDeployment({ storage, name: 'ui', replicaId: id, policy: ab, monitor: new DeploymentMonitor({ clock: clock.now }), intervalMs: NEVER, followMs: NEVER, clock: clock.now });
      return { id, ab, fleet };
    });
    await rs[0]!.fleet.start();
    await rs[1]!.fleet.start(); // adopts r1's stored state: its own results stay its own (none yet)
    for (let i = 0; i < 40; i++) rs[0]!.ab.logResult('ui', i % 2 ? 'new' : 'control', i % 4 === 1);
    for (let i = 0; i < 20; i++) rs[1]!.ab.logResult('ui', i % 2 ? 'new' : 'control', true);
    for (let round = 0; round < 2; round++) for (const r of rs) await r.fleet.tick();
    const counts = (r: (typeof rs)[number]) => r.fleet.experimentResults('ui').variants.map((v) => [v.name, v.count]);
    expect(counts(rs[0]!)).toEqual([['control', 30], ['new', 30]]);
    expect(counts(rs[1]!)).toEqual([['control', 30], ['new', 30]]);
    expect(rs[0]!.ab.results('ui').variants.map((v) => v.count)).toEqual([20, 20]); // the live controller keeps its own only

    rs[0]!.ab.conclude('ui', 'new');
    await rs[0]!.fleet.flush();
    await rs[1]!.fleet.refresh();
    expect(rs[1]!.ab.results('ui').conclusion).toMatchObject({ winner: 'new' });
    expect(rs[1]!.ab.results('ui').variants.map((v) => v.count)).toEqual([10, 10]);
    const audit = await new DeploymentStore({ storage }).audit('ui');
    expect(audit.map((a) => a.action)).toEqual(['create', 'conclude']);
    for (const r of rs) await r.fleet.stop();
  });

  it('checks its options, naming the bad one', () => {
    const storage = new MemoryStorage();
    const policy = new CanaryDeployment({ stable: 1, canary: 2, steps: [50, 100] });
    const monitor = new DeploymentMonitor();
    expect(() => new FleetDeployment({ storage, name: 'iris', replicaId: 'r/1', policy, monitor })).toThrow(/replicaId must be one storage key segment/);
    expect(() => new FleetDeployment({ storage, name: 'iris', replicaId: 'r1', policy: {} as never, monitor })).toThrow(/policy must be a routing policy \(with snapshot\(\)\)/);
    expect(() => new FleetDeployment({ storage, name: 'iris', replicaId: 'r1', policy, monitor: {} as never })).toThrow(/monitor must be the DeploymentMonitor/);
    expect(() => new FleetDeployment({ storage, name: 'iris', replicaId: 'r1', policy, monitor, intervalMs: 0 })).toThrow(/intervalMs must be a finite number >= 1/);
    expect(() => new FleetDeployment({ storage, name: 'iris', replicaId: 'r1', policy, monitor, analysis: (() => ({})) as never })).toThrow(/analysis must return an analysis/);
  });
});
