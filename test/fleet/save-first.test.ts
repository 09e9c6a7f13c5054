/**
 * Fleet transitions are stored before any replica routes by them, the replica that made them
 * included: the analysis and `fleet.transition()` decide on the decision copy, and the live policy
 * takes a transition (with its usual event, once) only after its save has landed.
 */
import { describe, expect, it } from 'vitest';
import {
  CanaryDeployment,
  DeploymentMonitor,
  DeploymentStore,
  FleetDeployment,
  InvalidStateError,
  MemoryStorage,
  PreconditionFailedError,
  StorageError,
  ValidationError,
  canaryAnalysis,
  type StorageAdapter,
} from '../../src/index.js';
import { FakeClock, FaultyStorage } from '../../src/testing/index.js';
import { canaryReplica, type CanaryReplica } from './canary-replica.js';
import { useFleetStores } from './fleet-stores.js';
import { HeldWrites } from './held-writes.js';

const { stores } = useFleetStores('save-first.test.ts');
const T0 = Date.parse('2026-12-01T17:00:00Z');
const UNITS = Array.from({ length: 400 }, (_, i) => `u${i}`);
const isClaim = (key: string) => key.includes('/audit/');

type Replica = CanaryReplica;

function replica(storage: StorageAdapter, clock: FakeClock, id: string, analysed = true): Replica {
  return canaryReplica(storage, clock, id, { analysis: analysed && { minRequests: 100, maxErrorRate: 0.05, consecutiveSuccessLimit: 1 } });
}

function serve(r: Replica, n: number, failRate = 0): void {
  for (let i = 0; i < n; i++) {
    r.monitor.record(1, 10);
    r.monitor.record(2, 10, i / n >= failRate);
  }
}

const routes = (r: Replica) => UNITS.map((unitId) => r.canary.route({ unitId }).version);

/** Every transition event and restore the live policy emits, with the state it holds then. */
function heard(r: Replica, into: string[]): void {
  for (const event of ['started', 'stepped', 'paused', 'promoted', 'rolledBack', 'restored'] as const) {
    r.canary.on(event, () => into.push(`${r.id} ${event} → ${r.canary.state.status} ${r.canary.state.percentage}`));
  }
  r.fleet.on('transitioned', (e) => into.push(`${r.id} transitioned ${e.action} r${e.revision}`));
}

