import { IntegrityError, PreconditionFailedError, ValidationError, describeValue } from '../errors.js';
import { type Clock, checkFunction, checkNumber } from '../options.js';
import type { StorageAdapter } from '../storage/storage-adapter.js';
import { checkDeploymentName, checkKeySegment } from './names.js';

/** `deployments/<name>/lease.json`: which replica runs the deployment's analysis, until when. */
export interface LeaseRecord {
  specVersion: 1;
  deployment: string;
  /** Replica holding the lease. */
  holder: string;
  /** + 1 at every change of holder: a reader can tell a renewal from a takeover. */
  term: number;
  /** ISO time the holder took it. */
  acquiredAt: string;
  /** Epoch ms after which any replica may take it over (the holder's clock). */
  expiresAt: number;
  /** The deployment revision `counters` belong to. */
  revision: number;
  /** The holder's analysis counters at its last renewal, so a new holder carries on counting. */
  counters: unknown;
}

/** Options of {@link DeploymentLease}. */
export interface DeploymentLeaseOptions {
  storage: StorageAdapter;
  deployment: string;
  /** This replica's id. */
  holder: string;
  /** How long a renewal holds the lease, in ms; renew well within it (3 × the analysis interval is the usual choice). */
  ttlMs: number;
  clock?: Clock;
}

/** What one {@link DeploymentLease.hold} found. */
export interface LeaseHold {
  /** Whether this replica holds the lease now. */
  held: boolean;
  /** On a takeover or first acquisition: the record it replaced (the previous holder's counters), or `undefined`. */
  took?: LeaseRecord | undefined;
  /** When not held: the record of the replica that holds it. */
  holder?: LeaseRecord;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A lease in storage, moved only by compare-and-swap: the holder renews it (`ifMatch` on its own
 * last etag) before each decision, and any replica takes it over (`ifMatch` on the expired
 * record's etag, or `ifNoneMatch: '*'` when there is none) once `expiresAt` has passed. Of replicas
 * trying at once exactly one write lands. It keeps the analysis to one run per interval across
 * the fleet; it is not what makes transitions safe — the deployment revision's compare-and-swap
 * is, so a holder paused past its lease can lose a race but never double a transition.
 * Expiry compares wall clocks: replicas' clocks must agree to well within `ttlMs`.
 */
export class DeploymentLease {
  readonly deployment: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly key: string;
  readonly #storage: StorageAdapter;
  readonly #clock: Clock;
  #etag: string | undefined;
  #record: LeaseRecord | undefined;

  constructor(options: DeploymentLeaseOptions) {
    if (typeof options !== 'object' || options === null || typeof options.storage?.put !== 'function') {
      throw new ValidationError(`DeploymentLease options must have a storage adapter, got ${describeValue(options)}`);
    }
    this.#storage = options.storage;
    this.deployment = checkDeploymentName(options.deployment);
    this.holder = checkKeySegment('holder', options.holder);
    this.ttlMs = checkNumber('ttlMs', options.ttlMs, { min: 1 });
    this.#clock = options.clock === undefined ? Date.now : checkFunction<Clock>('clock', options.clock);
    this.key = `deployments/${this.deployment}/lease.json`;
  }

  /** Whether this replica's last renewal or takeover landed (it may have expired since: renew first). */
  get held(): boolean {
    return this.#etag !== undefined;
  }

  /**
   * Renews the lease when this replica holds it, or takes it when it is free or expired, writing
   * `revision` and `counters` into it. Losing any compare-and-swap means another replica holds it.
   * @throws StorageError (or the adapter's error) when storage fails; the lease is then treated as lost.
   */
  async hold(revision: number, counters: unknown): Promise<LeaseHold> {
    const now = this.#clock();
    if (this.#etag !== undefined && this.#record !== undefined) {
      const renewed: LeaseRecord = { ...this.#record, expiresAt: now + this.ttlMs, revision, counters };
      if (await this.#write(renewed, { ifMatch: this.#etag })) return { held: true };
    }
    const stored = await this.read();
    if (stored !== undefined && stored.record.holder !== this.holder && stored.record.expiresAt >= now) {
      return { held: false, holder: stored.record };
    }
    const record: LeaseRecord = {
      specVersion: 1,
      deployment: this.deployment,
      holder: this.holder,
      term: (stored?.record.term ?? 0) + 1,
      acquiredAt: new Date(now).toISOString(),
      expiresAt: now + this.ttlMs,
      revision,
      counters,
    };
    const landed = await this.#write(record, stored === undefined ? { ifNoneMatch: '*' } : { ifMatch: stored.etag });
    if (!landed) {
      const winner = await this.read();
      return winner === undefined ? { held: false } : { held: false, holder: winner.record };
    }
    return { held: true, took: stored?.record };
  }

  /** Lets go: marks the lease expired (by compare-and-swap, so a lease taken over meanwhile is left alone). */
  async release(): Promise<void> {
    if (this.#etag === undefined || this.#record === undefined) return;
    await this.#write({ ...this.#record, expiresAt: 0 }, { ifMatch: this.#etag });
    this.#etag = undefined;
    this.#record = undefined;
  }

  /** The stored lease and its etag, or `undefined` when no replica ever held it. */
  async read(): Promise<{ record: LeaseRecord; etag: string } | undefined> {
    const stored = await this.#storage.get(this.key);
    if (stored === undefined) return undefined;
    return { record: parseLease(this.key, this.deployment, stored.data), etag: stored.etag };
  }

  async #write(record: LeaseRecord, cond: { ifMatch: string } | { ifNoneMatch: '*' }): Promise<boolean> {
    this.#etag = undefined;
    this.#record = undefined;
    try {
      const { etag } = await this.#storage.put(this.key, encoder.encode(`${JSON.stringify(record)}\n`), cond);
      this.#etag = etag;
      this.#record = record;
      return true;
    } catch (error) {
      if (error instanceof PreconditionFailedError) return false;
      throw error;
    }
  }
}

function parseLease(key: string, deployment: string, data: Uint8Array): LeaseRecord {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (error) {
    throw new IntegrityError(`lease '${key}' is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const r = value as Partial<LeaseRecord> | null;
  const ok =
    typeof r === 'object' && r !== null && r.specVersion === 1 && r.deployment === deployment && typeof r.holder === 'string' &&
    Number.isSafeInteger(r.term) && typeof r.expiresAt === 'number' && Number.isFinite(r.expiresAt) && Number.isSafeInteger(r.revision);
  if (!ok) {
    throw new IntegrityError(
      `lease '${key}' is not a lease of deployment '${deployment}' (expected specVersion 1, holder, term, expiresAt, revision), got ${describeValue(value)}`,
    );
  }
  return value as LeaseRecord;
}
