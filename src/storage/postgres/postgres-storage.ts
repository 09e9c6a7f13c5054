import { randomBytes } from 'node:crypto';
import { PreconditionFailedError, StorageError, ValidationError, describeValue } from '../../errors.js';
import { checkStorageData, checkStorageKey, checkStoragePrefix, conditionKind } from '../keys.js';
import type { ConditionalRead, DeleteCondition, NotModified, PutCondition, StorageAdapter, StorageGuarantees, StoredObject } from '../storage-adapter.js';
import { PostgresChangeFeed, type PostgresChangeFeedOptions } from './postgres-change-feed.js';
import type { PgPoolClientLike, PgPoolLike, PgQueryResult } from './pg-types.js';

/** Options of {@link PostgresStorage}. */
export interface PostgresStorageOptions {
  /** The host's `pg` Pool (typed structurally; this package does not import `pg`). */
  pool: PgPoolLike;
  /** Table holding every key (default `model_rollout_objects`): letters, digits and `_`, at most 63. */
  table?: string;
  /**
   * Send a `NOTIFY` on channel {@link PostgresStorage.channel} with every write and delete, in the
   * same statement, so it arrives exactly when the change commits (default true). Only a hint for
   * {@link PostgresStorage.watch}; turn it off when nothing watches.
   */
  notify?: boolean;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const ETAG_BYTES = 16;

/** SQLSTATE classes that mean the statement was refused, so nothing was written. */
function isDefiniteRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|42|53|54|0A)/.test(code);
}

/** The smallest string greater than every string starting with `prefix` (keys are ASCII). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * A {@link StorageAdapter} on one PostgreSQL table, for a fleet of replicas sharing a database.
 *
 * - Create-once is `INSERT … ON CONFLICT DO NOTHING`, compare-and-swap is `UPDATE/DELETE … WHERE
 *   key = $1 AND etag = $2`: each one statement, atomic for every process on every host.
 * - Etags are made here, not by the server (16 random bytes), so a write whose `COMMIT` outcome is
 *   unknown (the connection died mid-statement) is settled by reading the key back: our etag there
 *   means it landed; anything else means it did not, and the caller gets a `StorageError` with the
 *   connection's error as `cause`, the previous value intact.
 * - The key column is `text COLLATE "C"`, so `list` is byte-ordered like S3 and uses the primary key.
 * - Every write notifies channel {@link PostgresStorage.channel}; {@link PostgresStorage.watch}
 *   turns that into a change feed (a hint, never the source of truth).
 *
 * Call {@link PostgresStorage.migrate} once (it is idempotent and safe to run from every replica).
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PostgresStorage } from 'model-rollout/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * pool.on('error', (err) => log.warn(err)); // idle clients can fail; pg needs a listener
 * const storage = new PostgresStorage({ pool });
 * await storage.migrate();
 * const registry = new ModelRegistry({ storage });
 * ```
 */
export class PostgresStorage implements StorageAdapter, ConditionalRead {
  /** Conditional writes atomic fleet-wide; conditional delete native; LISTEN/NOTIFY change feed. */
  readonly guarantees: StorageGuarantees = { scope: 'fleet', conditionalDelete: 'native', changeFeed: true };
  /** The table's name. */
  readonly table: string;
  /** The `LISTEN`/`NOTIFY` channel of this table's changes (the table's name). */
  readonly channel: string;
  readonly #pool: PgPoolLike;
  readonly #notify: boolean;
  readonly #sql: ReturnType<typeof statements>;

