import { describe, expect, it } from 'vitest';
import { DeploymentStore, type StorageAdapter } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { canaryReplica } from './canary-replica.js';
import { useFleetStores } from './fleet-stores.js';

const { stores } = useFleetStores('fleet-evidence.test.ts');
const ROUND_MS = 20_000; // a heartbeat older than MAX_AGE_MS is stale: one round without publishing leaves the merge
const MAX_AGE_MS = 15_000;

function replica(storage: StorageAdapter, clock: FakeClock, id: string, { maxAgeMs = MAX_AGE_MS, leaseTtlMs = 10 * ROUND_MS } = {}) {
  const { canary, monitor, fleet } = canaryReplica(storage, clock, id, {
    steps: [10, 50],
    analysis: { method: 'evidence', minRequests: 20, relative: { maxErrorRateIncrease: 0.01 }, inconclusiveLimit: 1_000 },
    fleet: { maxAgeMs, leaseTtlMs },
  });
  /** `n` candidate and 10 × `n` stable requests, 1 % of stable's failing and one in `candidateFailsEvery` of the candidate's. */
  const serve = (n: number, candidateFailsEvery = 100) => {
    for (let i = 0; i < 10 * n; i++) monitor.record(1, 10, i % 100 !== 0);
    for (let i = 0; i < n; i++) monitor.record(2, 10, i % candidateFailsEvery !== 0);
  };
  return { id, canary, monitor, fleet, serve };
}

/** Each run of the fleet's analysis: the round, who ran it, the window's requests of each version, the decision. */
type Run = [round: number, by: string, candidate: number, baseline: number | undefined, decision: string];

/**
 * Three replicas start a canary on r1 (the lease holder) whose candidate fails 4 % against
 * stable's 1 %; every round each serves 100 candidate and 1 000 stable requests and publishes,
 * then each takes a turn. With `takeoverAfter`, the holder stops taking turns after that round
 * (its loop stalled past the lease's TTL; it goes on serving and publishing), and the next replica
 * takes the lease over.
 */
async function rollout(storage: StorageAdapter, takeoverAfter?: number): Promise<{ runs: Run[]; log: Array<[number, string]> }> {
  const clock = new FakeClock(Date.parse('2026-12-01T17:00:00Z'));
  const ttl = 30_000;
  const rs = ['r1', 'r2', 'r3'].map((id) => replica(storage, clock, id, { maxAgeMs: 10 * ttl, leaseTtlMs: ttl }));
  for (const r of rs) r.serve(300); // history before the step: none of its window
  for (const r of rs) await r.fleet.start();
  for (const r of rs) await r.fleet.tick(); // r1 takes the lease and merges all three
  rs[0]!.canary.start();
  await rs[0]!.fleet.flush();
  for (const r of rs) await r.fleet.refresh();
  const runs: Run[] = [];
  const log: Array<[number, string]> = [];
  let round = 0;
  for (const r of rs) {
    r.fleet.on('analysis', (e) => runs.push([round, r.id, e.report.candidate.totalRequests, e.report.baseline?.totalRequests, e.report.decision]));
    r.fleet.on('transitioned', (e) => log.push([round, e.action]));
  }
  const turning = [...rs];
  for (round = 1; round <= 8 && rs[0]!.canary.state.status === 'progressing'; round++) {
    for (const r of rs) r.serve(100, 25);
    for (const r of rs) await r.fleet.publish();
    for (const r of turning) await r.fleet.tick();
    for (const r of rs) await r.fleet.flush();
    if (round === takeoverAfter) {
      turning.splice(turning.findIndex((r) => r.fleet.leader), 1);
      clock.advance(ttl + 1_000);
    }
    for (const r of rs) await r.fleet.refresh();
  }
  for (const r of rs) await r.fleet.stop();
  return { runs, log };
}

describe.each(stores)('the evidence window of a fleet on $kind', ({ skip, make }) => {
  it.skipIf(skip)('a replica joining mid-step with its history counts from its first heartbeat, one leaving keeps its part: each run judges the step\'s requests alone', async () => {
    const storage = await make();
    const clock = new FakeClock(Date.parse('2026-12-01T17:00:00Z'));
    const r1 = replica(storage, clock, 'r1');
    const r2 = replica(storage, clock, 'r2');
    const r3 = replica(storage, clock, 'r3');
    // Before the step: history on r1 and r2 (in the leader's merge), and a long one on r3, not yet in the fleet.
    r1.serve(500);
    r2.serve(500);
    r3.serve(5_000);
    await r1.fleet.start();
    await r2.fleet.start();
    await r1.fleet.tick(); // r1 takes the lease and merges r1 and r2: the step's window starts from there
    await r2.fleet.tick();
    expect(r1.fleet.leader).toBe(true);
    r1.canary.start();
    await r1.fleet.flush();
    await r2.fleet.refresh();

    const candidate: number[] = [];
    r1.fleet.on('analysis', (e) => candidate.push(e.report.candidate.totalRequests));
    const live = [r1, r2];
    for (let round = 1; round <= 4; round++) {
      if (round === 2) {
        await r3.fleet.start(); // joins: its first heartbeat carries its 5 000 requests of history
        live.push(r3);
      }
      for (const r of live) r.serve(100);
      for (const r of live) await r.fleet.publish();
      await r1.fleet.tick();
      if (round === 2) {
        await r2.fleet.stop(); // leaves: its last heartbeat goes stale within a round
        live.splice(live.indexOf(r2), 1);
      }
      clock.advance(ROUND_MS);
    }
    // Round 1: r1 and r2; round 2: r1 and r2 (r3's first heartbeat only starts its window); rounds 3, 4: r1 and r3 (r2 keeps its 200).
    expect(candidate).toEqual([200, 400, 600, 800]);
    expect(r1.fleet.coverage.stale).toEqual(['r2']);
    await r1.fleet.stop();
    await r3.fleet.stop();
  });

  it.skipIf(skip)('a lease takeover mid-step judges the window the leader would have: the same requests of each version, the rollback at the same run', async () => {
    const uninterrupted = await rollout(await make());
    const rollbackRound = uninterrupted.log.find(([, action]) => action === 'rollback')?.[0];
    expect(rollbackRound).toBeGreaterThanOrEqual(3); // the takeover after round 2 is mid-step
    expect(uninterrupted.runs.every(([, by]) => by === 'r1')).toBe(true);
    // The window holds the step's requests alone: 300 candidate and 3 000 stable a round.
    expect(uninterrupted.runs.map(([round, , candidate, baseline]) => [round, candidate, baseline])).toEqual(
      uninterrupted.runs.map(([round]) => [round, 300 * round, 3_000 * round]),
    );

    const storage = await make();
    const taken = await rollout(storage, 2);
    expect(new Set(taken.runs.map(([, by]) => by))).toEqual(new Set(['r1', 'r2']));
    expect(taken.runs.map(([round, , ...rest]) => [round, ...rest])).toEqual(uninterrupted.runs.map(([round, , ...rest]) => [round, ...rest]));
    expect(taken.log).toEqual(uninterrupted.log);
    // What carried it: the window, part by part, in the stored state and the lease.
    const stored = await new DeploymentStore({ storage }).read('iris');
    expect(Object.keys((stored!.state.analysis as { counters: { evidence: { parts: object } } }).counters.evidence.parts).sort()).toEqual(['', 'r1', 'r2', 'r3']);
  });
});
