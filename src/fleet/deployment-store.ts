import { PreconditionFailedError, StorageError, ValidationError, describeValue } from '../errors.js';
import { checkFunction, type Clock } from '../options.js';
import { isNotModified, readIfChanged, type NotModified, type StorageAdapter, type StoredObject } from '../storage/storage-adapter.js';
import { checkDeploymentName } from './names.js';

/** A deployment's shared state: `deployments/<name>.json`. */
export interface DeploymentState {
  name: string;
  /** 1 at creation, + 1 per transition; the only way to change the state is from r to r + 1. */
  revision: number;
  /** The policy's `snapshot()`. */
  policy: unknown;
  /** The analysis counters, or `null`. */
  analysis: unknown;
  /** ISO time of the transition that made this revision. */
  at: string;
  /** Replica or operator that made it. */
  by: string;
}

/** One transition, as kept forever in `deployments/<name>/audit/<revision>.json`. */
export interface AuditRecord {
  deployment: string;
  revision: number;
  at: string;
  by: string;
  /** What happened: `start`, `step`, `pause`, `resume`, `promote`, `rollback`, `deploy`, `switch`, `conclude`… */
  action: string;
  /** Status (or any short summary) before and after, as the caller gives them. */
  from: string | null;
  to: string | null;
  reason: string | null;
  /** The numbers the decision saw (error rate, p99, requests, replicas…), or `null`. */
  numbers: Record<string, number> | null;
  /** The state this transition produced (lets a reader finish a transition its writer left half done). */
  state: DeploymentState;
}

/** What a transition changes and says about itself. */
export interface TransitionInput {
  action: string;
  by: string;
  policy: unknown;
  analysis?: unknown;
  from?: string | null;
  to?: string | null;
  reason?: string | null;
  numbers?: Record<string, number> | null;
}

/** A state read from storage with the etag to compare-and-swap it by. */
export interface StoredDeployment {
  state: DeploymentState;
  etag: string;
}