  constructor(options: PostgresStorageOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ValidationError(`PostgresStorage options must be an object with a pool, got ${describeValue(options)}`);
    }
    const { pool, table = 'model_rollout_objects', notify = true } = options;
    if (typeof pool !== 'object' || pool === null || typeof pool.query !== 'function' || typeof pool.connect !== 'function') {
      throw new ValidationError(`PostgresStorage pool must be a pg Pool (with query and connect), got ${describeValue(pool)}`);
    }
    if (typeof table !== 'string' || !IDENTIFIER.test(table)) {
      throw new ValidationError(`PostgresStorage table must be 1 to 63 of [A-Za-z0-9_], not starting with a digit, got ${describeValue(table)}`);
    }
    if (typeof notify !== 'boolean') throw new ValidationError(`PostgresStorage notify must be a boolean, got ${describeValue(notify)}`);
    this.#pool = pool;
    this.table = table;
    this.channel = table.toLowerCase();
    this.#notify = notify;
    this.#sql = statements(`"${table}"`, notify);
  }

  /**
   * Creates the table if it is missing (and checks an existing one has a byte-ordered key), in one
   * transaction on one checked-out client under an advisory lock, so replicas starting together
   * do not race on `CREATE TABLE`.
   */
  async migrate(): Promise<void> {
    await this.#transaction('migrate', async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`model-rollout:${this.table}`]);
      await client.query(
        `CREATE TABLE IF NOT EXISTS "${this.table}" (
          key text COLLATE "C" PRIMARY KEY,
          data bytea NOT NULL,
          etag text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        )`,
      );
      const { rows } = await client.query(
        `SELECT collation_name FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'key'`,
        [this.table],
      );
      if (rows[0]?.collation_name !== 'C') {
        throw new StorageError(
          `PostgresStorage table "${this.table}" exists but its key column is not text COLLATE "C" (got collation ${describeValue(rows[0]?.collation_name ?? null)}); listing would not be byte-ordered`,
        );
      }
    });
  }

  /** Drops the table and everything in it. For tests and tear-down. */
  async drop(): Promise<void> {
    await this.#query('drop the table', `DROP TABLE IF EXISTS "${this.table}"`, []);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    checkStorageKey(key);
    const { rows } = await this.#query(`read key '${key}'`, this.#sql.get, [key]);
    const row = rows[0];
    if (!row) return undefined;
    const data = row.data as Buffer;
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), etag: row.etag as string };
  }

  /** One statement that returns the row's `data` only when its etag differs: no bytea leaves the server when unchanged. */
  async getIfChanged(key: string, etag: string): Promise<StoredObject | NotModified | undefined> {
    checkStorageKey(key);
    const { rows } = await this.#query(`read key '${key}' unless its etag is '${etag}'`, this.#sql.getIfChanged, [key, etag]);
    const row = rows[0];
    if (!row) return undefined;
    if (row.etag === etag) return { notModified: true, etag };
    const data = row.data as Buffer;
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), etag: row.etag as string };
  }

  async put(key: string, data: Uint8Array, cond?: PutCondition): Promise<{ etag: string }> {
    checkStorageKey(key);
    checkStorageData(data);
    const kind = conditionKind(cond, true);
    const etag = randomBytes(ETAG_BYTES).toString('hex');
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const note = this.#payload(key, etag);
    let result: PgQueryResult;
    try {
      if (kind === 'none') result = await this.#pool.query(this.#sql.upsert, [key, bytes, etag, ...note]);
      else if (kind === 'ifNoneMatch') result = await this.#pool.query(this.#sql.create, [key, bytes, etag, ...note]);
      else result = await this.#pool.query(this.#sql.swap, [key, bytes, etag, ...note, (cond as { ifMatch: string }).ifMatch]);
    } catch (err) {
      return this.#settle(key, etag, err);
    }
    if (result.rowCount === 1) return { etag };
    if (kind === 'ifNoneMatch') throw new PreconditionFailedError(`storage key '${key}' already exists (ifNoneMatch: '*')`);
    throw await this.#mismatch(key, (cond as { ifMatch: string }).ifMatch);
  }

  async delete(key: string, cond?: DeleteCondition): Promise<void> {
    checkStorageKey(key);
    const kind = conditionKind(cond, false);
    const note = this.#payload(key, null);
    if (kind === 'none') {
      await this.#query(`delete key '${key}'`, this.#sql.delete, [key, ...note]);
      return;
    }
    const result = await this.#query(`delete key '${key}'`, this.#sql.deleteIf, [key, ...note, cond!.ifMatch]);
    if (result.rowCount !== 1) throw await this.#mismatch(key, cond!.ifMatch);
  }

  async list(prefix: string): Promise<string[]> {
    checkStoragePrefix(prefix);
    const { rows } =
      prefix === ''
        ? await this.#query('list keys', this.#sql.listAll, [])
        : await this.#query(`list prefix '${prefix}'`, this.#sql.list, [prefix, prefixEnd(prefix)]);
    return rows.map((row) => row.key as string);
  }

  /**
   * Starts a change feed of this table on its own connection: `change` for every committed write
   * and delete, `resync` after a reconnect (changes made while disconnected are lost, so re-read
   * what you follow). Needs `notify` on (the default). Close it with `close()`.
   */
  async watch(options: Omit<PostgresChangeFeedOptions, 'pool' | 'channel'> = {}): Promise<PostgresChangeFeed> {
    if (!this.#notify) throw new ValidationError('PostgresStorage.watch needs notify: true (this storage was made with notify: false)');
    return PostgresChangeFeed.create({ ...options, pool: this.#pool, channel: this.channel });
  }

  #payload(key: string, etag: string | null): unknown[] {
    return this.#notify ? [this.channel, JSON.stringify({ key, etag })] : [];
  }

  /** A write failed without a clear answer: our etag in the row means it committed anyway. */
  async #settle(key: string, etag: string, err: unknown): Promise<{ etag: string }> {
    if (isDefiniteRefusal(err)) throw new StorageError(`PostgresStorage could not write key '${key}': ${(err as Error).message}`, { cause: err });
    let current: string | undefined;
    try {
      const { rows } = await this.#pool.query(this.#sql.etag, [key]);
      current = rows[0]?.etag as string | undefined;
    } catch {
      throw new StorageError(
        `PostgresStorage lost the connection writing key '${key}' and could not read it back, so whether the write landed is unknown: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (current === etag) return { etag };
    throw new StorageError(`PostgresStorage could not write key '${key}' (the write did not land; the stored value is unchanged): ${(err as Error).message}`, {
      cause: err,
    });
  }

  async #mismatch(key: string, expected: string): Promise<PreconditionFailedError> {
    const { rows } = await this.#query(`read key '${key}'`, this.#sql.etag, [key]);
    const current = rows[0]?.etag as string | undefined;
    return current === undefined
      ? new PreconditionFailedError(`storage key '${key}' does not exist (ifMatch: '${expected}')`)
      : new PreconditionFailedError(`storage key '${key}' has etag '${current}', expected '${expected}' (ifMatch)`);
  }

  async #query(action: string, text: string, values: unknown[]): Promise<PgQueryResult> {
    try {
      return await this.#pool.query(text, values);
    } catch (err) {
      throw new StorageError(`PostgresStorage could not ${action}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Runs `body` in a transaction on one checked-out client; a broken client is released with its error. */
  async #transaction(action: string, body: (client: PgPoolClientLike) => Promise<void>): Promise<void> {
    let client: PgPoolClientLike;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw new StorageError(`PostgresStorage could not ${action}: no connection: ${(err as Error).message}`, { cause: err });
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await body(client);
      await client.query('COMMIT');
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error;
      }
      if (err instanceof StorageError) throw err;
      throw new StorageError(`PostgresStorage could not ${action}: ${(err as Error).message}`, { cause: err });
    } finally {
      client.release(broken);
    }
  }
}

