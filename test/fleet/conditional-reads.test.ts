import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import {
  CanaryDeployment,
  DeploymentFollower,
  DeploymentStore,
  isNotModified,
  type ConditionalRead,
  type PutCondition,
  type StorageAdapter,
} from '../../src/index.js';
import { PostgresStorage } from '../../src/storage/postgres/index.js';
import type { PgPoolLike, PgQueryResult } from '../../src/storage/postgres/index.js';
import { PG_URL, useFleetStores } from './fleet-stores.js';

const { stores, pool, cleanups } = useFleetStores('conditional-reads.test.ts');

const canary = () => new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: [5, 25, 50, 100] });

/** Forwards to a real adapter and counts the value bytes every read hands back. */
class Counting implements StorageAdapter, ConditionalRead {
  bytesRead = 0;
  notModified = 0;
  constructor(readonly inner: StorageAdapter & ConditionalRead) {}
  async get(key: string) {
    const got = await this.inner.get(key);
    this.bytesRead += got?.data.length ?? 0;
    return got;
  }
  async getIfChanged(key: string, etag: string) {
    const got = await this.inner.getIfChanged(key, etag);
    if (isNotModified(got)) this.notModified++;
    else this.bytesRead += got?.data.length ?? 0;
    return got;
  }
  put(key: string, data: Uint8Array, cond?: PutCondition) {
    return this.inner.put(key, data, cond);
  }
  delete(key: string, cond?: { ifMatch: string }) {
    return this.inner.delete(key, cond);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
}

describe.each(stores)('conditional re-reads on $kind', ({ skip, make }) => {
  it.skipIf(skip)('an unchanged poll of the follower transfers no body; a new revision is read and applied', async () => {
    const storage = new Counting((await make()) as StorageAdapter & ConditionalRead);
    const store = new DeploymentStore({ storage });
    const leader = canary();
    leader.start();
    let current = await store.create('iris', { action: 'start', by: 'r1', policy: leader.snapshot() });
    const live = canary();
    const follower = new DeploymentFollower({ store, name: 'iris', policy: live, intervalMs: 60_000 });
    await follower.start();
    follower.stop();
    expect(follower.revision).toBe(1);
    const afterFirst = storage.bytesRead;
    expect(afterFirst).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) await follower.refresh();
    expect(storage.bytesRead).toBe(afterFirst);
    expect(storage.notModified).toBe(5);
    leader.increase();
    current = await store.transition('iris', current, { action: 'step', by: 'r1', policy: leader.snapshot() });
    await follower.refresh();
    expect(follower.revision).toBe(2);
    expect(follower.held?.etag).toBe(current.etag);
    expect(live.snapshot()).toEqual(leader.snapshot());
    expect(storage.bytesRead).toBeGreaterThan(afterFirst);
    const afterSecond = storage.bytesRead;
    await follower.refresh();
    expect(storage.bytesRead).toBe(afterSecond);
    expect(storage.notModified).toBe(6);
  });

  it.skipIf(skip)('DeploymentStore.read with ifNoneMatch: not modified, the new state, or undefined once deleted', async () => {
    const storage = await make();
    const store = new DeploymentStore({ storage });
    const first = await store.create('iris', { action: 'start', by: 'r1', policy: canary().snapshot() });
    expect(await store.read('iris', { ifNoneMatch: first.etag })).toEqual({ notModified: true, etag: first.etag });
    const second = await store.transition('iris', first, { action: 'step', by: 'r1', policy: canary().snapshot() });
    expect(await store.read('iris', { ifNoneMatch: first.etag })).toEqual(second);
    await storage.delete('deployments/iris.json');
    expect(await store.read('iris', { ifNoneMatch: second.etag })).toBe(undefined);
    await expect(store.read('iris', { ifNoneMatch: '' })).rejects.toThrow(ValidationError);
    await expect(store.read('iris', { ifNoneMatch: '' })).rejects.toThrow(/ifNoneMatch must be a non-empty etag string, got string ""/);
  });
});

describe('conditional re-reads on PostgreSQL', () => {
  it.skipIf(!PG_URL)('an unchanged poll takes the not-modified path: the server returns the row without its bytea', async () => {
    const rows: Array<Record<string, unknown>> = [];
    const watched: PgPoolLike = {
      async query(text: string, values?: unknown[]): Promise<PgQueryResult> {
        const result = await pool!.query(text, values);
        if (/CASE WHEN etag <> \$2 THEN data END/.test(text)) rows.push(...result.rows);
        return result;
      },
      connect: () => pool!.connect(),
    };
    const storage = new PostgresStorage({ pool: watched, table: `mr_fleet_${randomBytes(6).toString('hex')}` });
    await storage.migrate();
    cleanups.push(() => storage.drop());
    const store = new DeploymentStore({ storage });
    const leader = canary();
    leader.start();
    const current = await store.create('iris', { action: 'start', by: 'r1', policy: leader.snapshot() });
    const follower = new DeploymentFollower({ store, name: 'iris', policy: canary(), intervalMs: 60_000 });
    await follower.start();
    follower.stop();
    await follower.refresh();
    await follower.refresh();
    expect(rows).toEqual([
      { etag: current.etag, data: null },
      { etag: current.etag, data: null },
    ]);
    leader.increase();
    await store.transition('iris', current, { action: 'step', by: 'r1', policy: leader.snapshot() });
    await follower.refresh();
    expect(follower.revision).toBe(2);
    expect(Buffer.isBuffer(rows[2]?.data) && (rows[2]!.data as Buffer).length > 0).toBe(true);
  });
});
