import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DeploymentStore, PreconditionFailedError, StorageError, type StorageAdapter, type StoredDeployment } from '../../src/index.js';
import { PostgresStorage } from '../../src/storage/postgres/index.js';
import { S3Storage } from '../../src/storage/s3/index.js';
import { startCuttableProxy } from '../storage/cuttable-proxy.js';
import { makeS3Client, removeAllObjects } from '../storage/s3-env.js';
import { PG_URL, S3_ENDPOINT } from './fleet-stores.js';

if (!PG_URL) console.warn('store-faults.test.ts: MODEL_ROLLOUT_TEST_PG_URL is not set; skipping the PostgreSQL runs');
if (!S3_ENDPOINT) console.warn('store-faults.test.ts: MODEL_ROLLOUT_TEST_S3_ENDPOINT is not set; skipping the S3 runs');

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Two revisions stored, the third to be saved while the fault strikes. */
async function twoRevisions(store: DeploymentStore): Promise<StoredDeployment> {
  const first = await store.create('iris', { action: 'start', by: 'r1', policy: { percentage: 10 } });
  return store.transition('iris', first, { action: 'step', by: 'r1', policy: { percentage: 50 } });
}

/** The audit holds each revision once, in order, and the state the last one made. */
async function expectConsistent(store: DeploymentStore, revisions: number, percentage: number): Promise<void> {
  const audit = await store.audit('iris');
  expect(audit.map((r) => r.revision)).toEqual(Array.from({ length: revisions }, (_, i) => i + 1));
  const current = (await store.read('iris'))!;
  expect(current.state).toMatchObject({ revision: revisions, policy: { percentage } });
  expect(audit.at(-1)!.state).toEqual(current.state);
}

