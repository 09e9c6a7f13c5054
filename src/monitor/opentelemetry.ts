/**
 * An OpenTelemetry bridge for the monitor: the same families as the Prometheus text, observed by
 * a host's `Meter` at each collection. Typed structurally, so this package never loads
 * `@opentelemetry/api` (an optional peer dependency).
 *
 * @module
 */
import type { PrometheusFamily } from './prometheus.js';

/** An instrument a {@link OpenTelemetryMeter} created; the bridge only hands it back to `observe`. */
export type OpenTelemetryObservable = object;

/** What a batch observable callback is given: `@opentelemetry/api`'s `BatchObservableResult`. */
export interface OpenTelemetryBatchResult {
  observe(observable: OpenTelemetryObservable, value: number, attributes?: Record<string, string>): void;
}

/** The part of an `@opentelemetry/api` `Meter` the bridge uses; a real `Meter` fits. */
export interface OpenTelemetryMeter {
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): OpenTelemetryObservable;
  createObservableCounter(name: string, options?: { description?: string; unit?: string }): OpenTelemetryObservable;
  addBatchObservableCallback(callback: (result: OpenTelemetryBatchResult) => void, observables: OpenTelemetryObservable[]): void;
  removeBatchObservableCallback(callback: (result: OpenTelemetryBatchResult) => void, observables: OpenTelemetryObservable[]): void;
}

/**
 * Creates one instrument per sample name of `templates` and a batch callback that observes every
 * sample of `read()` at each collection. Counters become observable counters named without
 * Prometheus's `_total` (an OpenTelemetry Prometheus exporter adds it back), a summary's quantiles
 * an observable gauge with a `quantile` attribute and its `_sum` and `_count` observable counters,
 * gauges observable gauges; labels become attributes. An empty window's quantiles (NaN) are not
 * observed. Returns the function that removes the callback. @internal
 */
export function observeFamilies(
  meter: OpenTelemetryMeter,
  templates: readonly PrometheusFamily[],
  read: () => PrometheusFamily[],
): () => void {
  const instruments = new Map<string, OpenTelemetryObservable>();
  for (const family of templates) {
    const unit = family.name.endsWith('_seconds') ? 's' : undefined;
    const options = unit === undefined ? { description: family.help } : { description: family.help, unit };
    if (family.type === 'counter') {
      instruments.set(family.name, meter.createObservableCounter(family.name.replace(/_total$/, ''), options));
    } else if (family.type === 'summary') {
      instruments.set(family.name, meter.createObservableGauge(family.name, options));
      instruments.set(`${family.name}_sum`, meter.createObservableCounter(`${family.name}_sum`, options));
      instruments.set(`${family.name}_count`, meter.createObservableCounter(`${family.name}_count`, { description: family.help }));
    } else {
      instruments.set(family.name, meter.createObservableGauge(family.name, options));
    }
  }
  const callback = (result: OpenTelemetryBatchResult) => {
    for (const family of read()) {
      for (const sample of family.samples) {
        const instrument = instruments.get(sample.name);
        if (instrument !== undefined && !Number.isNaN(sample.value)) result.observe(instrument, sample.value, sample.labels);
      }
    }
  };
  const observables = [...instruments.values()];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
