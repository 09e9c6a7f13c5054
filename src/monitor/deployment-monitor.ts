import { EventEmitter } from 'eventemitter3';
import { CapacityError, ValidationError, describeValue } from '../errors.js';
import { type Clock, checkFunction, checkNumber, checkOneOf } from '../options.js';
import {
  type DriftReport,
  driftVerdict,
  kolmogorovPValue,
  kolmogorovSmirnov,
  populationStabilityIndex,
} from './drift.js';
import {
  type ComparisonReport,
  type ComparisonRules,
  type HealthReport,
  type HealthRules,
  checkComparisonRules,
  compareStats,
  judgeHealth,
} from './health.js';
import {
  type PromClientRegistry,
  type PrometheusFamily,
  type PrometheusOptions,
  type ResolvedPrometheusOptions,
  renderExposition,
  resolvePrometheusOptions,
  toCollector,
} from './prometheus.js';
import { RolloutGaugeSet, type RolloutGauges } from './rollout-gauges.js';
import { observeFamilies, type OpenTelemetryMeter } from './opentelemetry.js';
import { NO_OUTCOMES, type OutcomeHistogram, addOutcomes, outcomesBetween } from './outcome-histogram.js';
import { quantile, sketchHistogram } from './sketch.js';
import { type ParsedRing, type RingJSON, SketchRing, ringTotals } from './sketch-ring.js';
import { type DeploymentStats, type StatsWindow, statsOf } from './stats.js';


/**
 * Largest latency recorded, in ms (about 31.7 years): with at most 2^53 records a version's sum
 * of latencies then stays finite, so the mean can never become Infinity.
 */
const MAX_LATENCY_MS = 1e12;
/** Largest magnitude of a recorded output, for the same reason (2^53 · 1e290 < 1.8e308). */
const MAX_OUTPUT = 1e290;

/** A version as the monitor keys it: a registry version number, or a string such as `'shadow:3'`. */
export type MonitoredVersion = number | string;

/** Options of {@link DeploymentMonitor}. */
export interface DeploymentMonitorOptions {
  /** Length of the rolling window in ms (default 60 000). */
  windowMs?: number;
  /**
   * Buckets the window is split into (default 12). Data ages out a bucket at a time: a record
   * leaves the rolling window between `windowMs − windowMs / buckets` and `windowMs` after it was made.
   */
  buckets?: number;
  /** Relative error bound of every latency and output quantile, in (0, 0.5] (default 0.01 = 1 %). */
  relativeAccuracy?: number;
  /** Time source in ms (default `Date.now`); pass `FakeClock.now` in tests. */
  clock?: Clock;
  /**
   * Most distinct versions the monitor keeps (default 1000; each costs about 10 KB). Recording or
   * merging in one more is a `CapacityError` and records nothing, so a stream of made-up version
   * labels cannot exhaust memory, nor a huge snapshot block the event loop in `merge`.
   */
  maxVersions?: number;
}

/** Options of {@link DeploymentMonitor.record}. */
export interface RecordOptions {
  /** When the outcome happened, in ms of the monitor's clock (saves the monitor a clock read). */
  at?: number;
}

/** One outcome, the object form of {@link DeploymentMonitor.record}. */
export interface Outcome {
  latencyMs: number;
  /** Default `true`. */
  success?: boolean;
  /** A numeric model output to add to the version's output distribution (see {@link DeploymentMonitor.drift}). */
  output?: number;
}

/** Payload of the `unhealthy` and `recovered` events: the version and the report that changed its status. */
export interface HealthEvent extends HealthReport {
  version: MonitoredVersion;
}

/** Events of {@link DeploymentMonitor}, emitted by `checkHealth` on transitions only. */
export interface DeploymentMonitorEvents {
  /** A version was judged unhealthy after being healthy or never judged. */
  unhealthy: (event: HealthEvent) => void;
  /** A version judged unhealthy is healthy again (`insufficient-data` in between does not count). */
  recovered: (event: HealthEvent) => void;
}

/** Options of {@link DeploymentMonitor.stats}. */
export interface StatsOptions {
  /** Default `'rolling'`. */
  window?: StatsWindow;
}