describe.each(stores)('save first, apply after, on $kind', ({ skip, make }) => {
  it.skipIf(skip)('an analysis decision is stored before any replica routes by it, the deciding one included; its event reaches the live policy once, after', async () => {
    const storage = new HeldWrites(await make());
    const clock = new FakeClock(T0);
    const r1 = replica(storage, clock, 'r1');
    const r2 = replica(storage, clock, 'r2');
    await r1.fleet.start();
    await r2.fleet.start();
    const starting = r1.fleet.transition((canary) => canary.start());
    expect(r1.canary.state.status).toBe('idle'); // asked for, not stored yet
    expect(await starting).toMatchObject({ action: 'start', revision: 2, by: 'r1', from: 'idle 0', to: 'progressing 10' });
    expect(r1.canary.state).toMatchObject({ status: 'progressing', percentage: 10 });
    await r2.fleet.refresh();
    const before = routes(r1);
    expect(before.filter((v) => v === 2).length).toBeGreaterThan(10);
    expect(routes(r2)).toEqual(before);

    const events: string[] = [];
    heard(r1, events);
    heard(r2, events);
    serve(r1, 200);
    serve(r2, 200, 0.5);
    await Promise.all([r1.fleet.publish(), r2.fleet.publish()]);
    const claim = storage.hold(isClaim);
    const turn = r1.fleet.tick();
    await claim.reached;
    // Decided (the copy the analysis steers is rolled back) and on its way to storage: nobody routes by it yet.
    expect(r1.fleet.analysis!.settled).toBe(true);
    expect(r1.canary.state).toMatchObject({ status: 'progressing', percentage: 10 });
    expect(routes(r1)).toEqual(before);
    expect(routes(r2)).toEqual(before);
    expect(events).toEqual([]);
    claim.release();
    const run = await turn;
    expect(run!.report).toMatchObject({ decision: 'rollback', outcome: 'failed' });
    expect(r1.canary.state.status).toBe('rolledBack');
    expect(new Set(routes(r1))).toEqual(new Set([1]));
    expect(events).toEqual(['r1 restored → rolledBack 0', 'r1 rolledBack → rolledBack 0', 'r1 transitioned rollback r3']);
    await r2.fleet.refresh();
    expect(new Set(routes(r2))).toEqual(new Set([1]));
    expect(events.slice(3)).toEqual(['r2 restored → rolledBack 0']); // a follower restores; the event is the deciding replica's
    const audit = await new DeploymentStore({ storage }).audit('iris');
    expect(audit.map((a) => [a.action, a.by, a.from, a.to])).toEqual([
      ['create', 'r1', null, 'idle 0'],
      ['start', 'r1', 'idle 0', 'progressing 10'],
      ['rollback', 'r1', 'progressing 10', 'rolledBack 0'],
    ]);
    expect(audit[2]!.numbers).toMatchObject({ replicas: 2, candidateRequests: 400 });
    await r1.fleet.stop();
    await r2.fleet.stop();
  });

  it.skipIf(skip)('a superseded decision is never routed by: the deciding replica keeps the stored state, then takes the winner\'s', async () => {
    const inner = await make();
    const storage = new HeldWrites(inner); // r1's writes only
    const clock = new FakeClock(T0);
    const r1 = replica(storage, clock, 'r1');
    const r2 = replica(inner, clock, 'r2', false);
    await r1.fleet.start();
    await r2.fleet.start();
    await r1.fleet.transition((canary) => canary.start());
    await r2.fleet.refresh();
    const before = routes(r1);
    const events: string[] = [];
    heard(r1, events);
    const superseded: unknown[] = [];
    r1.fleet.on('superseded', (e) => superseded.push(e));

    serve(r1, 200); // healthy: r1's analysis steps to 50 %
    const claim = storage.hold(isClaim);
    const turn = r1.fleet.tick();
    await claim.reached;
    expect(r1.fleet.analysis!.counters).toMatchObject({ runs: 0 }); // the step's counters start afresh on the copy…
    expect(r1.canary.state.percentage).toBe(10); // …while the live policy routes by the stored 10 %
    // r2 rolls back meanwhile, from revision 2: its transition lands first.
    expect(await r2.fleet.transition((canary) => canary.rollback('r2 says no'))).toMatchObject({ revision: 3 });
    expect(routes(r1)).toEqual(before);
    // A host transition made now builds on the copy's step: it goes down with it.
    const paused = r1.fleet.transition((canary) => canary.pause('built on the step')).catch((error: unknown) => error);
    claim.release();
    expect((await turn)!.report.decision).toBe('advance');
    const refusal = await paused;
    expect(refusal).toBeInstanceOf(PreconditionFailedError);
    expect((refusal as Error).message).toMatch(/superseded: the state it was built on is no longer stored \(revision 3 by 'r2' is\)/);
    expect(superseded).toEqual([{ action: 'step', revision: 3, by: 'r2' }]);
    expect(r1.canary.state.status).toBe('rolledBack');
    expect(r1.fleet.analysis!.settled).toBe(true); // the copy was reset to the winner
    expect(events).toEqual(['r1 restored → rolledBack 0']); // never 'stepped', never 50 %
    const audit = await new DeploymentStore({ storage: inner }).audit('iris');
    expect(audit.map((a) => [a.action, a.by])).toEqual([['create', 'r1'], ['start', 'r1'], ['rollback', 'r2']]);
    await r1.fleet.stop();
    await r2.fleet.stop();
  });
});

