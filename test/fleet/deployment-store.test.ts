import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PreconditionFailedError, ValidationError } from '../../src/errors.js';
import { DeploymentFollower, DeploymentStore, type StoredDeployment, CanaryDeployment, MemoryStorage, type PutCondition, type StorageAdapter } from '../../src/index.js';
import { PostgresStorage } from '../../src/storage/postgres/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { PG_URL, useFleetStores } from './fleet-stores.js';

const { stores, pool, cleanups } = useFleetStores('deployment-store.test.ts');

const canary = () => new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: [5, 25, 50, 100] });

describe.each(stores)('DeploymentStore on $kind', ({ skip, make }) => {
  it.skipIf(skip)('three replicas racing 30 transitions: exactly one lands per revision, the audit holds 1..31 once each', async () => {
    const storage = await make();
    const replicas = ['r1', 'r2', 'r3'].map((by) => ({ by, store: new DeploymentStore({ storage }) }));
    await replicas[0]!.store.create('iris', { action: 'start', by: 'r1', policy: { n: 0 } });
    const landed: Array<{ by: string; revision: number }> = [];
    let lost = 0;
    await Promise.all(
      replicas.map(async ({ by, store }) => {
        for (;;) {
          const current = (await store.read('iris'))!;
          const n = (current.state.policy as { n: number }).n;
          if (n >= 30) return;
          try {
            const next = await store.transition('iris', current, { action: 'step', by, policy: { n: n + 1 }, from: String(n), to: String(n + 1), numbers: { n } });
            landed.push({ by, revision: next.state.revision });
          } catch (err) {
            if (!(err instanceof PreconditionFailedError)) throw err;
            lost++;
          }
        }
      }),
    );
    const audit = await replicas[1]!.store.audit('iris');
    expect(audit.map((r) => r.revision)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(audit.map((r) => r.to)).toEqual([null, ...Array.from({ length: 30 }, (_, i) => String(i + 1))]);
    expect(landed.map((l) => l.revision).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
    for (const l of landed) expect(audit[l.revision - 1]!.by).toBe(l.by);
    const final = (await replicas[2]!.store.read('iris'))!;
    expect(final.state).toMatchObject({ revision: 31, policy: { n: 30 } });
    expect(lost).toBeGreaterThanOrEqual(0);
  });
});

describe('DeploymentStore', () => {
  it('a transition from a stale read fails with PreconditionFailedError and changes nothing', async () => {
    const store = new DeploymentStore({ storage: new MemoryStorage(), clock: new FakeClock(1_000).now });
    const first = await store.create('iris', { action: 'start', by: 'ops', policy: { p: 5 } });
    expect(first.state).toEqual({ name: 'iris', revision: 1, policy: { p: 5 }, analysis: null, at: new Date(1_000).toISOString(), by: 'ops' });
    const second = await store.transition('iris', first, { action: 'step', by: 'r1', policy: { p: 25 }, reason: 'healthy' });
    await expect(store.transition('iris', first, { action: 'rollback', by: 'r2', policy: { p: 0 } })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await store.read('iris'))!.state).toEqual(second.state);
    expect((await store.audit('iris')).map((r) => [r.revision, r.action, r.by, r.reason])).toEqual([
      [1, 'start', 'ops', null],
      [2, 'step', 'r1', 'healthy'],
    ]);
    await expect(store.create('iris', { action: 'start', by: 'ops', policy: {} })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await store.audit('iris', { after: 1, limit: 5 })).map((r) => r.revision)).toEqual([2]);
  });

  it('a writer that died between claiming its revision and moving the state leaves nothing half done: the next attempt rolls it forward', async () => {
    const inner = new MemoryStorage();
    let dieBeforeState = false;
    const dying: StorageAdapter = {
      get: (k) => inner.get(k),
      list: (p) => inner.list(p),
      delete: (k, c) => inner.delete(k, c),
      async put(key: string, data: Uint8Array, cond?: PutCondition) {
        if (dieBeforeState && key === 'deployments/iris.json') throw new Error('process killed');
        return inner.put(key, data, cond);
      },
    };
    const crashed = new DeploymentStore({ storage: dying });
    const healthy = new DeploymentStore({ storage: inner });
    const first = await crashed.create('iris', { action: 'start', by: 'r1', policy: { p: 5 } });
    dieBeforeState = true;
    await expect(crashed.transition('iris', first, { action: 'rollback', by: 'r1', policy: { p: 0 } })).rejects.toThrow('process killed');
    const seen = (await healthy.read('iris'))!;
    expect(seen.state.revision).toBe(1);
    await expect(healthy.transition('iris', seen, { action: 'step', by: 'r2', policy: { p: 25 } })).rejects.toBeInstanceOf(PreconditionFailedError);
    const after = (await healthy.read('iris'))!;
    expect(after.state).toMatchObject({ revision: 2, policy: { p: 0 }, by: 'r1' });
    expect((await healthy.audit('iris')).map((r) => r.action)).toEqual(['start', 'rollback']);
  });

  it('checks its input, naming what is wrong', async () => {
    const store = new DeploymentStore({ storage: new MemoryStorage() });
    await expect(store.create('a/b', { action: 'start', by: 'x', policy: {} })).rejects.toThrow(/deployment name must be one storage key segment/);
    await expect(store.create('iris', { action: 'Start!', by: 'x', policy: {} })).rejects.toThrow(/action must match/);
    await expect(store.create('iris', { action: 'start', by: '', policy: {} })).rejects.toThrow(/by must name the replica or operator/);
    await expect(store.create('iris', { action: 'start', by: 'x', policy: {}, numbers: { p99: Number.NaN } })).rejects.toThrow(/numbers.p99 must be a finite number/);
    await expect(store.transition('iris', {} as StoredDeployment, { action: 'step', by: 'x', policy: {} })).rejects.toBeInstanceOf(ValidationError);
    expect(() => new DeploymentStore({} as never)).toThrow(/must have a storage adapter/);
  });
});

