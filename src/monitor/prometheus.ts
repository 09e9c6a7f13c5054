/**
 * Prometheus exposition of the monitor: metric families as plain data, rendered either as text
 * (format 0.0.4) or handed to a `prom-client` registry the host already has, typed structurally
 * so this package never loads `prom-client` itself.
 *
 * @module
 */
import { ValidationError, describeValue } from '../errors.js';
import { checkNumber } from '../options.js';

/** Options of {@link DeploymentMonitor.toPrometheus} and {@link DeploymentMonitor.collectInto}. */
export interface PrometheusOptions {
  /** Prepended to every metric name (default `'model_rollout_'`). */
  prefix?: string;
  /** Constant labels added to every series, e.g. `{ model: 'iris' }` (not `version`, `quantile`, `deployment`, `status`, `variant` or `outcome`). */
  labels?: Record<string, string>;
  /** Summary quantiles, each in [0, 1] (default `[0.5, 0.9, 0.95, 0.99]`). */
  quantiles?: number[];
  /**
   * How latency is exposed (default `'summary'`):
   * - `'summary'`: quantiles computed here, per replica. Summary quantiles cannot be aggregated
   *   across instances, so a fleet's p99 cannot be derived from them;
   * - `'histogram'`: cumulative `le` buckets (boundaries {@link PrometheusOptions.buckets}), so
   *   `histogram_quantile(0.99, sum by (le) (rate(<prefix>request_duration_seconds_bucket[5m])))`
   *   gives the fleet-wide p99. Use this with more than one replica.
   */
  latency?: 'summary' | 'histogram';
  /**
   * Upper bounds (seconds, ascending) of the histogram buckets; `+Inf` is always added (default
   * 0.5 ms to 2.5 s: `[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]`).
   */
  buckets?: number[];
}

/** One sample line: `name{labels} value`. */
export interface PrometheusSample {
  /** Full metric name of the line (a summary's `_sum` and `_count` lines differ from the family name). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: one HELP, one TYPE, its samples. */
export interface PrometheusFamily {
  name: string;
  help: string;
  type: 'counter' | 'summary' | 'histogram' | 'gauge';
  samples: PrometheusSample[];
}

/**
 * What {@link DeploymentMonitor.collectInto} hands to `registerMetric`: the shape `prom-client`'s
 * `Registry` reads when it renders (`name`, `help`, `type`, `aggregator`, `get()`, `reset()`).
 */
export interface PromClientCollector {
  name: string;
  help: string;
  type: string;
  aggregator: 'sum';
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: 'sum';
    values: Array<{ value: number; labels: Record<string, string>; metricName?: string }>;
  }>;
  reset(): void;
}

/**
 * The part of a `prom-client` `Registry` the monitor uses. A real `Registry` fits; the package
 * does not import `prom-client` (an optional peer dependency).
 */
export interface PromClientRegistry {
  registerMetric(metric: { get(): Promise<unknown> }): void;
  removeSingleMetric(name: string): void;
}

const DEFAULT_QUANTILES: readonly number[] = [0.5, 0.9, 0.95, 0.99];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Labels the monitor sets itself: on request metrics and on the deployment gauges. */
const RESERVED_LABELS = new Set(['version', 'quantile', 'le', 'deployment', 'status', 'variant', 'outcome']);
const DEFAULT_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Checked options. @internal */
export interface ResolvedPrometheusOptions {
  prefix: string;
  labels: Record<string, string>;
  quantiles: readonly number[];
  latency: 'summary' | 'histogram';
  buckets: readonly number[];
}

/** Checks options up front, naming the bad one. @internal */
export function resolvePrometheusOptions(options: PrometheusOptions = {}): ResolvedPrometheusOptions {
  const { prefix = 'model_rollout_', labels = {}, quantiles = DEFAULT_QUANTILES, latency = 'summary', buckets = DEFAULT_BUCKETS } = options;
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME.test(prefix))) {
    throw new ValidationError(`prefix must match ${METRIC_NAME.source} or be empty, got ${describeValue(prefix)}`);
  }
  if (typeof labels !== 'object' || labels === null) {
    throw new ValidationError(`labels must be an object of label name to string, got ${describeValue(labels)}`);
  }
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || RESERVED_LABELS.has(name)) {
      throw new ValidationError(
        `labels: each name must match ${LABEL_NAME.source}, not start with "__" and not be one the monitor sets (${[...RESERVED_LABELS].join(', ')}), got ${describeValue(name)}`,
      );
    }
    if (typeof value !== 'string') throw new ValidationError(`labels.${name} must be a string, got ${describeValue(value)}`);
  }
  if (!Array.isArray(quantiles) || quantiles.length === 0) {
    throw new ValidationError(`quantiles must be a non-empty array, got ${describeValue(quantiles)}`);
  }
  quantiles.forEach((q, i) => checkNumber(`quantiles[${i}]`, q, { min: 0, max: 1 }));
  if (latency !== 'summary' && latency !== 'histogram') {
    throw new ValidationError(`latency must be 'summary' or 'histogram', got ${describeValue(latency)}`);
  }
  if (!Array.isArray(buckets) || buckets.length === 0) throw new ValidationError(`buckets must be a non-empty array of seconds, got ${describeValue(buckets)}`);
  buckets.forEach((b, i) => {
    checkNumber(`buckets[${i}]`, b, { min: 0, exclusiveMin: true });
    if (i > 0 && b <= buckets[i - 1]!) throw new ValidationError(`buckets must ascend strictly, got ${buckets[i - 1]} then ${b} at buckets[${i}]`);
  });
  return { prefix, labels: { ...labels }, quantiles: [...quantiles], latency, buckets: [...buckets] };
}

/** Renders families in the Prometheus text exposition format 0.0.4. */
export function renderExposition(families: readonly PrometheusFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels)
        .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
        .join(',');
      lines.push(`${sample.name}${labels ? `{${labels}}` : ''} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/**
 * A `prom-client` collector reading one family afresh at every scrape. It reports its current
 * `name` because a registry in OpenMetrics mode renames counters (drops `_total`, then appends it
 * to each line), and leaves `metricName` off the family's own lines for the same reason.
 */
export function toCollector(
  name: string,
  help: string,
  type: PrometheusFamily['type'],
  read: () => PrometheusFamily | undefined,
): PromClientCollector {
  const collector: PromClientCollector = {
    name,
    help,
    type,
    aggregator: 'sum',
    async get() {
      const samples = read()?.samples ?? [];
      return {
        name: collector.name,
        help,
        type,
        aggregator: 'sum' as const,
        values: samples.map((s) =>
          s.name === name ? { value: s.value, labels: s.labels } : { value: s.value, labels: s.labels, metricName: s.name },
        ),
      };
    },
    // The monitor's counts belong to the monitor; a registry-wide reset must not rewrite them.
    reset() {},
  };
  return collector;
}

/** Escapes a label value: backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