describe('FleetDeployment.transition()', () => {
  it('resolves with the stored revision once the live policy has it; rejects, leaving the live policy alone, when the change is refused, makes nothing or cannot be saved', async () => {
    let refuse = false;
    const storage = new FaultyStorage(new MemoryStorage(), { decide: (call) => (refuse && call.operation === 'put' && isClaim(call.key) ? 'fail' : 'pass') });
    const clock = new FakeClock(T0);
    const r = replica(storage, clock, 'solo', false);
    await expect(r.fleet.transition((canary) => canary.start())).rejects.toThrow(InvalidStateError);
    await r.fleet.start();
    const events: string[] = [];
    heard(r, events);
    await expect(r.fleet.transition((canary) => canary.rollback('nothing to roll back'))).rejects.toThrow(/cannot rollback|idle/);
    await expect(r.fleet.transition(() => undefined)).rejects.toThrow(/made no transition/);
    await expect(r.fleet.transition('start' as never)).rejects.toThrow(ValidationError);
    expect(r.fleet.revision).toBe(1);

    expect(await r.fleet.transition((canary) => canary.start())).toMatchObject({ action: 'start', revision: 2 });
    refuse = true;
    const failed: string[] = [];
    r.fleet.on('transitionFailed', (e) => failed.push(e.action));
    const refused = r.fleet.transition((canary) => canary.rollback('storage says no'));
    await expect(refused).rejects.toThrow(StorageError);
    expect(failed).toEqual(['rollback']);
    expect(r.canary.state).toMatchObject({ status: 'progressing', percentage: 10 });
    refuse = false;
    // The copy went back to the stored state too: a step from 10 % is still possible, and two in one change are two revisions.
    expect(await r.fleet.transition((canary) => { canary.increase(); canary.increase(); })).toMatchObject({ action: 'step', revision: 4, from: 'progressing 50', to: 'progressing 100' });
    expect(events).toEqual([
      'solo restored → progressing 10', 'solo started → progressing 10', 'solo transitioned start r2',
      'solo restored → progressing 50', 'solo stepped → progressing 50', 'solo transitioned step r3',
      'solo restored → progressing 100', 'solo stepped → progressing 100', 'solo transitioned step r4',
    ]);
    const audit = await new DeploymentStore({ storage }).audit('iris');
    expect(audit.map((a) => [a.revision, a.action, a.to])).toEqual([[1, 'create', 'idle 0'], [2, 'start', 'progressing 10'], [3, 'step', 'progressing 50'], [4, 'step', 'progressing 100']]);
    await r.fleet.stop();
    await expect(r.fleet.transition((canary) => canary.promote())).rejects.toThrow(InvalidStateError);
  });

  it('a verb called on the live policy is applied at once, as without a fleet; one built on a state this replica\'s own decision is replacing is superseded by it', async () => {
    const storage = new HeldWrites(new MemoryStorage());
    const clock = new FakeClock(T0);
    const r = replica(storage, clock, 'solo', false);
    await r.fleet.start();
    r.canary.start(); // the direct way: routes at once, saved after
    expect(r.canary.state.status).toBe('progressing');
    await r.fleet.flush();
    expect(r.fleet.revision).toBe(2);
    const superseded: unknown[] = [];
    r.fleet.on('superseded', (e) => superseded.push(e));
    const claim = storage.hold(isClaim);
    const rollback = r.fleet.transition((canary) => canary.rollback('decided first'));
    await claim.reached;
    r.canary.pause('by hand, on the live policy');
    expect(r.canary.state.status).toBe('paused');
    claim.release();
    expect(await rollback).toMatchObject({ action: 'rollback', revision: 3 });
    await r.fleet.flush();
    expect(superseded).toEqual([{ action: 'pause', revision: 3, by: 'solo' }]);
    expect(r.canary.state.status).toBe('rolledBack');
    const audit = await new DeploymentStore({ storage }).audit('iris');
    expect(audit.map((a) => a.action)).toEqual(['create', 'start', 'rollback']);
    await r.fleet.stop();
  });

  it('refuses an analysis composed on the live policy, and a policy it cannot copy', () => {
    const storage = new MemoryStorage();
    const monitor = new DeploymentMonitor();
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [50, 100] });
    expect(() => new FleetDeployment({ storage, name: 'iris', replicaId: 'r1', policy: canary, monitor, analysis: (merged) => canaryAnalysis(canary, { monitor: merged, maxErrorRate: 0.02 }) })).toThrow(
      /analysis must compose on the decision copy it is given in its context/,
    );
    class TunedCanary extends CanaryDeployment {}
    expect(() => new FleetDeployment({ storage, name: 'iris', replicaId: 'r1', policy: new TunedCanary({ stable: 1, canary: 2 }), monitor })).toThrow(
      /policy must be an instance of the routing policy class itself \(its decision copy is a CanaryDeployment\), got TunedCanary/,
    );
  });
});