describe('DeploymentFollower', () => {
  it('applies a newer revision to the live policy with an event, on its jittered interval', async () => {
    const clock = new FakeClock(0);
    const storage = new MemoryStorage();
    const leader = canary();
    const store = new DeploymentStore({ storage });
    leader.start();
    let current = await store.create('iris', { action: 'start', by: 'r1', policy: leader.snapshot() });
    const live = canary();
    const follower = new DeploymentFollower({ store: new DeploymentStore({ storage }), name: 'iris', policy: live, intervalMs: 50, jitter: 0.2 });
    const applied: number[] = [];
    follower.on('applied', (e) => applied.push(e.revision));
    await follower.start();
    expect(live.snapshot()).toEqual(leader.snapshot());
    leader.increase();
    current = await store.transition('iris', current, { action: 'step', by: 'r1', policy: leader.snapshot() });
    leader.rollback('bad');
    await store.transition('iris', current, { action: 'rollback', by: 'r1', policy: leader.snapshot() });
    const deadline = Date.now() + 2_000;
    while (follower.revision < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    follower.stop();
    expect(follower.revision).toBe(3);
    expect(applied[0]).toBe(1);
    expect(applied.at(-1)).toBe(3);
    expect(live.snapshot()).toEqual(leader.snapshot());
    // Same unit ids, same routing on the follower as on the leader.
    for (let i = 0; i < 200; i++) expect(live.route({ unitId: `u${i}` })).toEqual(leader.route({ unitId: `u${i}` }));
    expect(clock.now()).toBe(0);
  });

  it.skipIf(!PG_URL)('follows at once on a PostgreSQL NOTIFY hint, long before its poll interval', async () => {
    const storage = new PostgresStorage({ pool: pool!, table: `mr_fleet_${randomBytes(6).toString('hex')}` });
    await storage.migrate();
    cleanups.push(() => storage.drop());
    const feed = await storage.watch({ prefix: 'deployments/' });
    const store = new DeploymentStore({ storage });
    const leader = canary();
    leader.start();
    const first = await store.create('iris', { action: 'start', by: 'r1', policy: leader.snapshot() });
    const live = canary();
    const follower = new DeploymentFollower({ store, name: 'iris', policy: live, intervalMs: 60_000, hints: feed });
    try {
      await follower.start();
      leader.increase();
      const started = performance.now();
      const applied = new Promise<void>((resolve) => follower.once('applied', () => resolve()));
      await store.transition('iris', first, { action: 'step', by: 'r1', policy: leader.snapshot() });
      await applied;
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(live.snapshot()).toEqual(leader.snapshot());
    } finally {
      follower.stop();
      await feed.close();
    }
  });
});
