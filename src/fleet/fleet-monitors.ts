import { CapacityError, IntegrityError, describeValue } from '../errors.js';
import { DeploymentMonitor, type MonitorSnapshot } from '../monitor/deployment-monitor.js';
import { type Clock, checkFunction, checkNumber } from '../options.js';
import type { StorageAdapter } from '../storage/storage-adapter.js';
import { type HeartbeatRecord, heartbeatPrefix } from './monitor-heartbeat.js';
import { checkDeploymentName } from './names.js';

/** Options of {@link readFleetMonitors}. */
export interface ReadFleetMonitorsOptions {
  /** A heartbeat older than this (ms) is stale and left out; default 3 × the interval the replica publishes at. */
  maxAgeMs?: number;
  /** The reader's time (default `Date.now`); also the merged monitor's clock. */
  clock?: Clock;
  /** Most heartbeats read (default 1 000): more is a `CapacityError` before any is read. */
  maxReplicas?: number;
  /** Largest heartbeat accepted, in bytes (default 16 MiB): a larger one is a `CapacityError` naming its key. */
  maxRecordBytes?: number;
  /**
   * Merge into this monitor (cleared first) instead of a new one; its `windowMs`, `buckets` and
   * `relativeAccuracy` must be the replicas'. Without it the merged monitor takes the settings
   * of the first fresh heartbeat.
   */
  into?: DeploymentMonitor;
}

/** One replica as its latest heartbeat shows it. */
export interface ReplicaHeartbeat {
  replicaId: string;
  /** When its snapshot was taken (ISO, the replica's clock). */
  at: string;
  /** Reader's time minus `at`, in ms (negative when the clocks disagree). */
  ageMs: number;
  /** Whether it was within the age limit and so merged. */
  fresh: boolean;
  /** Requests in its snapshot, every version, over the replica's lifetime. */
  requests: number;
}

/** What {@link readFleetMonitors} found. */
export interface FleetMonitors {
  /** One monitor holding the latest fresh snapshot of every replica, each once. */
  merged: DeploymentMonitor;
  /** Every heartbeat found, fresh or stale, by replica id. */
  replicas: ReplicaHeartbeat[];
}

/** A parsed heartbeat and what the reader made of it. @internal */
export interface ReadHeartbeat extends ReplicaHeartbeat {
  key: string;
  record: HeartbeatRecord;
}

const decoder = new TextDecoder();

/**
 * Reads every replica's heartbeat under `monitors/<deployment>/` and merges the latest fresh
 * snapshot of each into one `DeploymentMonitor` (stale ones are listed but left out), so an
 * analysis, a dashboard or the CLI sees the whole fleet's traffic, each replica counted once.
 * Every record is checked: one that is not a heartbeat of this deployment, or whose monitor
 * snapshot does not merge, is an `IntegrityError` naming its key.
 *
 * @example
 * ```ts
 * const { merged, replicas } = await readFleetMonitors(storage, 'iris', { maxAgeMs: 15_000 });
 * merged.stats(2).errorRate;                 // the canary's error rate over every fresh replica
 * replicas.filter((r) => !r.fresh);          // replicas that stopped publishing
 * ```
 */
export async function readFleetMonitors(storage: StorageAdapter, deployment: string, options: ReadFleetMonitorsOptions = {}): Promise<FleetMonitors> {
  const clock = options.clock === undefined ? Date.now : checkFunction<Clock>('clock', options.clock);
  const read = await readHeartbeats(storage, deployment, options);
  const merged = mergeHeartbeats(read, options.into, clock);
  return { merged, replicas: read.map(({ replicaId, at, ageMs, fresh, requests }) => ({ replicaId, at, ageMs, fresh, requests })) };
}

/**
 * Merges the fresh heartbeats of `read` into `into` (cleared first) or into a new monitor with
 * the first fresh one's settings. @internal
 */
export function mergeHeartbeats(read: readonly ReadHeartbeat[], into: DeploymentMonitor | undefined, clock: Clock): DeploymentMonitor {
  const fresh = read.filter((r) => r.fresh);
  let merged = into;
  if (merged === undefined) {
    const first = fresh[0];
    try {
      merged = first === undefined
        ? new DeploymentMonitor({ clock })
        : new DeploymentMonitor({ clock, windowMs: first.record.monitor.windowMs, buckets: first.record.monitor.buckets, relativeAccuracy: first.record.monitor.relativeAccuracy });
    } catch (error) {
      throw new IntegrityError(`heartbeat '${first?.key}' holds monitor settings no monitor accepts: ${(error as Error).message}`, { cause: error });
    }
  } else {
    merged.clear();
  }
  for (const r of fresh) {
    try {
      // Under the replica's name, so an evidence window can tell its part from the others'.
      merged.merge(r.record.monitor, { source: r.replicaId });
    } catch (error) {
      merged.clear();
      if (error instanceof CapacityError) throw new CapacityError(`heartbeat '${r.key}': ${error.message}`, { cause: error });
      throw new IntegrityError(`heartbeat '${r.key}' holds a monitor snapshot that does not merge: ${(error as Error).message}`, { cause: error });
    }
  }
  return merged;
}