/** Options of {@link DeploymentMonitor.drift}. */
export interface DriftOptions {
  /** Window both output distributions are read over (default `'lifetime'`). */
  window?: StatsWindow;
  /** PSI bins, cut at the baseline's quantiles (default 10, the usual deciles). */
  bins?: number;
  /** Fewer outputs than this on either side gives `insufficient-data` (default 100). */
  minSamples?: number;
}

/** Options of {@link DeploymentMonitor.merge}. */
export interface MonitorMergeOptions {
  /**
   * Whose snapshot this is (a replica's id, non-empty): the monitor then also keeps what this
   * source added to each version until the next `clear()`, for
   * {@link DeploymentMonitor.outcomesBySource}.
   */
  source?: string;
}

/** JSON-safe state of a monitor, from {@link DeploymentMonitor.snapshot}; combine with {@link DeploymentMonitor.merge}. */
export interface MonitorSnapshot {
  specVersion: 1;
  /** Clock time the snapshot was taken at. */
  takenAt: number;
  windowMs: number;
  buckets: number;
  relativeAccuracy: number;
  versions: VersionSnapshot[];
}

/** One version inside a {@link MonitorSnapshot}. */
export interface VersionSnapshot {
  version: MonitoredVersion;
  firstRecordAt: number;
  latency: RingJSON;
  /** Present once an output was recorded. */
  outputs?: RingJSON;
}

interface VersionState {
  readonly version: MonitoredVersion;
  firstRecordAt: number;
  readonly latency: SketchRing;
  outputs: SketchRing | undefined;
  /** Last decisive health status, for transition events. */
  health: 'healthy' | 'unhealthy' | undefined;
}

interface ParsedVersion {
  version: MonitoredVersion;
  firstRecordAt: number;
  latency: ParsedRing;
  outputs: ParsedRing | undefined;
}

/**
 * Records every outcome per version in O(1) time and bounded memory, and answers stats, health,
 * comparisons, output drift and Prometheus scrapes. Latency and output quantiles come from
 * DDSketches with a guaranteed relative error; the rolling window is a ring of per-bucket
 * sketches merged on read, so old data ages out without keeping any raw value.
 *
 * @example
 * ```ts
 * const monitor = new DeploymentMonitor({ windowMs: 60_000 });
 * monitor.on('unhealthy', (e) => log.warn({ version: e.version, violations: e.violations }));
 *
 * const started = performance.now();
 * try {
 *   const output = await predictor.predict(input);
 *   monitor.record(2, performance.now() - started);
 * } catch (err) {
 *   monitor.record(2, performance.now() - started, false);
 * }
 *
 * monitor.stats(2);                     // rolling window: p50/p95/p99, error rate, rps …
 * monitor.checkHealth(2, { maxP99LatencyMs: 50, minSuccessRate: 0.99, minRequests: 100 });
 * monitor.compare(1, 2, { maxP99LatencyRatio: 1.2, maxErrorRateIncrease: 0.01, minRequests: 100 });
 * ```
 */
export class DeploymentMonitor extends EventEmitter<DeploymentMonitorEvents> {
  readonly windowMs: number;
  readonly buckets: number;
  readonly relativeAccuracy: number;
  /** Most distinct versions kept; see {@link DeploymentMonitorOptions.maxVersions}. */
  readonly maxVersions: number;
  /** Time source of the windows, in ms. */
  readonly clock: Clock;
  readonly #bucketMs: number;
  readonly #versions = new Map<MonitoredVersion, VersionState>();
  /** Prometheus label of each version, so `1` and `'1'` cannot both be recorded and collide. */
  readonly #labels = new Map<string, MonitoredVersion>();
  /** What each named source merged since the last clear() added, by version; see {@link DeploymentMonitor.outcomesBySource}. */
  readonly #sources = new Map<string, Map<MonitoredVersion, OutcomeHistogram>>();
  /** Deployments whose gauges every scrape reports; see {@link DeploymentMonitor.trackRollout}. */
  readonly #rollouts = new RolloutGaugeSet();

