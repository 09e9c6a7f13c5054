import type { Cell } from './sketch-ring.js';
import { quantile } from './sketch.js';

/** Which records a figure covers: the rolling window (recent, ages out) or everything ever recorded. */
export type StatsWindow = 'rolling' | 'lifetime';

/**
 * Outcome statistics of one version over one window. Never has `undefined` fields: a version
 * without data has `totalRequests: 0` and zeros everywhere else, which no health rule calls healthy.
 */
export interface DeploymentStats {
  totalRequests: number;
  successes: number;
  failures: number;
  /** `successes / totalRequests`, 0 without requests. */
  successRate: number;
  /** `failures / totalRequests`, 0 without requests. */
  errorRate: number;
  /** Exact mean latency. */
  avgLatencyMs: number;
  /** Latency quantiles, each within the monitor's `relativeAccuracy` of the exact value. */
  p50LatencyMs: number;
  p95LatencyMs: number;
  p99LatencyMs: number;
  /** `totalRequests` divided by the seconds from `since` to now. */
  requestsPerSecond: number;
  /**
   * Time (ms, the monitor's clock) the figures start from: the start of the oldest bucket in the
   * rolling window, or the version's first record, whichever is later; 0 without requests.
   */
  since: number;
}

const NO_DATA: Readonly<DeploymentStats> = Object.freeze({
  totalRequests: 0,
  successes: 0,
  failures: 0,
  successRate: 0,
  errorRate: 0,
  avgLatencyMs: 0,
  p50LatencyMs: 0,
  p95LatencyMs: 0,
  p99LatencyMs: 0,
  requestsPerSecond: 0,
  since: 0,
});

/** Stats of one latency cell covering the time from `since` to `now`. */
export function statsOf(cell: Cell | undefined, since: number, now: number): DeploymentStats {
  const total = cell?.sketch.count ?? 0;
  if (cell === undefined || total === 0) return { ...NO_DATA };
  const { sketch, failures } = cell;
  const elapsedMs = now - since;
  return {
    totalRequests: total,
    successes: total - failures,
    failures,
    successRate: (total - failures) / total,
    errorRate: failures / total,
    avgLatencyMs: sketch.sum / total,
    p50LatencyMs: quantile(sketch, 0.5),
    p95LatencyMs: quantile(sketch, 0.95),
    p99LatencyMs: quantile(sketch, 0.99),
    requestsPerSecond: elapsedMs > 0 ? (total * 1000) / elapsedMs : 0,
    since,
  };
}