/** Options of {@link DeploymentStore}. */
export interface DeploymentStoreOptions {
  storage: StorageAdapter;
  /** Source of the `at` times (default `Date.now`). */
  clock?: Clock;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ACTION = /^[a-z][a-zA-Z0-9_-]{0,63}$/;

function stateKey(name: string): string {
  return `deployments/${name}.json`;
}

function auditKey(name: string, revision: number): string {
  // Zero-padded so the audit lists in revision order.
  return `deployments/${name}/audit/${String(revision).padStart(12, '0')}.json`;
}

/** The JSON value of `data`, or `undefined` when it is not JSON (a torn or damaged document). */
function tryParse(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
}

function encode(value: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(value)}\n`);
}

/**
 * Deployment state shared by every replica, in storage, changed only by compare-and-swap from
 * revision r to r + 1, with one immutable audit record per transition.
 *
 * A transition first claims its revision by creating `deployments/<name>/audit/<r+1>.json` with
 * `ifNoneMatch: '*'` (the same create-once write that claims a registry version), then moves
 * `deployments/<name>.json` to it by `ifMatch`. Of replicas acting on revision r at once exactly
 * one claims r + 1; the others get a `PreconditionFailedError`, re-read and decide again. The audit
 * record carries the state it produced, so a writer that died between the two writes leaves
 * nothing half done: the next transition attempt finds the claim and rolls the state forward.
 * Every revision therefore has exactly one audit record, none skipped, none doubled.
 *
 * @example
 * ```ts
 * const store = new DeploymentStore({ storage });
 * let current = await store.create('iris', { policy: canary.snapshot(), by: 'replica-1', action: 'start' });
 * canary.increase();
 * current = await store.transition('iris', current, { action: 'step', by: 'replica-1', policy: canary.snapshot() });
 * ```
 */
export class DeploymentStore {
  readonly storage: StorageAdapter;
  readonly #clock: Clock;

  constructor(options: DeploymentStoreOptions) {
    if (typeof options !== 'object' || options === null || typeof options.storage?.put !== 'function') {
      throw new ValidationError(`DeploymentStore options must have a storage adapter, got ${describeValue(options)}`);
    }
    this.storage = options.storage;
    this.#clock = options.clock === undefined ? Date.now : checkFunction<Clock>('clock', options.clock);
  }

  /**
   * The current state, or `undefined` when the deployment was never created. A state document
   * that does not parse (torn by a store that broke its atomic-put contract, or damaged) is read
   * through the newest audit record that parses, which carries the state that document was being
   * written with (or a later one already claimed); its etag is the damaged document's, so the
   * next transition replaces it.
   *
   * With `ifNoneMatch` (the etag of a state the caller holds) it is a conditional read: when the
   * document still has that etag it resolves to {@link NotModified} and, on an adapter with
   * `getIfChanged` (every built-in one), no bytes of the document are transferred.
   */
  async read(name: string): Promise<StoredDeployment | undefined>;
  async read(name: string, options: { ifNoneMatch: string }): Promise<StoredDeployment | NotModified | undefined>;
  async read(name: string, options?: { ifNoneMatch?: string }): Promise<StoredDeployment | NotModified | undefined> {
    const key = stateKey(checkDeploymentName(name));
    const ifNoneMatch = options?.ifNoneMatch;
    if (ifNoneMatch !== undefined && (typeof ifNoneMatch !== 'string' || ifNoneMatch === '')) {
      throw new ValidationError(`DeploymentStore.read ifNoneMatch must be a non-empty etag string, got ${describeValue(ifNoneMatch)}`);
    }
    const result = ifNoneMatch === undefined ? await this.storage.get(key) : await readIfChanged(this.storage, key, ifNoneMatch);
    if (isNotModified(result)) return result;
    const stored: StoredObject | undefined = result;
    if (!stored) return undefined;
    const state = tryParse(stored.data) as DeploymentState | undefined;
    if (state !== undefined) return { state, etag: stored.etag };
    const keys = await this.storage.list(`deployments/${name}/audit/`);
    for (let i = keys.length - 1; i >= 0; i--) {
      const record = await this.storage.get(keys[i] as string);
      const parsed = record && (tryParse(record.data) as AuditRecord | undefined);
      if (parsed?.state?.name === name) return { state: parsed.state, etag: stored.etag };
    }
    throw new StorageError(`storage key '${key}' does not hold JSON written by DeploymentStore, and no audit record of '${name}' holds a state to read instead`);
  }

  /**
   * The current state after finishing a transition whose claim landed but whose state write did
   * not (its writer died, or lost its connection, between the two writes): the claimed revision is
   * published, once. Call it after a `transition()` failed with a `StorageError` to learn whether
   * that transition happened (the state's `revision` and `by` say so).
   */
  async settle(name: string): Promise<StoredDeployment | undefined> {
    const current = await this.read(name);
    // A claim that does not parse (torn) never took effect: there is nothing to finish.
    await this.#rollForward(name, (current?.state.revision ?? 0) + 1);
    return this.read(name);
  }

  /** Creates revision 1. @throws PreconditionFailedError when the deployment already exists. */
  async create(name: string, input: TransitionInput): Promise<StoredDeployment> {
    checkDeploymentName(name);
    return this.#commit(name, undefined, input);
  }

  /**
   * Moves `current` (as read) to revision `current.state.revision + 1`.
   *
   * @throws PreconditionFailedError when another replica made that revision first (re-read and
   * decide again; the state it produced is already readable).
   */
  async transition(name: string, current: StoredDeployment, input: TransitionInput): Promise<StoredDeployment> {
    checkDeploymentName(name);
    if (current?.state?.name !== name || !Number.isSafeInteger(current.state.revision)) {
      throw new ValidationError(`transition needs the deployment '${name}' as read from this store, got ${describeValue(current)}`);
    }
    return this.#commit(name, current, input);
  }

  /** Audit records in revision order, from `after + 1` (default: from the start), at most `limit`. */
  async audit(name: string, options: { after?: number; limit?: number } = {}): Promise<AuditRecord[]> {
    checkDeploymentName(name);
    const after = options.after ?? 0;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const keys = (await this.storage.list(`deployments/${name}/audit/`)).filter((k) => k > auditKey(name, after)).slice(0, limit);
    const records = await Promise.all(keys.map(async (key) => {
      const stored = await this.storage.get(key);
      return stored && (this.#parse(key, stored.data) as AuditRecord);
    }));
    return records.filter((r): r is AuditRecord => r !== undefined);
  }

  async #commit(name: string, current: StoredDeployment | undefined, input: TransitionInput): Promise<StoredDeployment> {
    this.#checkInput(input);
    const revision = (current?.state.revision ?? 0) + 1;
    const at = new Date(this.#clock()).toISOString();
    const state: DeploymentState = { name, revision, policy: input.policy, analysis: input.analysis ?? null, at, by: input.by };
    const record: AuditRecord = {
      deployment: name,
      revision,
      at,
      by: input.by,
      action: input.action,
      from: input.from ?? null,
      to: input.to ?? null,
      reason: input.reason ?? null,
      numbers: input.numbers ?? null,
      state,
    };
    try {
      await this.storage.put(auditKey(name, revision), encode(record), { ifNoneMatch: '*' });
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      const torn = await this.#rollForward(name, revision);
      // A torn claim never took effect (its writer failed and published nothing): replace it by
      // compare-and-swap, so of replicas doing so at once one claims the revision, as with a create.
      if (torn === undefined) throw new PreconditionFailedError(`deployment '${name}' revision ${revision} was made by another replica first; re-read and decide again`, { cause: err });
      await this.storage.put(auditKey(name, revision), encode(record), { ifMatch: torn });
    }
    return this.#publish(name, state, current?.etag);
  }

  /** Moves the state document to a claimed revision; losing to someone who moved it already is fine. */
  async #publish(name: string, state: DeploymentState, etag: string | undefined): Promise<StoredDeployment> {
    const key = stateKey(name);
    try {
      const written = await this.storage.put(key, encode(state), etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag });
      return { state, etag: written.etag };
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      const now = await this.read(name);
      if (now && now.state.revision >= state.revision) return now.state.revision === state.revision ? now : { state, etag: now.etag };
      throw new StorageError(`deployment '${name}' state changed under a claimed revision ${state.revision}`, { cause: err });
    }
  }

  /**
   * A claim exists for `revision`: if the state document still lags behind it, finish that
   * transition. Returns the etag of the claim when it does not parse (a torn write), else `undefined`.
   */
  async #rollForward(name: string, revision: number): Promise<string | undefined> {
    const current = await this.read(name);
    if (current && current.state.revision >= revision) return undefined;
    const stored = await this.storage.get(auditKey(name, revision));
    if (!stored) return undefined;
    const record = tryParse(stored.data) as AuditRecord | undefined;
    if (record?.state?.revision !== revision) return stored.etag;
    await this.#publish(name, record.state, current?.etag).catch((err: unknown) => {
      if (!(err instanceof StorageError)) throw err;
    });
    return undefined;
  }

  #checkInput(input: TransitionInput): void {
    if (typeof input !== 'object' || input === null) throw new ValidationError(`transition input must be an object, got ${describeValue(input)}`);
    if (typeof input.action !== 'string' || !ACTION.test(input.action)) {
      throw new ValidationError(`action must match ${ACTION.source} (e.g. 'step'), got ${describeValue(input.action)}`);
    }
    if (typeof input.by !== 'string' || input.by.length === 0) throw new ValidationError(`by must name the replica or operator, got ${describeValue(input.by)}`);
    if (input.policy === undefined) throw new ValidationError('policy must be the policy snapshot (JSON), got undefined');
    if (input.numbers != null) {
      for (const [k, v] of Object.entries(input.numbers)) {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(`numbers.${k} must be a finite number, got ${describeValue(v)}`);
      }
    }
  }

  #parse(key: string, data: Uint8Array): unknown {
    try {
      return JSON.parse(decoder.decode(data));
    } catch (err) {
      throw new StorageError(`storage key '${key}' does not hold JSON written by DeploymentStore: ${(err as Error).message}`, { cause: err });
    }
  }
}