  constructor(options: DeploymentMonitorOptions = {}) {
    super();
    const { windowMs = 60_000, buckets = 12, relativeAccuracy = 0.01, clock = Date.now, maxVersions = 1000 } = options;
    this.windowMs = checkNumber('windowMs', windowMs, { min: 0, exclusiveMin: true });
    this.buckets = checkNumber('buckets', buckets, { min: 1, max: 10_000, integer: true });
    this.relativeAccuracy = checkNumber('relativeAccuracy', relativeAccuracy, { min: 0, exclusiveMin: true, max: 0.5 });
    this.maxVersions = checkNumber('maxVersions', maxVersions, { min: 1, integer: true });
    this.clock = checkFunction<Clock>('clock', clock);
    this.#bucketMs = this.windowMs / this.buckets;
  }

  /**
   * Records one outcome: the hot path (one map lookup, one clock read, one sketch update, no
   * allocation). A non-finite or negative latency, a non-boolean `success` or a non-finite
   * `output` is a `ValidationError` and nothing is recorded.
   *
   * `options.at` is when the outcome happened, in ms of this monitor's clock, for a caller that
   * has just read that time (as `ModelRouter` has): it spares the monitor its own clock read. It
   * only decides whether the current bucket may still take the record; a time past the bucket's
   * end or before its start makes the monitor read its clock, so buckets always rotate on the
   * monitor's own time.
   */
  record(version: MonitoredVersion, latencyMs: number, success?: boolean, options?: RecordOptions): void;
  record(version: MonitoredVersion, outcome: Outcome, options?: RecordOptions): void;
  record(version: MonitoredVersion, latencyOrOutcome: number | Outcome, successOrOptions?: boolean | RecordOptions, options?: RecordOptions): void {
    let latencyMs: unknown = latencyOrOutcome;
    let success: unknown = successOrOptions ?? true;
    let output: unknown;
    let recordOptions = options;
    if (typeof latencyOrOutcome === 'object' && latencyOrOutcome !== null) {
      latencyMs = latencyOrOutcome.latencyMs;
      success = latencyOrOutcome.success ?? true;
      output = latencyOrOutcome.output;
      recordOptions = successOrOptions as RecordOptions | undefined;
      if (output !== undefined && (typeof output !== 'number' || !(Math.abs(output) <= MAX_OUTPUT))) {
        throw new ValidationError(`output must be a finite number within ±${MAX_OUTPUT}, got ${describeValue(output)}`);
      }
    }
    if (typeof latencyMs !== 'number' || !(latencyMs >= 0 && latencyMs <= MAX_LATENCY_MS)) {
      throw new ValidationError(`latencyMs must be a finite number from 0 to ${MAX_LATENCY_MS} (about 31.7 years), got ${describeValue(latencyMs)}`);
    }
    if (typeof success !== 'boolean') throw new ValidationError(`success must be a boolean, got ${describeValue(success)}`);
    const at = recordOptions === undefined ? undefined : recordOptions.at;
    if (at !== undefined) {
      if (typeof at !== 'number' || !Number.isFinite(at)) throw new ValidationError(`at must be a finite number of ms, got ${describeValue(at)}`);
      const known = output === undefined ? this.#versions.get(version) : undefined;
      if (known !== undefined) {
        known.latency.addEstimated(at, this.clock, latencyMs, !success);
        return;
      }
    }
    const now = this.clock();
    const state = this.#versions.get(version) ?? this.#addVersion(version, now);
    state.latency.add(now, latencyMs, !success);
    if (output !== undefined) this.#outputRing(state, now).add(now, output as number, false);
  }

  /** Adds one model output (a score, a probability, a regression value) to the version's output distribution. */
  recordOutput(version: MonitoredVersion, value: number): void {
    if (typeof value !== 'number' || !(Math.abs(value) <= MAX_OUTPUT)) {
      throw new ValidationError(`value must be a finite number within ±${MAX_OUTPUT}, got ${describeValue(value)}`);
    }
    const now = this.clock();
    const state = this.#versions.get(version) ?? this.#addVersion(version, now);
    this.#outputRing(state, now).add(now, value, false);
  }

