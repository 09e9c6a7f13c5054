import { EventEmitter } from 'eventemitter3';
import { ValidationError, describeValue } from '../errors.js';
import type { MonitorSnapshot } from '../monitor/deployment-monitor.js';
import { type Clock, type TimerScheduler, checkFunction, checkNumber, checkTimers } from '../options.js';
import type { StorageAdapter } from '../storage/storage-adapter.js';
import { Coalescer } from './lane.js';
import { checkDeploymentName, checkKeySegment } from './names.js';

/** One replica's heartbeat: `monitors/<deployment>/<replicaId>.json`. */
export interface HeartbeatRecord {
  specVersion: 1;
  deployment: string;
  replicaId: string;
  /** ISO time the snapshot was taken, on the publisher's clock. */
  at: string;
  /** How often the replica publishes, in ms: a reader judges freshness against it. */
  intervalMs: number;
  /** The replica's own `DeploymentMonitor.snapshot()` (its traffic only, never a merged view). */
  monitor: MonitorSnapshot;
  /**
   * The replica's own share of policy-level counts that merge across replicas (a bandit's
   * snapshot, an A/B controller's per-experiment stats), or absent.
   */
  observations?: HeartbeatObservations;
}

/** Policy-level counts a replica publishes beside its monitor, each its own traffic only. */
export interface HeartbeatObservations {
  /** `BanditPolicy.snapshot()`: counts are kept per replica id, so merging takes each replica's latest. */
  bandit?: unknown;
  /** `ABTestController.exportStats(name)` per experiment name: this replica's results alone. */
  abTest?: Record<string, unknown>;
}

/** What a heartbeat reads its monitor through: anything with `snapshot()`. */
export interface SnapshotSource {
  snapshot(): MonitorSnapshot;
}

/** Options of {@link MonitorHeartbeat}. */
export interface MonitorHeartbeatOptions {
  storage: StorageAdapter;
  /** The deployment whose monitors this replica publishes under. */
  deployment: string;
  /** This replica's id: one key segment, unique in the fleet (a pod name, a hostname). */
  replicaId: string;
  /** The monitor the replica's router records into. */
  monitor: SnapshotSource;
  /** Publishing interval (ms, default 5 000); readers call a heartbeat stale after 3 × this by default. */
  intervalMs?: number;
  /** Adds policy-level counts to each heartbeat (see {@link HeartbeatObservations}). */
  observations?: () => HeartbeatObservations | undefined;
  /** Source of `at` (default `Date.now`). */
  clock?: Clock;
  /** The timers the interval runs on (default the global ones, unref'd; a `FakeClock` in tests). */
  timers?: TimerScheduler;
}

/** Events of {@link MonitorHeartbeat}. */
export interface MonitorHeartbeatEvents {
  /** A heartbeat was written. */
  published: (event: { key: string; at: string }) => void;
  /** A write failed; the next interval tries again. */
  error: (event: { error: unknown }) => void;
}

const encoder = new TextEncoder();

/** Key of one replica's heartbeat. @internal */
export function heartbeatKey(deployment: string, replicaId: string): string {
  return `${heartbeatPrefix(deployment)}${replicaId}.json`;
}

/** Folder of a deployment's heartbeats. @internal */
export function heartbeatPrefix(deployment: string): string {
  return `monitors/${deployment}/`;
}

/**
 * Publishes one replica's monitor snapshot to `monitors/<deployment>/<replicaId>.json` on an
 * interval (and on demand with `publish()`), so any replica or operator can merge the fleet's
 * numbers with {@link readFleetMonitors}. Each replica writes only its own key, so the writes
 * need no condition; the timer is `unref()`ed and never touches the request path.
 *
 * @example
 * ```ts
 * const heartbeat = new MonitorHeartbeat({ storage, deployment: 'iris', replicaId: process.env.HOSTNAME!, monitor, intervalMs: 5_000 });
 * heartbeat.on('error', (e) => log.warn(e.error));
 * await heartbeat.start();
 * ```
 */
export class MonitorHeartbeat extends EventEmitter<MonitorHeartbeatEvents> {
  readonly deployment: string;
  readonly replicaId: string;
  readonly intervalMs: number;
  /** The key this replica writes. */
  readonly key: string;
  readonly #storage: StorageAdapter;
  readonly #monitor: SnapshotSource;
  readonly #observations: (() => HeartbeatObservations | undefined) | undefined;
  readonly #clock: Clock;
  readonly #timers: TimerScheduler;
  #timer: unknown;
  readonly #writer = new Coalescer(async () => {
    const record = this.record();
    await this.#storage.put(this.key, encoder.encode(`${JSON.stringify(record)}\n`));
    this.emit('published', { key: this.key, at: record.at });
  });

  constructor(options: MonitorHeartbeatOptions) {
    super();
    if (typeof options !== 'object' || options === null || typeof options.storage?.put !== 'function') {
      throw new ValidationError(`MonitorHeartbeat options must have a storage adapter, got ${describeValue(options)}`);
    }
    if (typeof options.monitor?.snapshot !== 'function') {
      throw new ValidationError(`MonitorHeartbeat monitor must have snapshot() (a DeploymentMonitor), got ${describeValue(options.monitor)}`);
    }
    this.#storage = options.storage;
    this.deployment = checkDeploymentName(options.deployment);
    this.replicaId = checkKeySegment('replicaId', options.replicaId);
    this.#monitor = options.monitor;
    this.intervalMs = checkNumber('intervalMs', options.intervalMs ?? 5_000, { min: 1 });
    this.#observations = options.observations === undefined ? undefined : checkFunction<() => HeartbeatObservations | undefined>('observations', options.observations);
    this.#clock = options.clock === undefined ? Date.now : checkFunction<Clock>('clock', options.clock);
    this.#timers = checkTimers('timers', options.timers);
    this.key = heartbeatKey(this.deployment, this.replicaId);
  }

  /** Whether the interval is running. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Publishes once now, then every `intervalMs` until `stop()`. */
  async start(): Promise<void> {
    if (this.#timer !== undefined) return;
    this.#timer = this.#timers.setInterval(() => this.publish().catch((error: unknown) => this.emit('error', { error })), this.intervalMs);
    await this.publish();
  }

  /** Stops the interval (a write in flight finishes). */
  stop(): void {
    this.#timers.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Writes a fresh snapshot now. A call while a write is in flight is folded into one more write
   * after it, so the stored heartbeat is never older than the last call.
   * @throws StorageError (or the adapter's error) when the write fails.
   */
  publish(): Promise<void> {
    return this.#writer.run();
  }

  /** The record `publish()` writes, taken now. */
  record(): HeartbeatRecord {
    const record: HeartbeatRecord = {
      specVersion: 1,
      deployment: this.deployment,
      replicaId: this.replicaId,
      at: new Date(this.#clock()).toISOString(),
      intervalMs: this.intervalMs,
      monitor: this.#monitor.snapshot(),
    };
    const observations = this.#observations?.();
    if (observations !== undefined) record.observations = observations;
    return record;
  }
}
