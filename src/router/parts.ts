/**
 * What {@link ModelRouter} needs of its monitor and its pool, as structural interfaces:
 * `DeploymentMonitor` and `PredictorPool` have them, and so can anything else with the same
 * methods (a monitor that forwards to another system, a pool over another runtime).
 *
 * @module
 */
import type { MonitoredVersion, RecordOptions } from '../monitor/deployment-monitor.js';
import type { RolloutGauges } from '../monitor/rollout-gauges.js';
import type { Clock } from '../options.js';
import type { Predictor } from '../predict/types.js';

/** The monitor a {@link ModelRouter} records every outcome in; `DeploymentMonitor` is one. */
export interface RouterMonitor {
  /**
   * Records one request's latency and outcome: the router calls it once per request, on its hot
   * path. `options.at` is the request's end on the wall clock when the router can give it cheaply
   * (`clock` is `Date.now`), so the monitor need not read a clock of its own.
   */
  record(version: MonitoredVersion, latencyMs: number, success: boolean, options?: RecordOptions): void;
  /** The monitor's time source; when it is `Date.now` the router passes `at` with every record. */
  readonly clock?: Clock;
  /** Reports a rollout's gauges in every scrape (optional: without it the router reports none). */
  trackRollout?(deployment: string, read: () => RolloutGauges): unknown;
}

/** The pool a {@link ModelRouter} takes its loaded versions from; `PredictorPool` is one. */
export interface RouterPool {
  /**
   * The loaded version's predictor, synchronously, or `undefined` when it is not loaded yet: the
   * router's hot path, called once per request.
   */
  peek(name: string, version: number): Predictor | undefined;
  /** Loads (and warms) the version if needed and resolves with its predictor. */
  get(name: string, version: number): Promise<Predictor>;
}
