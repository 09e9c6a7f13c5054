import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeploymentStore, type StorageAdapter } from '../../src/index.js';
import { useBundledWorker } from '../fixtures/bundled-worker.js';
import { useProcessStores } from './fleet-stores.js';
import { type Event, Replica } from './replica-process.js';

const startWorker = useBundledWorker(fileURLToPath(new URL('./fixtures/fleet-replica.ts', import.meta.url)));

const { stores, cleanups } = useProcessStores('fleet-processes.test.ts');

const INTERVAL_MS = 600;
const FOLLOW_MS = 500;
const base = { intervalMs: INTERVAL_MS, followMs: FOLLOW_MS, minRequests: 100, maxErrorRate: 0.05 };

async function spawn(spec: string, id: string, options: object): Promise<Replica> {
  const replica = new Replica(id, startWorker(spec, id, JSON.stringify({ ...base, ...options })));
  await replica.next((e) => e.ev === 'ready', 'ready', 30_000, true);
  return replica;
}

async function fleetOf(spec: string, options: object, ids = ['r1', 'r2', 'r3']): Promise<Replica[]> {
  const replicas: Replica[] = [];
  // One after another: the first creates the deployment, the others join it.
  for (const id of ids) replicas.push(await spawn(spec, id, options));
  cleanups.push(async () => {
    for (const r of replicas) await r.stop().catch(() => undefined);
  });
  return replicas;
}

const isStatus = (status: string) => (e: Event) => (e.ev === 'applied' || e.ev === 'transitioned') && e.status === status;

async function auditOf(storage: StorageAdapter) {
  return new DeploymentStore({ storage }).audit('iris');
}