describe.skipIf(!PG_URL)('DeploymentStore saves on PostgreSQL with the backend terminated mid-save (pg_terminate_backend)', () => {
  const admin = PG_URL ? new pg.Pool({ connectionString: PG_URL, max: 4 }) : undefined;
  admin?.on('error', () => undefined);
  if (admin) cleanups.push(() => admin.end());

  /** A store whose one connection's backend we can kill, and a blocker holding `key`'s row so the save waits in flight. */
  async function setUp() {
    const app = `mr-fleet-kill-${randomBytes(4).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2, application_name: app });
    pool.on('error', () => undefined);
    const table = `mr_fleet_${randomBytes(6).toString('hex')}`;
    const storage = new PostgresStorage({ pool, table });
    await storage.migrate();
    cleanups.push(async () => {
      await storage.drop();
      await pool.end();
    });
    const store = new DeploymentStore({ storage });
    /**
     * Starts `save` while another session holds `lock` (SQL run in an open transaction) so the
     * save waits on it in flight, terminates the save's backend, lets the lock go, and returns
     * what the save threw.
     */
    const killDuring = async (lock: { sql: string; params: unknown[] }, save: () => Promise<unknown>): Promise<unknown> => {
      const blocker = await admin!.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query(lock.sql, lock.params);
        const saving = save().catch((e: unknown) => e);
        await until(async () => {
          const { rows } = await admin!.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [app],
          );
          return rows.length > 0;
        }, 'the save to wait on the row lock');
        await blocker.query('ROLLBACK');
        return await saving;
      } finally {
        blocker.release();
      }
    };
    return { table, store, killDuring };
  }

  it('killed while claiming its revision: StorageError with the cause, the previous state intact and readable, the next save succeeds, nothing duplicated', async () => {
    const { table, store, killDuring } = await setUp();
    const current = await twoRevisions(store);
    // An uncommitted insert of the audit key the save will claim: its INSERT … ON CONFLICT waits.
    const err = await killDuring(
      { sql: `INSERT INTO "${table}" (key, data, etag) VALUES ($1, $2, 'blocker')`, params: ['deployments/iris/audit/000000000003.json', Buffer.from('x')] },
      () => store.transition('iris', current, { action: 'rollback', by: 'r1', policy: { percentage: 0 } }),
    );
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).cause).toBeInstanceOf(Error);
    await expectConsistent(store, 2, 50);
    const next = await store.transition('iris', (await store.read('iris'))!, { action: 'rollback', by: 'r1', policy: { percentage: 0 } });
    expect(next.state.revision).toBe(3);
    await expectConsistent(store, 3, 0);
  });

  it('killed while moving the state after its claim: StorageError with the cause, the previous state still what readers see, settle() finishes the claimed transition once, the next save succeeds', async () => {
    const { table, store, killDuring } = await setUp();
    const current = await twoRevisions(store);
    // The state document's row locked: the claim lands, the state write waits.
    const err = await killDuring(
      { sql: `SELECT 1 FROM "${table}" WHERE key = $1 FOR UPDATE`, params: ['deployments/iris.json'] },
      () => store.transition('iris', current, { action: 'rollback', by: 'r1', policy: { percentage: 0 } }),
    );
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).cause).toBeInstanceOf(Error);
    expect((await store.read('iris'))!.state).toMatchObject({ revision: 2, policy: { percentage: 50 } });
    // The claim landed: the transition happened once, and settling publishes it.
    const settled = (await store.settle('iris'))!;
    expect(settled.state).toMatchObject({ revision: 3, policy: { percentage: 0 }, by: 'r1' });
    await expect(store.transition('iris', current, { action: 'rollback', by: 'r2', policy: { percentage: 0 } })).rejects.toBeInstanceOf(PreconditionFailedError);
    const next = await store.transition('iris', settled, { action: 'start', by: 'r1', policy: { percentage: 10 } });
    expect(next.state.revision).toBe(4);
    await expectConsistent(store, 4, 10);
  });
});

describe.skipIf(!S3_ENDPOINT)('DeploymentStore saves on Ceph RGW with the gateway cut mid-upload (a TCP proxy, the shared gateway untouched)', () => {
  const direct = S3_ENDPOINT ? makeS3Client() : undefined;
  const bucket = `mr-fleet-${randomBytes(4).toString('hex')}`;
  let made: Promise<unknown> | undefined;

  async function setUp() {
    made ??= direct!.send(new CreateBucketCommand({ Bucket: bucket })).then(() =>
      cleanups.push(async () => {
        await removeAllObjects(direct!, bucket);
        await direct!.send(new DeleteBucketCommand({ Bucket: bucket }));
        direct!.destroy();
      }),
    );
    await made;
    const proxy = await startCuttableProxy(new URL(S3_ENDPOINT!));
    const viaProxy = makeS3Client(proxy.endpoint);
    cleanups.push(async () => {
      viaProxy.destroy();
      await proxy.close();
    });
    const prefix = `t-${randomBytes(6).toString('hex')}/`;
    const storage: StorageAdapter = new S3Storage({ client: viaProxy, bucket, prefix });
    return { proxy, store: new DeploymentStore({ storage }), reader: new DeploymentStore({ storage: new S3Storage({ client: direct!, bucket, prefix }) }) };
  }

  it('cut while claiming its revision: StorageError with the cause, the previous state intact and readable, the next save succeeds, nothing duplicated', async () => {
    const { proxy, store, reader } = await setUp();
    const current = await twoRevisions(store);
    const cut = proxy.cutOnPut('deployments/iris/audit/000000000003.json');
    const err = await store.transition('iris', current, { action: 'rollback', by: 'r1', policy: { percentage: 0 } }).catch((e: unknown) => e);
    await cut;
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).cause).toBeInstanceOf(Error);
    await expectConsistent(reader, 2, 50);
    proxy.heal();
    const next = await store.transition('iris', (await store.read('iris'))!, { action: 'rollback', by: 'r1', policy: { percentage: 0 } });
    expect(next.state.revision).toBe(3);
    await expectConsistent(reader, 3, 0);
  });

  it('cut while moving the state after its claim: StorageError with the cause, readers still see the previous state, settle() finishes the claimed transition once, the next save succeeds', async () => {
    const { proxy, store, reader } = await setUp();
    const current = await twoRevisions(store);
    const cut = proxy.cutOnPut('deployments/iris.json');
    const err = await store.transition('iris', current, { action: 'rollback', by: 'r1', policy: { percentage: 0 } }).catch((e: unknown) => e);
    await cut;
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).cause).toBeInstanceOf(Error);
    expect((await reader.read('iris'))!.state).toMatchObject({ revision: 2, policy: { percentage: 50 } });
    proxy.heal();
    const settled = (await store.settle('iris'))!;
    expect(settled.state).toMatchObject({ revision: 3, policy: { percentage: 0 } });
    const next = await store.transition('iris', settled, { action: 'start', by: 'r1', policy: { percentage: 10 } });
    expect(next.state.revision).toBe(4);
    await expectConsistent(reader, 4, 10);
  });
});
