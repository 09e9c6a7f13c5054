import { EventEmitter } from 'eventemitter3';
import { ValidationError, describeValue } from '../../errors.js';
import { checkNumber } from '../../options.js';
import type { PgNotification, PgPoolClientLike, PgPoolLike } from './pg-types.js';

/** Options of {@link PostgresChangeFeed}. */
export interface PostgresChangeFeedOptions {
  /** The pool to take the feed's dedicated connection from (held until `close()`). */
  pool: PgPoolLike;
  /** The channel to `LISTEN` on ({@link PostgresStorage.channel}). */
  channel: string;
  /** Only changes of keys starting with this are emitted (default: every key). */
  prefix?: string;
  /** How often (ms) the connection is checked with `SELECT 1` (default 10 000); a dead one is replaced. */
  healthCheckMs?: number;
  /** A health check slower than this (ms) counts as a dead connection (default 5 000). */
  healthCheckTimeoutMs?: number;
  /** First delay (ms) before reconnecting, doubled per failure up to 30 s (default 100). */
  reconnectDelayMs?: number;
}

/** A committed change: `etag` is the new etag, `null` when the key was deleted. */
export interface StorageChangeEvent {
  key: string;
  etag: string | null;
}

/** Events of {@link PostgresChangeFeed}. */
export interface PostgresChangeFeedEvents {
  /** A write or delete committed. */
  change: (event: StorageChangeEvent) => void;
  /**
   * The feed (re)connected after losing its connection: notifications sent meanwhile are lost,
   * so re-read whatever you follow.
   */
  resync: (event: { reason: string }) => void;
  /** The connection failed; the feed is reconnecting (it keeps trying until closed). */
  disconnected: (event: { error: Error }) => void;
}

/**
 * A change feed of one {@link PostgresStorage} table through `LISTEN`/`NOTIFY`, on a dedicated
 * connection taken from the pool. The connection is checked on an interval (a half-open TCP
 * connection raises no error by itself); a dead one is destroyed and replaced, with `LISTEN`
 * issued again and a `resync` event, because notifications sent while disconnected are lost.
 * It is a hint that makes followers fast, never the source of truth. Timers are `unref()`ed.
 *
 * @example
 * ```ts
 * const feed = await storage.watch({ prefix: 'deployments/' });
 * feed.on('change', ({ key }) => follower.refresh(key));
 * feed.on('resync', () => follower.refreshAll());
 * await feed.close();
 * ```
 */
export class PostgresChangeFeed extends EventEmitter<PostgresChangeFeedEvents> {
  readonly #pool: PgPoolLike;
  readonly #channel: string;
  readonly #prefix: string;
  readonly #healthCheckMs: number;
  readonly #healthCheckTimeoutMs: number;
  readonly #reconnectDelayMs: number;
  #client: PgPoolClientLike | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #reconnecting = false;

  private constructor(options: PostgresChangeFeedOptions) {
    super();
    this.#pool = options.pool;
    if (typeof options.channel !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(options.channel)) {
      throw new ValidationError(`PostgresChangeFeed channel must be a lower-case identifier, got ${describeValue(options.channel)}`);
    }
    this.#channel = options.channel;
    if (options.prefix !== undefined && typeof options.prefix !== 'string') {
      throw new ValidationError(`PostgresChangeFeed prefix must be a string, got ${describeValue(options.prefix)}`);
    }
    this.#prefix = options.prefix ?? '';
    this.#healthCheckMs = checkNumber('healthCheckMs', options.healthCheckMs ?? 10_000, { min: 1 });
    this.#healthCheckTimeoutMs = checkNumber('healthCheckTimeoutMs', options.healthCheckTimeoutMs ?? 5_000, { min: 1 });
    this.#reconnectDelayMs = checkNumber('reconnectDelayMs', options.reconnectDelayMs ?? 100, { min: 1 });
  }

  /** Connects and listens; resolves once `LISTEN` is in place (a `StorageError`-free first connect is required). */
  static async create(options: PostgresChangeFeedOptions): Promise<PostgresChangeFeed> {
    const feed = new PostgresChangeFeed(options);
    await feed.#connect();
    feed.#schedule(feed.#healthCheckMs);
    return feed;
  }

  /** True while the feed holds a listening connection. */
  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** Stops the health checks and destroys the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      this.#detach(client);
      client.release(true);
    }
  }

  readonly #onNotification = (message: PgNotification) => {
    if (message.channel !== this.#channel || message.payload === undefined) return;
    let change: StorageChangeEvent;
    try {
      change = JSON.parse(message.payload) as StorageChangeEvent;
    } catch {
      return; // someone else's NOTIFY on our channel
    }
    if (typeof change.key === 'string' && change.key.startsWith(this.#prefix)) this.emit('change', { key: change.key, etag: change.etag ?? null });
  };

  readonly #onError = (err: Error) => {
    this.#lost(err);
  };

  readonly #onEnd = () => {
    this.#lost(new Error('the LISTEN connection ended'));
  };

  async #connect(): Promise<void> {
    const client = await this.#pool.connect();
    client.on('notification', this.#onNotification as (arg: unknown) => void);
    client.on('error', this.#onError as (arg: unknown) => void);
    client.on('end', this.#onEnd as (arg: unknown) => void);
    try {
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (err) {
      this.#detach(client);
      client.release(err as Error);
      throw err;
    }
    if (this.#closed) {
      this.#detach(client);
      client.release(true);
      return;
    }
    this.#client = client;
  }

  #detach(client: PgPoolClientLike): void {
    client.removeListener('notification', this.#onNotification as (arg: unknown) => void);
    client.removeListener('error', this.#onError as (arg: unknown) => void);
    client.removeListener('end', this.#onEnd as (arg: unknown) => void);
    // A destroyed client can still emit an error while closing; keep one listener so it is not unhandled.
    client.on('error', () => undefined);
  }

  /** The connection is gone: destroy it and reconnect with backoff, then ask followers to resync. */
  #lost(err: Error): void {
    const client = this.#client;
    if (client === undefined || this.#closed) return;
    this.#client = undefined;
    this.#detach(client);
    client.release(err);
    this.emit('disconnected', { error: err });
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    clearTimeout(this.#timer);
    let delay = this.#reconnectDelayMs;
    try {
      while (!this.#closed) {
        await new Promise<void>((resolve) => {
          this.#timer = setTimeout(resolve, delay * (0.5 + Math.random()));
          this.#timer.unref?.();
        });
        if (this.#closed) return;
        try {
          await this.#connect();
          if (this.#closed) return;
          this.emit('resync', { reason: 'reconnected' });
          this.#schedule(this.#healthCheckMs);
          return;
        } catch {
          delay = Math.min(delay * 2, 30_000);
        }
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#check(), ms);
    this.#timer.unref?.();
  }

  async #check(): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#closed) return;
    let timeout: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`health check took over ${this.#healthCheckTimeoutMs} ms`)), this.#healthCheckTimeoutMs);
          timeout.unref?.();
        }),
      ]);
    } catch (err) {
      if (this.#client === client) this.#lost(err as Error);
      return;
    } finally {
      clearTimeout(timeout);
    }
    this.#schedule(this.#healthCheckMs);
  }
}
