import { describe, expect, it } from 'vitest';
import { CanaryDeployment, DeploymentLease, DeploymentMonitor, IntegrityError, MemoryStorage, canaryAnalysis } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { useFleetStores } from './fleet-stores.js';

const { stores } = useFleetStores('deployment-lease.test.ts');

describe.each(stores)('DeploymentLease on $kind', ({ skip, make }) => {
  it.skipIf(skip)('of eight replicas racing for a free lease exactly one holds it; it renews, expires, and exactly one takes it over', async () => {
    const storage = await make();
    const clock = new FakeClock(Date.parse('2026-12-01T14:00:00Z'));
    const leases = Array.from({ length: 8 }, (_, i) => new DeploymentLease({ storage, deployment: 'iris', holder: `r${i}`, ttlMs: 3_000, clock: clock.now }));
    const first = await Promise.all(leases.map((l) => l.hold(1, { n: 1 })));
    expect(first.filter((h) => h.held)).toHaveLength(1);
    const holder = leases[first.findIndex((h) => h.held)]!;
    for (const h of first.filter((x) => !x.held)) expect(h.holder?.holder).toBe(holder.holder);

    clock.advance(2_000);
    expect((await holder.hold(2, { n: 2 })).held).toBe(true); // renewed within its TTL
    clock.advance(2_000);
    const others = leases.filter((l) => l !== holder);
    expect((await Promise.all(others.map((l) => l.hold(2, null)))).filter((h) => h.held)).toHaveLength(0); // renewed 2 s ago: still held

    clock.advance(1_500); // 3.5 s after the renewal: expired
    const second = await Promise.all(others.map((l) => l.hold(2, null)));
    const took = second.filter((h) => h.held);
    expect(took).toHaveLength(1);
    expect(took[0]!.took).toMatchObject({ holder: holder.holder, term: 1, revision: 2, counters: { n: 2 } });
    expect((await holder.hold(3, null)).held).toBe(false); // the old holder's renewal loses
    const stored = (await holder.read())!.record;
    expect(stored).toMatchObject({ term: 2, holder: others[second.findIndex((h) => h.held)]!.holder });
  });
});

describe('DeploymentLease', () => {
  it('release() lets the next replica take it at once; a record that is not a lease is an IntegrityError naming its key', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock(1_000_000);
    const a = new DeploymentLease({ storage, deployment: 'iris', holder: 'a', ttlMs: 60_000, clock: clock.now });
    const b = new DeploymentLease({ storage, deployment: 'iris', holder: 'b', ttlMs: 60_000, clock: clock.now });
    expect((await a.hold(1, null)).held).toBe(true);
    expect((await b.hold(1, null)).held).toBe(false);
    await a.release();
    expect(a.held).toBe(false);
    expect((await b.hold(1, null)).held).toBe(true);
    await storage.put('deployments/iris/lease.json', new TextEncoder().encode('{"specVersion":2}'));
    await expect(b.read()).rejects.toBeInstanceOf(IntegrityError);
    await expect(b.read()).rejects.toThrow(/lease 'deployments\/iris\/lease.json' is not a lease of deployment 'iris'/);
    expect(() => new DeploymentLease({ storage, deployment: 'iris', holder: 'a', ttlMs: 0 })).toThrow(/ttlMs must be a finite number >= 1/);
  });

  it('an analysis takes stored counters back (restoreCounters), refusing bad ones with a named error and no change', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [50, 100] });
    const analysis = canaryAnalysis(canary, { monitor: new DeploymentMonitor(), maxErrorRate: 0.05 });
    const counters = { runs: 3, successes: 2, consecutiveSuccesses: 1, failures: 1, inconclusives: 0, errors: 0, consecutiveErrors: 0 };
    analysis.restoreCounters(counters);
    expect(analysis.counters).toEqual(counters);
    expect(() => analysis.restoreCounters({ ...counters, failures: -1 })).toThrow(/counters.failures must be a non-negative integer, got number -1/);
    expect(() => analysis.restoreCounters(null as never)).toThrow(/counters.runs must be a non-negative integer/);
    expect(analysis.counters).toEqual(counters);
  });
});