/** Reads and checks every heartbeat of a deployment (the monitor snapshots are checked by merging). @internal */
export async function readHeartbeats(storage: StorageAdapter, deployment: string, options: ReadFleetMonitorsOptions = {}): Promise<ReadHeartbeat[]> {
  checkDeploymentName(deployment);
  const clock = options.clock === undefined ? Date.now : checkFunction<Clock>('clock', options.clock);
  const maxAgeMs = options.maxAgeMs === undefined ? undefined : checkNumber('maxAgeMs', options.maxAgeMs, { min: 0 });
  const maxReplicas = checkNumber('maxReplicas', options.maxReplicas ?? 1_000, { min: 1, integer: true });
  const maxRecordBytes = checkNumber('maxRecordBytes', options.maxRecordBytes ?? 16 * 1024 * 1024, { min: 1, integer: true });
  const prefix = heartbeatPrefix(deployment);
  const keys = (await storage.list(prefix)).filter((key) => key.endsWith('.json') && !key.slice(prefix.length).includes('/')).sort();
  if (keys.length > maxReplicas) {
    throw new CapacityError(`deployment '${deployment}' has ${keys.length} heartbeats under '${prefix}'; at most maxReplicas = ${maxReplicas} are read`);
  }
  const records = await Promise.all(keys.map(async (key) => {
    const stored = await storage.get(key);
    if (stored === undefined) return undefined; // removed between list and get: a replica that left
    if (stored.data.byteLength > maxRecordBytes) {
      throw new CapacityError(`heartbeat '${key}' is ${stored.data.byteLength} bytes; at most maxRecordBytes = ${maxRecordBytes} are read`);
    }
    return { key, record: parseHeartbeat(key, deployment, key.slice(prefix.length, -'.json'.length), stored.data) };
  }));
  const now = clock();
  const out: ReadHeartbeat[] = [];
  for (const entry of records) {
    if (entry === undefined) continue;
    const { key, record } = entry;
    const ageMs = now - Date.parse(record.at);
    out.push({ key, record, replicaId: record.replicaId, at: record.at, ageMs, fresh: ageMs <= (maxAgeMs ?? 3 * record.intervalMs), requests: requestsIn(record.monitor) });
  }
  return out;
}

function parseHeartbeat(key: string, deployment: string, replicaId: string, data: Uint8Array): HeartbeatRecord {
  const bad = (what: string) => new IntegrityError(`heartbeat '${key}' is not a heartbeat of deployment '${deployment}' by replica '${replicaId}': ${what}`);
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (error) {
    throw new IntegrityError(`heartbeat '${key}' is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(`expected an object, got ${describeValue(value)}`);
  const r = value as Record<string, unknown>;
  if (r.specVersion !== 1) throw bad(`expected specVersion 1, got ${describeValue(r.specVersion)}`);
  if (r.deployment !== deployment) throw bad(`expected deployment '${deployment}', got ${describeValue(r.deployment)}`);
  if (r.replicaId !== replicaId) throw bad(`expected replicaId '${replicaId}' (the key's name), got ${describeValue(r.replicaId)}`);
  if (typeof r.at !== 'string' || !Number.isFinite(Date.parse(r.at))) throw bad(`expected at to be an ISO time, got ${describeValue(r.at)}`);
  if (typeof r.intervalMs !== 'number' || !(r.intervalMs > 0) || !Number.isFinite(r.intervalMs)) {
    throw bad(`expected intervalMs to be a positive number, got ${describeValue(r.intervalMs)}`);
  }
  const monitor = r.monitor as Partial<MonitorSnapshot> | null;
  if (typeof monitor !== 'object' || monitor === null || !Array.isArray(monitor.versions)) {
    throw bad(`expected monitor to be a DeploymentMonitor snapshot, got ${describeValue(r.monitor)}`);
  }
  if (r.observations !== undefined && (typeof r.observations !== 'object' || r.observations === null || Array.isArray(r.observations))) {
    throw bad(`expected observations to be an object when present, got ${describeValue(r.observations)}`);
  }
  return value as HeartbeatRecord;
}

/** Lifetime requests of a snapshot, every version; a malformed count reads as 0 (the merge rejects it). */
function requestsIn(monitor: MonitorSnapshot): number {
  let total = 0;
  for (const v of monitor.versions) {
    const ring = (v as { latency?: { retired?: { sketch?: { count?: unknown } }; live?: Array<{ sketch?: { count?: unknown } }> } } | null)?.latency;
    total += countOf(ring?.retired?.sketch?.count);
    if (Array.isArray(ring?.live)) for (const cell of ring.live) total += countOf(cell?.sketch?.count);
  }
  return total;
}

function countOf(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}