/** The statements of one table; with `notify`, each write also notifies, in the same statement. */
function statements(table: string, notify: boolean) {
  const notified = (write: string) => (notify ? `WITH w AS (${write} RETURNING 1) SELECT pg_notify($4, $5) FROM w` : write);
  // Without notify the condition's etag is $4, with it $6 ($4 and $5 are channel and payload).
  const swapArg = notify ? '$6' : '$4';
  const deleted = (where: string) => (notify ? `WITH w AS (DELETE FROM ${table} WHERE ${where} RETURNING 1) SELECT pg_notify($2, $3) FROM w` : `DELETE FROM ${table} WHERE ${where}`);
  return {
    get: `SELECT data, etag FROM ${table} WHERE key = $1`,
    getIfChanged: `SELECT etag, CASE WHEN etag <> $2 THEN data END AS data FROM ${table} WHERE key = $1`,
    etag: `SELECT etag FROM ${table} WHERE key = $1`,
    upsert: notified(
      `INSERT INTO ${table} (key, data, etag) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, etag = EXCLUDED.etag, updated_at = now()`,
    ),
    create: notified(`INSERT INTO ${table} (key, data, etag) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING`),
    swap: notified(`UPDATE ${table} SET data = $2, etag = $3, updated_at = now() WHERE key = $1 AND etag = ${swapArg}`),
    delete: deleted('key = $1'),
    deleteIf: deleted(`key = $1 AND etag = ${notify ? '$4' : '$2'}`),
    listAll: `SELECT key FROM ${table} ORDER BY key`,
    list: `SELECT key FROM ${table} WHERE key >= $1 AND key < $2 ORDER BY key`,
  };
}
