import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PreconditionFailedError, StorageError, ValidationError } from '../../src/errors.js';
import { ModelRegistry } from '../../src/index.js';
import { PostgresStorage, type PgPoolLike, type StorageChangeEvent } from '../../src/storage/postgres/index.js';
import { testStorageAdapter } from '../../src/testing/index.js';

const PG_URL = process.env.MODEL_ROLLOUT_TEST_PG_URL;
if (!PG_URL) console.warn('postgres-storage.test.ts: MODEL_ROLLOUT_TEST_PG_URL is not set; skipping the PostgreSQL tests (.ci/run sets it)');

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (d: Uint8Array | undefined) => d && new TextDecoder().decode(d);
const uniqueTable = () => `mr_test_${randomBytes(6).toString('hex')}`;
const nextTick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await nextTick(20);
  }
}

describe.skipIf(!PG_URL)('PostgresStorage on a real PostgreSQL', () => {
  const pools: pg.Pool[] = [];
  const makePool = (applicationName = 'model-rollout-test', max = 60) => {
    const pool = new pg.Pool({ connectionString: PG_URL, max, application_name: applicationName });
    pool.on('error', () => undefined);
    pools.push(pool);
    return pool;
  };
  const pool = makePool();
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
  });
  async function fresh(options: { notify?: boolean; pool?: pg.Pool } = {}): Promise<PostgresStorage> {
    const storage = new PostgresStorage({ pool: options.pool ?? pool, table: uniqueTable(), notify: options.notify });
    await storage.migrate();
    return storage;
  }
  /** Terminates the server backends of the connections opened under `applicationName`. */
  async function killBackends(applicationName: string, activeOnly = false): Promise<number> {
    const { rows } = await pool.query(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1 ${activeOnly ? "AND state = 'active'" : ''}`,
      [applicationName],
    );
    return rows.length;
  }

  testStorageAdapter('PostgresStorage', () => fresh(), { it, expect, dispose: (s) => s.drop() });
  testStorageAdapter('PostgresStorage (notify off)', () => fresh({ notify: false }), {
    it,
    expect,
    dispose: (s) => s.drop(),
    groups: { largeValues: false, paging: false, validation: false, listing: false, basics: false },
    skip: it.skip,
  });

  it('migrate is idempotent and safe when replicas run it at once; the key column is byte-ordered', async () => {
    const table = uniqueTable();
    const replicas = Array.from({ length: 4 }, () => new PostgresStorage({ pool, table }));
    try {
      await Promise.all(replicas.map((r) => r.migrate()));
      await replicas[0]!.migrate();
      const { rows } = await pool.query(`SELECT collation_name FROM information_schema.columns WHERE table_name = $1 AND column_name = 'key'`, [table]);
      expect(rows).toEqual([{ collation_name: 'C' }]);
      await replicas[0]!.put('Z', bytes('z'));
      await replicas[1]!.put('a', bytes('a'));
      expect(await replicas[2]!.list('')).toEqual(['Z', 'a']);
    } finally {
      await replicas[0]!.drop();
    }
  });

  it('migrate refuses an existing table whose key is not COLLATE "C", and changes nothing', async () => {
    const table = uniqueTable();
    await pool.query(`CREATE TABLE "${table}" (key text COLLATE "en_US" PRIMARY KEY, data bytea NOT NULL, etag text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`).catch(
      async () => pool.query(`CREATE TABLE "${table}" (key text COLLATE "POSIX" PRIMARY KEY, data bytea NOT NULL, etag text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`),
    );
    const storage = new PostgresStorage({ pool, table });
    try {
      await expect(storage.migrate()).rejects.toThrow(/key column is not text COLLATE "C"/);
      await expect(storage.migrate()).rejects.toBeInstanceOf(StorageError);
    } finally {
      await storage.drop();
    }
  });

  it('checks its options up front, naming the bad one', () => {
    expect(() => new PostgresStorage({ pool: {} as PgPoolLike })).toThrow(/pool must be a pg Pool/);
    expect(() => new PostgresStorage({ pool, table: 'no-dashes' })).toThrow(/table must be 1 to 63 of \[A-Za-z0-9_\].*got string "no-dashes"/);
    expect(() => new PostgresStorage({ pool, table: 'x'.repeat(64) })).toThrow(ValidationError);
    expect(() => new PostgresStorage({ pool, notify: 'yes' as never })).toThrow(/notify must be a boolean/);
  });

  it('a missing table is a StorageError with the server error as cause', async () => {
    const storage = new PostgresStorage({ pool, table: uniqueTable() });
    const err = await storage.get('k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).cause).toMatchObject({ code: '42P01' });
    await expect(storage.put('k', bytes('x'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(StorageError);
  });

  it('pg_terminate_backend during a save: StorageError with the cause, the previous value intact and readable, the next save succeeds', async () => {
    const app = `mr-kill-${randomBytes(4).toString('hex')}`;
    const victimPool = makePool(app, 2);
    const storage = await fresh({ pool: victimPool });
    try {
      const before = await storage.put('deployments/iris.json', bytes('revision 1'));
      // A large value keeps the statement running long enough to be killed in flight.
      const big = randomBytes(48 * 1024 * 1024);
      const saving = storage.put('deployments/iris.json', big, { ifMatch: before.etag });
      await until(async () => (await killBackends(app, true)) > 0, 'the save to be in flight');
      const err = await saving.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).cause).toBeInstanceOf(Error);
      expect(await storage.get('deployments/iris.json')).toEqual({ data: bytes('revision 1'), etag: before.etag });
      const next = await storage.put('deployments/iris.json', bytes('revision 2'), { ifMatch: before.etag });
      expect(text((await storage.get('deployments/iris.json'))?.data)).toBe('revision 2');
      await expect(storage.put('deployments/iris.json', bytes('again'), { ifMatch: before.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(next.etag).not.toBe(before.etag);
    } finally {
      await storage.drop();
    }
  });

  it('a write whose reply is lost after COMMIT is settled by reading back its own etag', async () => {
    const storage0 = await fresh();
    let dropReply = true;
    // The statement really runs on the server; only its answer is replaced by a dead connection's error.
    const lossy: PgPoolLike = {
      connect: () => pool.connect(),
      async query(textSql: string, values?: unknown[]) {
        const result = await pool.query(textSql, values);
        if (dropReply && /^(WITH w AS \()?(INSERT|UPDATE)/.test(textSql)) {
          dropReply = false;
          throw new Error('Connection terminated unexpectedly');
        }
        return result;
      },
    };
    const storage = new PostgresStorage({ pool: lossy, table: storage0.table });
    try {
      const created = await storage.put('k', bytes('v1'), { ifNoneMatch: '*' });
      expect(await storage.get('k')).toEqual({ data: bytes('v1'), etag: created.etag });
      dropReply = true;
      const swapped = await storage.put('k', bytes('v2'), { ifMatch: created.etag });
      expect(await storage.get('k')).toEqual({ data: bytes('v2'), etag: swapped.etag });
    } finally {
      await storage0.drop();
    }
  });

  it('the change feed reports committed writes and deletes under its prefix, in order', async () => {
    const storage = await fresh();
    const feed = await storage.watch({ prefix: 'deployments/' });
    const seen: StorageChangeEvent[] = [];
    feed.on('change', (e) => seen.push(e));
    try {
      const a = await storage.put('deployments/a.json', bytes('1'));
      await storage.put('models/ignored.json', bytes('x'));
      const b = await storage.put('deployments/a.json', bytes('2'), { ifMatch: a.etag });
      await expect(storage.put('deployments/a.json', bytes('3'), { ifMatch: a.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      await storage.delete('deployments/a.json', { ifMatch: b.etag });
      await until(() => seen.length >= 3, 'three changes');
      await nextTick(100);
      expect(seen).toEqual([
        { key: 'deployments/a.json', etag: a.etag },
        { key: 'deployments/a.json', etag: b.etag },
        { key: 'deployments/a.json', etag: null },
      ]);
      expect(feed.connected).toBe(true);
    } finally {
      await feed.close();
      await storage.drop();
    }
  });

  it('the change feed re-listens after its connection is killed and asks for a resync', async () => {
    const app = `mr-feed-${randomBytes(4).toString('hex')}`;
    const feedPool = makePool(app, 2);
    const storage = await fresh();
    const feedStorage = new PostgresStorage({ pool: feedPool, table: storage.table });
    const feed = await feedStorage.watch({ healthCheckMs: 200, reconnectDelayMs: 20 });
    const events: string[] = [];
    feed.on('change', (e) => events.push(`change ${e.key}`));
    feed.on('disconnected', () => events.push('disconnected'));
    feed.on('resync', () => events.push('resync'));
    try {
      await storage.put('k1', bytes('1'));
      await until(() => events.includes('change k1'), 'the first change');
      expect(await killBackends(app)).toBe(1);
      await until(() => events.includes('resync'), 'the resync');
      expect(events.indexOf('disconnected')).toBeLessThan(events.indexOf('resync'));
      await storage.put('k2', bytes('2'));
      await until(() => events.includes('change k2'), 'a change after the reconnect');
      expect(feed.connected).toBe(true);
    } finally {
      await feed.close();
      await storage.drop();
    }
    expect(feed.connected).toBe(false);
  });

  it('a ModelRegistry runs on it with the host’s pg Pool, which fits the structural type without a cast', async () => {
    const hostPool: PgPoolLike = pool;
    const storage = new PostgresStorage({ pool: hostPool, table: uniqueTable() });
    await storage.migrate();
    try {
      const registry = new ModelRegistry({ storage });
      const v = await registry.register('model', new Uint8Array([1, 2, 3]), { format: 'bin' });
      expect(v.version).toBe(1);
      expect(Array.from(await registry.loadArtifact('model', 1))).toEqual([1, 2, 3]);
    } finally {
      await storage.drop();
    }
  });
});