describe.each(stores)('three replica processes in fleet mode on $kind', ({ skip, prepare }) => {
  it.skipIf(skip)('identical unit ids route identically on every replica; a rollback issued on replica 2 is honoured by 1 and 3 within 2 × the follow interval', async () => {
    const { spec, storage } = await prepare();
    const rs = await fleetOf(spec, { steps: [30, 100] });
    const [r1, r2, r3] = rs as [Replica, Replica, Replica];
    r1.send({ cmd: 'start' });
    await Promise.all(rs.map((r) => r.next(isStatus('progressing'), 'progressing', 10_000, true)));
    const routed = await Promise.all(rs.map((r) => r.ask({ cmd: 'route', units: 2_000 }, 'routed')));
    const [a, b, c] = routed.map((e) => e.assignments as number[]);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    const canaryShare = a!.filter((v) => v === 2).length / a!.length;
    expect(canaryShare).toBeGreaterThan(0.25);
    expect(canaryShare).toBeLessThan(0.35);

    const delays: number[] = [];
    for (let round = 0; round < 3; round++) {
      // Each round: start again on replica 1 (a fresh deployment state is not needed: rollback → start is a new rollout).
      if (round > 0) {
        r1.send({ cmd: 'start' });
        await Promise.all(rs.map((r) => r.next(isStatus('progressing'), `progressing (round ${round})`, 10_000)));
      }
      const landed = r2.next((e) => e.ev === 'transitioned' && e.action === 'rollback', 'its rollback to land');
      const honoured = [r1, r3].map((r) => r.next((e) => e.ev === 'applied' && e.status === 'rolledBack', 'the rollback applied'));
      r2.send({ cmd: 'rollback' });
      const at = (await landed).t;
      for (const e of await Promise.all(honoured)) delays.push(e.t - at);
    }
    console.log(`fleet-processes (${spec.slice(0, 2)}): rollback on r2 applied on r1 and r3 after ${delays.join(', ')} ms (follow interval ${FOLLOW_MS} ms ± 20 %, polling)`);
    for (const d of delays) expect(d).toBeLessThan(2 * FOLLOW_MS);
    const audit = await auditOf(storage);
    expect(audit.filter((r) => r.action === 'rollback').map((r) => r.by)).toEqual(['r2', 'r2', 'r2']);
    expect(audit.map((r) => r.revision)).toEqual(Array.from({ length: audit.length }, (_, i) => i + 1));
  }, 120_000);

  it.skipIf(skip)('a candidate that fails only on replica 3\'s traffic is rolled back by the merged analysis of replica 1, which saw no failure itself', async () => {
    const { spec, storage } = await prepare();
    // Replica 3 applies the start (a follow) and publishes its first canary failures (a heartbeat)
    // up to about 1.2 s after replica 1 starts the rollout; the first verdict must wait for the
    // fleet's traffic, or replicas 1 and 2 alone pass the first step on a slow machine. 300 canary
    // requests take the three about 1.3 s (the two alone 1.9 s), and the window holds about 580.
    const options = { steps: [20, 50, 100], minRequests: 300 };
    const [r1] = await fleetOf(spec, options, ['r1']);
    await r1!.ask({ cmd: 'tick' }, 'ticked'); // replica 1 takes the lease before the others join
    expect(r1!.events.some((e) => e.ev === 'lease' && e.held === true)).toBe(true);
    const others = await fleetOf(spec, options, ['r2', 'r3']);
    const rs = [r1!, ...others];
    rs.forEach((r, i) => r.send({ cmd: 'serve', every: 50, n: 20, failRate: i === 2 ? 0.6 : 0 }));
    r1!.send({ cmd: 'start' });
    await Promise.all(rs.map((r) => r.next(isStatus('rolledBack'), 'rolledBack', 30_000, true)));
    const audit = await auditOf(storage);
    expect(audit.map((r) => [r.action, r.by])).toEqual([
      ['create', 'r1'],
      ['start', 'r1'],
      ['rollback', 'r1'],
    ]);
    const numbers = audit[2]!.numbers!;
    expect(numbers.replicas).toBe(3);
    expect(numbers.candidateErrorRate).toBeGreaterThan(0.05);
    expect(numbers.candidateErrorRate).toBeLessThan(0.6); // diluted by the healthy replicas' traffic
    const own = await r1!.ask({ cmd: 'state' }, 'state');
    expect(own.ownCanary).toMatchObject({ errorRate: 0 });
    expect((own.ownCanary as { requests: number }).requests).toBeGreaterThan(0);
  }, 120_000);

  it.skipIf(skip)('a healthy candidate is promoted with exactly one audit record per step while all three run the analysis loop', async () => {
    const { spec, storage } = await prepare();
    const steps = [10, 25, 50, 100];
    const rs = await fleetOf(spec, { steps });
    for (const r of rs) r.send({ cmd: 'serve', every: 50, n: 20 });
    rs[1]!.send({ cmd: 'start' });
    await Promise.all(rs.map((r) => r.next(isStatus('promoted'), 'promoted', 60_000, true)));
    const audit = await auditOf(storage);
    expect(audit.map((r) => r.revision)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(audit.map((r) => [r.action, r.to])).toEqual([
      ['create', 'idle 0'],
      ['start', 'progressing 10'],
      ['step', 'progressing 25'],
      ['step', 'progressing 50'],
      ['step', 'progressing 100'],
      ['promote', 'promoted 0'],
    ]);
    for (const r of audit.slice(2)) expect(r.numbers).toMatchObject({ replicas: 3 });
    // All three ran the loop (each saw who holds the lease); one of them analysed.
    for (const r of rs) expect(r.events.some((e) => e.ev === 'lease'), r.id).toBe(true);
    expect(rs.filter((r) => r.events.some((e) => e.ev === 'analysis')).length).toBe(1);
  }, 120_000);

  it.skipIf(skip)('SIGKILL of the replica that made the last transition, mid-rollout: the others carry on after its lease expires, and a restarted replica resumes from the stored state', async () => {
    const { spec, storage } = await prepare();
    const steps = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    const rs = await fleetOf(spec, { steps, leaseTtlMs: 3 * INTERVAL_MS });
    for (const r of rs) r.send({ cmd: 'serve', every: 50, n: 20 });
    rs[0]!.send({ cmd: 'start' });
    const third = await Promise.race(rs.map((r) => r.next((e) => e.ev === 'transitioned' && e.percentage === 30, 'the step to 30 %', 60_000).then((e) => ({ r, e }))));
    third.r.worker.child.kill('SIGKILL');
    await third.r.worker.exited;
    const alive = rs.filter((r) => r !== third.r);
    await Promise.all(alive.map((r) => r.next(isStatus('promoted'), 'promoted', 90_000, true)));
    const audit = await auditOf(storage);
    expect(audit.map((r) => r.revision)).toEqual(Array.from({ length: steps.length + 2 }, (_, i) => i + 1));
    expect(audit.map((r) => r.to)).toEqual(['idle 0', ...steps.map((p) => `progressing ${p}`), 'promoted 0']);
    const after = audit.slice(audit.findIndex((r) => r.to === 'progressing 30') + 1);
    expect(after.every((r) => r.by !== third.r.id)).toBe(true);

    const restarted = await spawn(spec, third.r.id, { steps });
    cleanups.push(() => restarted.stop());
    const ready = restarted.events.find((e) => e.ev === 'ready')!;
    const stored = (await new DeploymentStore({ storage }).read('iris'))!.state;
    expect(ready).toMatchObject({ revision: steps.length + 2, status: 'promoted', percentage: 0 });
    expect(stored.revision).toBe(steps.length + 2);
    expect(ready.counters).toEqual((stored.analysis as { counters: unknown }).counters);
  }, 180_000);
});