  /** Versions recorded so far, in the order first seen. */
  get versionsSeen(): MonitoredVersion[] {
    return [...this.#versions.keys()];
  }

  /**
   * Stats of one version over the rolling window (default) or its lifetime. An unknown version
   * gives zeros with `totalRequests: 0`.
   */
  stats(version: MonitoredVersion, options: StatsOptions = {}): DeploymentStats {
    const window = checkOneOf<StatsWindow>('window', options.window ?? 'rolling', ['rolling', 'lifetime']);
    const state = this.#versions.get(version);
    const now = this.clock();
    if (state === undefined) return statsOf(undefined, 0, now);
    if (window === 'lifetime') return statsOf(state.latency.lifetime(now), state.firstRecordAt, now);
    const since = Math.max(state.latency.windowStart(now), state.firstRecordAt);
    return statsOf(state.latency.rolling(now), since, now);
  }

  /**
   * A version's outcomes as counts (requests, failures, latency histogram from the sketch's bins)
   * over the rolling window or (default) its lifetime. Two lifetime readings give the outcomes in
   * between with `outcomesBetween`, which is how an evidence analysis judges a whole rollout.
   */
  outcomes(version: MonitoredVersion, options: StatsOptions = {}): OutcomeHistogram {
    const window = checkOneOf<StatsWindow>('window', options.window ?? 'lifetime', ['rolling', 'lifetime']);
    const state = this.#versions.get(version);
    if (state === undefined) return NO_OUTCOMES;
    const now = this.clock();
    const cell = window === 'lifetime' ? state.latency.lifetime(now) : state.latency.rolling(now);
    return { totalRequests: cell.sketch.count, failures: cell.failures, latency: sketchHistogram(cell.sketch) };
  }

  /**
   * Judges a version on the rolling window against absolute limits. Fewer than `minRequests`
   * requests is `insufficient-data`, never `healthy`. Emits `unhealthy` when a version turns
   * unhealthy and `recovered` when an unhealthy version is judged healthy again, once per
   * transition, however often it is checked.
   */
  checkHealth(version: MonitoredVersion, rules: HealthRules = {}): HealthReport {
    const report = judgeHealth(this.stats(version), rules);
    const state = this.#versions.get(version);
    if (state === undefined || report.status === 'insufficient-data' || report.status === state.health) return report;
    const previous = state.health;
    state.health = report.status;
    if (report.status === 'unhealthy') this.emit('unhealthy', { version, ...report });
    else if (previous === 'unhealthy') this.emit('recovered', { version, ...report });
    return report;
  }

  /**
   * Judges `candidate` against `baseline` by relative rules (candidate p99 ≤ 1.2 × baseline,
   * error rate ≤ baseline + 1 point, …), each judgment carrying both numbers, the limit and a
   * verdict; `insufficient-data` when either side has fewer than `minRequests`.
   */
  compare(baseline: MonitoredVersion, candidate: MonitoredVersion, rules: ComparisonRules): ComparisonReport {
    const { window } = checkComparisonRules(rules);
    return compareStats(this.stats(baseline, { window }), this.stats(candidate, { window }), rules);
  }

  /**
   * Output drift of `version` against `baselineVersion`: PSI over the baseline's decile bins and
   * the two-sample KS statistic with its p-value, from the output sketches of both.
   */
  drift(version: MonitoredVersion, baselineVersion: MonitoredVersion, options: DriftOptions = {}): DriftReport {
    const window = checkOneOf<StatsWindow>('window', options.window ?? 'lifetime', ['rolling', 'lifetime']);
    const bins = checkNumber('bins', options.bins ?? 10, { min: 2, max: 1000, integer: true });
    const minSamples = checkNumber('minSamples', options.minSamples ?? 100, { min: 1, integer: true });
    const now = this.clock();
    const read = (v: MonitoredVersion) => {
      const ring = this.#versions.get(v)?.outputs;
      return ring === undefined ? undefined : window === 'rolling' ? ring.rolling(now) : ring.lifetime(now);
    };
    const current = read(version)?.sketch;
    const baseline = read(baselineVersion)?.sketch;
    const samples = current?.count ?? 0;
    const baselineSamples = baseline?.count ?? 0;
    if (current === undefined || baseline === undefined || samples < minSamples || baselineSamples < minSamples) {
      return { psi: 0, ks: 0, ksPValue: 1, samples, baselineSamples, verdict: 'insufficient-data' };
    }
    const psi = populationStabilityIndex(current, baseline, bins);
    const ks = kolmogorovSmirnov(current, baseline);
    return {
      psi,
      ks,
      ksPValue: kolmogorovPValue(ks, samples, baselineSamples),
      samples,
      baselineSamples,
      verdict: driftVerdict(psi),
    };
  }

  /** JSON-safe state of every version (sketch bins and counts, no raw values), for persistence or for another replica's {@link DeploymentMonitor.merge}. */
  snapshot(): MonitorSnapshot {
    const now = this.clock();
    const versions: VersionSnapshot[] = [];
    for (const state of this.#versions.values()) {
      state.latency.rotate(now);
      state.outputs?.rotate(now);
      const entry: VersionSnapshot = { version: state.version, firstRecordAt: state.firstRecordAt, latency: state.latency.toJSON() };
      if (state.outputs) entry.outputs = state.outputs.toJSON();
      versions.push(entry);
    }
    return {
      specVersion: 1,
      takenAt: now,
      windowMs: this.windowMs,
      buckets: this.buckets,
      relativeAccuracy: this.relativeAccuracy,
      versions,
    };
  }

  /**
   * Adds another monitor's snapshot to this one: counts add exactly and sketches merge, so the
   * result equals one monitor that saw both streams. Buckets are matched by absolute time, so
   * replicas should share a clock (wall time). The whole snapshot is checked first; a malformed
   * one, or one with a different `windowMs`, `buckets` or `relativeAccuracy`, is a
   * `ValidationError` and changes nothing. With `source`, what the snapshot added is also kept
   * under that name (see {@link DeploymentMonitor.outcomesBySource}).
   */
  merge(snapshot: MonitorSnapshot, options: MonitorMergeOptions = {}): void {
    const source = (options as Partial<MonitorMergeOptions> | null)?.source;
    if (source !== undefined && (typeof source !== 'string' || source === '')) {
      throw new ValidationError(`source must be a non-empty string (a replica's id), got ${describeValue(source)}`);
    }
    const parsed = this.#parseSnapshot(snapshot);
    const added = parsed.filter((p) => !this.#versions.has(p.version)).length;
    if (this.#versions.size + added > this.maxVersions) throw this.#capacityError(`merging a snapshot with ${added} new version(s) was refused`);
    for (const incoming of parsed) this.#checkMergeFits(incoming);
    const now = this.clock();
    for (const incoming of parsed) {
      const existing = this.#versions.get(incoming.version);
      const state = existing ?? this.#addVersion(incoming.version, now);
      state.firstRecordAt = existing ? Math.min(existing.firstRecordAt, incoming.firstRecordAt) : incoming.firstRecordAt;
      const before = source === undefined ? undefined : this.outcomes(incoming.version);
      state.latency.absorb(incoming.latency, now);
      if (incoming.outputs) this.#outputRing(state, now).absorb(incoming.outputs, now);
      if (before !== undefined) this.#addToSource(source as string, incoming.version, outcomesBetween(this.outcomes(incoming.version), before));
    }
    if (source !== undefined && !this.#sources.has(source)) this.#sources.set(source, new Map());
  }

  /**
   * What each source named in {@link DeploymentMonitor.merge} added to `version`'s lifetime
   * outcomes since the last `clear()`, by source (a source whose snapshots held no such version
   * added none); empty when nothing was merged under a name. How an evidence analysis on a
   * fleet's merged monitor tells the replicas' parts apart, so one joining or leaving the merge
   * does not move the others' windows.
   */
  outcomesBySource(version: MonitoredVersion): Map<string, OutcomeHistogram> {
    const bySource = new Map<string, OutcomeHistogram>();
    for (const [source, versions] of this.#sources) bySource.set(source, versions.get(version) ?? NO_OUTCOMES);
    return bySource;
  }

  #addToSource(source: string, version: MonitoredVersion, added: OutcomeHistogram): void {
    const versions = this.#sources.get(source) ?? new Map<MonitoredVersion, OutcomeHistogram>();
    versions.set(version, addOutcomes(versions.get(version) ?? NO_OUTCOMES, added));
    this.#sources.set(source, versions);
  }

  /**
   * Forgets every version's numbers (tracked rollouts stay), so the monitor can be rebuilt from
   * snapshots with {@link DeploymentMonitor.merge}: how a fleet view is refreshed from the latest
   * snapshot of each replica without counting any of them twice.
   */
  clear(): void {
    this.#versions.clear();
    this.#labels.clear();
    this.#sources.clear();
  }

  /**
   * Reports a deployment's gauges in every scrape ({@link DeploymentMonitor.toPrometheus},
   * {@link DeploymentMonitor.collectInto}, {@link DeploymentMonitor.observeInto}): `read` is called
   * at each one and returns plain data. A `ModelRouter` tracks its own policy under its
   * `deployment` name, so this is for hosts that report a rollout some other way. A second reader
   * of the same name replaces the first. Returns a function that stops the reporting.
   */
  trackRollout(deployment: string, read: () => RolloutGauges): () => void {
    if (typeof deployment !== 'string' || deployment === '') {
      throw new ValidationError(`deployment must be a non-empty string, got ${describeValue(deployment)}`);
    }
    return this.#rollouts.track(deployment, checkFunction('read', read));
  }

  /**
   * Prometheus text exposition (format 0.0.4): `requests_total` and `failures_total` counters
   * per version (lifetime), and a `request_duration_seconds` summary per version whose quantiles
   * cover the rolling window and whose `_sum` and `_count` cover the lifetime, as with
   * `prom-client`'s own summaries; then the gauges of every tracked deployment (see
   * {@link DeploymentMonitor.trackRollout}): `deployment_status`, `deployment_step`,
   * `deployment_percentage`, `deployment_last_analysis` and
   * `deployment_last_analysis_timestamp_seconds`.
   */
  toPrometheus(options: PrometheusOptions = {}): string {
    return renderExposition(this.#families(resolvePrometheusOptions(options)));
  }

  /**
   * Registers the same metric families as {@link DeploymentMonitor.toPrometheus} in a
   * `prom-client` `Registry` the host already serves, computed afresh at each scrape. Returns a
   * function that unregisters them.
   *
   * @example
   * ```ts
   * import { Registry } from 'prom-client';
   * const registry = new Registry();
   * const detach = monitor.collectInto(registry, { labels: { model: 'iris' } });
   * // GET /metrics → res.end(await registry.metrics())
   * ```
   */
  collectInto(registry: PromClientRegistry, options: PrometheusOptions = {}): () => void {
    if (typeof registry?.registerMetric !== 'function' || typeof registry.removeSingleMetric !== 'function') {
      throw new ValidationError(`registry must be a prom-client Registry, got ${describeValue(registry)}`);
    }
    const resolved = resolvePrometheusOptions(options);
    const templates = this.#families(resolved);
    const collectors = templates.map((template) =>
      toCollector(template.name, template.help, template.type, () =>
        this.#families(resolved).find((f) => f.name === template.name),
      ),
    );
    // Names as registered: an OpenMetrics registry renames counters in place while rendering.
    const names: string[] = [];
    const detach = () => {
      for (const name of names) registry.removeSingleMetric(name);
    };
    try {
      for (const collector of collectors) {
        registry.registerMetric(collector);
        names.push(collector.name);
      }
    } catch (err) {
      // A name already taken leaves the registry as it was, not with half of our families.
      detach();
      throw err;
    }
    return detach;
  }

  /**
   * Observes the same metrics as {@link DeploymentMonitor.toPrometheus} through an OpenTelemetry
   * `Meter` the host already exports (`@opentelemetry/api`, an optional peer this package never
   * loads), read afresh at each collection: counters as observable counters (named without
   * `_total`), latency quantiles as an observable gauge with a `quantile` attribute, the
   * deployment gauges as observable gauges, labels as attributes. Returns a function that stops
   * observing (OpenTelemetry cannot remove the instruments themselves).
   *
   * @example
   * ```ts
   * import { metrics } from '@opentelemetry/api';
   * const stop = monitor.observeInto(metrics.getMeter('model-rollout'), { labels: { model: 'iris' } });
   * ```
   */
  observeInto(meter: OpenTelemetryMeter, options: PrometheusOptions = {}): () => void {
    for (const method of ['createObservableGauge', 'createObservableCounter', 'addBatchObservableCallback', 'removeBatchObservableCallback'] as const) {
      if (typeof meter?.[method] !== 'function') {
        throw new ValidationError(`meter must be an OpenTelemetry Meter (with ${method}()), got ${describeValue(meter)}`);
      }
    }
    const resolved = resolvePrometheusOptions(options);
    return observeFamilies(meter, this.#families(resolved), () => this.#families(resolved));
  }

  #families({ prefix, labels, quantiles, latency, buckets }: ResolvedPrometheusOptions): PrometheusFamily[] {
    const requests: PrometheusFamily = {
      name: `${prefix}requests_total`,
      help: 'Requests recorded by the deployment monitor, per model version.',
      type: 'counter',
      samples: [],
    };
    const failures: PrometheusFamily = {
      name: `${prefix}failures_total`,
      help: 'Failed requests recorded by the deployment monitor, per model version.',
      type: 'counter',
      samples: [],
    };
    const duration: PrometheusFamily = {
      name: `${prefix}request_duration_seconds`,
      help:
        latency === 'summary'
          ? 'Request latency per model version: quantiles over the rolling window, sum and count over the lifetime.'
          : 'Request latency per model version over the lifetime, in cumulative buckets (aggregatable across replicas).',
      type: latency,
      samples: [],
    };
    const now = this.clock();
    for (const state of this.#versions.values()) {
      const versionLabels = { ...labels, version: String(state.version) };
      const lifetime = state.latency.lifetime(now);
      const rolling = state.latency.rolling(now);
      requests.samples.push({ name: requests.name, labels: versionLabels, value: lifetime.sketch.count });
      failures.samples.push({ name: failures.name, labels: versionLabels, value: lifetime.failures });
      if (latency === 'histogram') {
        // Bucket counts come from the lifetime sketch's bins: a latency within the sketch's relative
        // error of a boundary may be counted on either side of it.
        const { values, counts } = sketchHistogram(lifetime.sketch);
        let bin = 0;
        let cumulative = 0;
        for (const le of buckets) {
          for (; bin < values.length && values[bin]! / 1000 <= le; bin++) cumulative += counts[bin]!;
          duration.samples.push({ name: `${duration.name}_bucket`, labels: { ...versionLabels, le: String(le) }, value: cumulative });
        }
        duration.samples.push({ name: `${duration.name}_bucket`, labels: { ...versionLabels, le: '+Inf' }, value: lifetime.sketch.count });
      } else {
        for (const q of quantiles) {
          // An empty window has no quantiles: NaN, as the Prometheus client libraries report it.
          const value = rolling.sketch.count === 0 ? Number.NaN : quantile(rolling.sketch, q) / 1000;
          duration.samples.push({ name: duration.name, labels: { ...versionLabels, quantile: String(q) }, value });
        }
      }
      duration.samples.push({ name: `${duration.name}_sum`, labels: versionLabels, value: lifetime.sketch.sum / 1000 });
      duration.samples.push({ name: `${duration.name}_count`, labels: versionLabels, value: lifetime.sketch.count });
    }
    return [requests, failures, duration, ...this.#rollouts.families(prefix, labels)];
  }

  #addVersion(version: MonitoredVersion, now: number): VersionState {
    const valid = typeof version === 'number' ? Number.isFinite(version) : typeof version === 'string' && version !== '';
    if (!valid) throw new ValidationError(`version must be a finite number or a non-empty string, got ${describeValue(version)}`);
    this.#checkLabelFree(version);
    if (this.#versions.size >= this.maxVersions) throw this.#capacityError(`version ${describeValue(version)} cannot be added`);
    const state: VersionState = {
      version,
      firstRecordAt: now,
      latency: new SketchRing(this.#bucketMs, this.buckets, this.relativeAccuracy, now),
      outputs: undefined,
      health: undefined,
    };
    this.#versions.set(version, state);
    this.#labels.set(String(version), version);
    return state;
  }

  #capacityError(what: string): CapacityError {
    return new CapacityError(
      `${what}: the monitor already holds ${this.#versions.size} versions and keeps at most maxVersions = ${this.maxVersions}`,
    );
  }

  #checkLabelFree(version: MonitoredVersion): void {
    const holder = this.#labels.get(String(version));
    if (holder !== undefined && holder !== version) {
      throw new ValidationError(
        `version ${describeValue(version)} would share the label "${String(version)}" with version ${describeValue(holder)}; record each version under one type`,
      );
    }
  }

  #outputRing(state: VersionState, now: number): SketchRing {
    state.outputs ??= new SketchRing(this.#bucketMs, this.buckets, this.relativeAccuracy, now);
    return state.outputs;
  }

  /** A merge that would count past 2^53 or sum to infinity is refused before anything changes. */
  #checkMergeFits(incoming: ParsedVersion): void {
    const state = this.#versions.get(incoming.version);
    const fits = (ring: SketchRing | undefined, parsed: ParsedRing | undefined, what: string) => {
      if (parsed === undefined) return;
      const mine = ring?.totals() ?? { count: 0, sum: 0 };
      const theirs = ringTotals(parsed);
      if (mine.count + theirs.count > Number.MAX_SAFE_INTEGER || !Number.isFinite(mine.sum + theirs.sum)) {
        throw new ValidationError(
          `merging ${what} of version ${describeValue(incoming.version)} would overflow: ${mine.count} + ${theirs.count} values summing to ${mine.sum} + ${theirs.sum} is past 2^53 values or not finite; nothing was merged`,
        );
      }
    };
    fits(state?.latency, incoming.latency, 'latencies');
    fits(state?.outputs, incoming.outputs, 'outputs');
  }

  #parseSnapshot(snapshot: unknown): ParsedVersion[] {
    if (typeof snapshot !== 'object' || snapshot === null) {
      throw new ValidationError(`snapshot must be an object from DeploymentMonitor.snapshot(), got ${describeValue(snapshot)}`);
    }
    const s = snapshot as Record<string, unknown>;
    if (s.specVersion !== 1) throw new ValidationError(`snapshot.specVersion must be 1, got ${describeValue(s.specVersion)}`);
    for (const field of ['windowMs', 'buckets', 'relativeAccuracy'] as const) {
      if (s[field] !== this[field]) {
        throw new ValidationError(`snapshot.${field} must equal this monitor's ${field} (${this[field]}) to merge, got ${describeValue(s[field])}`);
      }
    }
    if (!Array.isArray(s.versions)) throw new ValidationError(`snapshot.versions must be an array, got ${describeValue(s.versions)}`);
    // Refused before parsing anything, so an oversized snapshot costs no time.
    if (s.versions.length > this.maxVersions) {
      throw new CapacityError(`snapshot.versions holds ${s.versions.length} versions; this monitor keeps at most maxVersions = ${this.maxVersions}`);
    }
    const seen = new Map<string, MonitoredVersion>();
    // Array.from visits holes (as undefined) where map would skip them and leave them in the result.
    return Array.from(s.versions as unknown[], (entry: unknown, i): ParsedVersion => {
      const at = `snapshot.versions[${i}]`;
      if (typeof entry !== 'object' || entry === null) throw new ValidationError(`${at} must be an object, got ${describeValue(entry)}`);
      const e = entry as Record<string, unknown>;
      const version = e.version;
      if (!(typeof version === 'number' ? Number.isFinite(version) : typeof version === 'string' && version !== '')) {
        throw new ValidationError(`${at}.version must be a finite number or a non-empty string, got ${describeValue(version)}`);
      }
      const v = version as MonitoredVersion;
      if (seen.has(String(v))) throw new ValidationError(`${at}.version ${describeValue(v)} appears twice in the snapshot`);
      seen.set(String(v), v);
      if (!this.#versions.has(v)) this.#checkLabelFree(v);
      const firstRecordAt = e.firstRecordAt;
      if (typeof firstRecordAt !== 'number' || !Number.isFinite(firstRecordAt)) {
        throw new ValidationError(`${at}.firstRecordAt must be a finite number, got ${describeValue(firstRecordAt)}`);
      }
      return {
        version: v,
        firstRecordAt,
        latency: SketchRing.parse(e.latency, this.relativeAccuracy, this.buckets, `${at}.latency`, { nonNegative: true }),
        outputs: e.outputs === undefined ? undefined : SketchRing.parse(e.outputs, this.relativeAccuracy, this.buckets, `${at}.outputs`),
      };
    });
  }
}
