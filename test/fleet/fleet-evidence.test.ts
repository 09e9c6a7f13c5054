import { describe, expect, it } from 'vitest';
import { CanaryDeployment, DeploymentMonitor, FleetDeployment, canaryAnalysis, type StorageAdapter } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { useFleetStores } from './fleet-stores.js';

const { stores } = useFleetStores('fleet-evidence.test.ts');
const NEVER = 1e9; // timers that never fire: every turn is driven by tick()
const ROUND_MS = 20_000; // a heartbeat older than MAX_AGE_MS is stale: one round without publishing leaves the merge
const MAX_AGE_MS = 15_000;

function replica(storage: StorageAdapter, clock: FakeClock, id: string) {
  const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: [10, 50], clock: clock.now });
  const monitor = new DeploymentMonitor({ clock: clock.now });
  const fleet = new FleetDeployment({
    storage,
    name: 'iris',
    replicaId: id,
    policy: canary,
    monitor,
    analysis: (merged, { policy: decision }) => canaryAnalysis(decision, { monitor: merged, clock: clock.now, method: 'evidence', minRequests: 20, relative: { maxErrorRateIncrease: 0.01 }, inconclusiveLimit: 1_000 }),
    intervalMs: NEVER,
    followMs: NEVER,
    maxAgeMs: MAX_AGE_MS,
    leaseTtlMs: 10 * ROUND_MS,
    clock: clock.now,
  });
  /** `n` candidate and 10 × `n` stable requests, 1 % of each failing. */
  const serve = (n: number) => {
    for (let i = 0; i < 10 * n; i++) monitor.record(1, 10, i % 100 !== 0);
    for (let i = 0; i < n; i++) monitor.record(2, 10, i % 100 !== 0);
  };
  return { id, canary, monitor, fleet, serve };
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
});
