/**
 * Deployment-state saves under injected storage faults (FaultyStorage over DeploymentStore): a
 * transition either completes or throws a StorageError with its cause, the previous state stays
 * readable, the next transition succeeds, and the audit keeps exactly one record per revision,
 * none skipped, none doubled.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PreconditionFailedError, StorageError } from '../../src/errors.js';
import { DeploymentStore, FileSystemStorage, type StorageAdapter, type StoredDeployment, type TransitionInput } from '../../src/index.js';
import { FaultyStorage, seededRandom, type StorageFault } from '../../src/testing/index.js';
import { useFleetStores } from '../fleet/fleet-stores.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

// The fleet tests' stores (memory; PostgreSQL and Ceph RGW when set in the environment) and the file system.
const { stores } = useFleetStores('deployment-store-faults.test.ts');
const adapters: Array<[string, () => Promise<StorageAdapter>]> = [
  ...stores.filter((s) => !s.skip).map((s): [string, () => Promise<StorageAdapter>] => [s.kind, () => s.make()]),
  [
    'FileSystemStorage',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'mr-deploy-faults-'));
      dirs.push(dir);
      return new FileSystemStorage(dir);
    },
  ],
];

const NAME = 'iris';
let tick = 0;
const clock = () => Date.UTC(2026, 11, 1) + ++tick * 1000;
const step = (n: number, by = 'replica-1'): TransitionInput => ({ action: 'step', by, policy: { weight: n }, from: `w${n - 1}`, to: `w${n}`, numbers: { n } });

/** A transition as a replica makes one: on a StorageError or a lost race it re-reads and decides again. */
async function transitionAsReplica(store: DeploymentStore, input: (current: StoredDeployment) => TransitionInput, attempts = 20): Promise<StoredDeployment> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const current = await store.read(NAME);
      return await store.transition(NAME, current!, input(current!));
    } catch (err) {
      if (!(err instanceof StorageError) && !(err instanceof PreconditionFailedError)) throw err;
      if (err instanceof StorageError) expect(err.cause).toBeDefined();
      last = err;
    }
  }
  throw last;
}

/** The audit holds revisions 1..n exactly once each, each record holding the state it made, and the state is the last. */
async function expectConsistent(store: DeploymentStore): Promise<StoredDeployment> {
  const now = (await store.read(NAME))!;
  const audit = await store.audit(NAME);
  expect(audit.map((r) => r.revision)).toEqual(Array.from({ length: audit.length }, (_, i) => i + 1));
  for (const record of audit) expect(record.state.revision).toBe(record.revision);
  expect(now.state).toEqual(audit.at(-1)!.state);
  return now;
}

describe.each(adapters)('DeploymentStore under FaultyStorage (%s)', (_, make) => {
  const kinds: StorageFault[] = ['fail', 'lose-reply', 'torn'];
  // A healthy transition makes 2 calls (claim, publish); the failure paths read back and roll forward.
  const offsets = [1, 2, 3, 4, 5];

  it.each(kinds.flatMap((kind) => offsets.map((offset) => [kind, offset] as const)))(
    "a '%s' fault at call %i of a transition: it completes or throws StorageError; the previous state stays readable; the next transition succeeds; no revision skipped or doubled",
    async (kind, offset) => {
      const storage = new FaultyStorage(await make());
      const store = new DeploymentStore({ storage, clock });
      let current = await store.create(NAME, { action: 'start', by: 'replica-1', policy: { weight: 0 } });
      current = await store.transition(NAME, current, step(1));
      current = await store.transition(NAME, current, step(2));
      const previous = current.state;
      const base = storage.counts.calls;
      storage.configure({ decide: (call) => (call.index === base + offset ? kind : 'pass') });
      let completed: StoredDeployment | undefined;
      try {
        completed = await store.transition(NAME, current, step(3));
      } catch (err) {
        expect(err).toBeInstanceOf(StorageError);
        expect((err as Error).cause).toBeDefined();
      }
      storage.heal();
      const now = (await store.read(NAME))!;
      if (completed) {
        expect(now.state).toEqual(completed.state);
        expect(completed.state).toMatchObject({ revision: 4, policy: { weight: 3 } });
      } else {
        // Either still the previous state, or this very transition (it was claimed before the fault).
        expect([previous, { ...previous, revision: 4, policy: { weight: 3 } }]).toContainEqual(expect.objectContaining({ revision: now.state.revision, policy: now.state.policy }));
      }
      // The next transition of any replica succeeds (re-reading once if it raced a half-done one).
      const next = await transitionAsReplica(store, (c) => step((c.state.policy as { weight: number }).weight + 1, 'replica-2'), 3);
      const final = await expectConsistent(store);
      expect(final.state).toEqual(next.state);
      const audit = await store.audit(NAME);
      // The faulted step is recorded once at most; nothing else was doubled.
      expect(audit.filter((r) => r.numbers?.n === 3).length).toBeLessThanOrEqual(1);
      expect(new Set(audit.map((r) => JSON.stringify(r.state.policy))).size).toBe(audit.length);
    },
  );

  it('latency: two replicas racing 15 transitions each through delayed calls make one revision each, none doubled', async () => {
    const inner = await make();
    const random = seededRandom(3);
    const stores = [1, 2].map(() => new DeploymentStore({ storage: new FaultyStorage(inner, { delayMs: () => random() * 8 }), clock }));
    await stores[0]!.create(NAME, { action: 'start', by: 'replica-1', policy: { weight: 0, by: 'none' } });
    const made = await Promise.all(
      stores.map(async (store, i) => {
        const revisions: number[] = [];
        for (let n = 0; n < 15; n++) {
          const done = await transitionAsReplica(store, (c) => ({ action: 'step', by: `replica-${i + 1}`, policy: { weight: (c.state.policy as { weight: number }).weight + 1, by: `replica-${i + 1}` } }), 100);
          revisions.push(done.state.revision);
        }
        return revisions;
      }),
    );
    const all = made.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
    const final = await expectConsistent(stores[1]!);
    expect(final.state).toMatchObject({ revision: 31, policy: { weight: 30 } });
  });

  it('random faults (10 % fail, 10 % lost replies, 5 % torn puts) over 60 transitions: each made on the revision it replaced, once, state = last audit record', async () => {
    const random = seededRandom(17);
    const storage = new FaultyStorage(await make());
    const store = new DeploymentStore({ storage, clock });
    await store.create(NAME, { action: 'start', by: 'replica-1', policy: { weight: 0 } });
    storage.configure({
      decide: () => {
        const r = random();
        return r < 0.1 ? 'fail' : r < 0.2 ? 'lose-reply' : r < 0.25 ? 'torn' : 'pass';
      },
    });
    for (let n = 1; n <= 60; n++) await transitionAsReplica(store, (c) => step((c.state.policy as { weight: number }).weight + 1), 200);
    storage.heal();
    const final = await expectConsistent(store);
    // A StorageError leaves the outcome unknown (a claimed transition is completed by the next one),
    // so a replica that re-reads and decides again may find its step already made: more than 60
    // revisions, but each exactly one step past the revision it replaced, none lost or doubled.
    const audit = await store.audit(NAME);
    expect(audit.length).toBeGreaterThanOrEqual(61);
    audit.forEach((record, i) => expect(record.state.policy).toEqual({ weight: i }));
    expect(final.state.revision).toBe(audit.length);
    expect(storage.counts.failed + storage.counts.lostReplies + storage.counts.torn).toBeGreaterThan(30);
  });
});
