/**
 * A running canary seen through the monitor's metrics: its Prometheus text (and a prom-client
 * registry) and an OpenTelemetry MeterProvider read by the SDK's in-memory exporter show the same
 * deployment gauges, and the percentage gauge follows the canary as its analysis steps it.
 */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CanaryDeployment, canaryAnalysis, DeploymentMonitor, MemoryStorage, ModelRegistry, ModelRouter, ValidationError } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { irisClassifier } from '../fixtures/onnx-models.js';

/** `name{labels}` → value, for every sample line of a Prometheus text. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The same key form from an OpenTelemetry data point: instrument name and sorted attributes. */
function key(name: string, attributes: Record<string, unknown>): string {
  const labels = Object.entries(attributes).map(([k, v]) => `${k}="${String(v)}"`);
  return labels.length === 0 ? name : `${name}{${labels.join(',')}}`;
}

async function otelSamples(reader: PeriodicExportingMetricReader, exporter: InMemoryMetricExporter): Promise<Map<string, number>> {
  exporter.reset();
  await reader.forceFlush();
  const out = new Map<string, number>();
  for (const resource of exporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints) out.set(key(metric.descriptor.name, point.attributes), point.value as number);
      }
    }
  }
  return out;
}

function deploymentGauges(all: Map<string, number>): Map<string, number> {
  return new Map([...all].filter(([k]) => k.startsWith('model_rollout_deployment_')));
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function runningCanary() {
  const clock = new FakeClock(1_750_000_000_000);
  const registry = new ModelRegistry({ storage: new MemoryStorage() });
  await registry.register('iris', irisClassifier());
  await registry.register('iris', irisClassifier({ producerVersion: 'v2' }));
  const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 60_000 });
  const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [10, 50, 100], clock: clock.now });
  const analysis = canaryAnalysis(canary, { monitor, clock: clock.now, minRequests: 40, maxErrorRate: 0.05, timers: clock });
  const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor, analysis });
  cleanups.push(() => router.pool.dispose());
  const traffic = async (requests: number) => {
    for (let i = 0; i < requests; i++) {
      await router.predict([5.1, 3.5, 1.4, 0.2], { unitId: `user-${i}` });
      clock.advance(10);
    }
  };
  return { clock, monitor, canary, analysis, router, traffic };
}

describe('deployment gauges', () => {
  it('follow a running canary step by step in the Prometheus text, a prom-client registry and OpenTelemetry', async () => {
    const { clock, monitor, canary, analysis, traffic } = await runningCanary();
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    cleanups.push(() => provider.shutdown());
    monitor.observeInto(provider.getMeter('model-rollout-test'));
    const registry = new Registry();
    monitor.collectInto(registry);

    const seen: Array<{ percentage: number | undefined; step: number | undefined }> = [];
    const check = async () => {
      const text = samples(monitor.toPrometheus());
      const gauges = deploymentGauges(text);
      // The same numbers through OpenTelemetry and through prom-client.
      expect(deploymentGauges(await otelSamples(reader, exporter))).toEqual(gauges);
      expect(deploymentGauges(samples(await registry.metrics()))).toEqual(gauges);
      seen.push({
        percentage: gauges.get('model_rollout_deployment_percentage{deployment="iris",version="2",variant="canary"}'),
        step: gauges.get('model_rollout_deployment_step{deployment="iris"}'),
      });
      return gauges;
    };

    canary.start();
    let gauges = await check();
    expect(gauges.get('model_rollout_deployment_percentage{deployment="iris",version="1",variant="stable"}')).toBe(90);
    expect(gauges.get('model_rollout_deployment_status{deployment="iris",status="progressing"}')).toBe(1);
    expect(gauges.get('model_rollout_deployment_status{deployment="iris",status="idle"}')).toBe(0);
    expect([...gauges.keys()].some((k) => k.includes('last_analysis'))).toBe(false);

    await traffic(600);
    const report = await analysis.analyze();
    expect(report.outcome).toBe('successful');
    gauges = await check();
    expect(gauges.get('model_rollout_deployment_percentage{deployment="iris",version="1",variant="stable"}')).toBe(50);
    expect(gauges.get('model_rollout_deployment_last_analysis{deployment="iris",outcome="successful"}')).toBe(1);
    expect(gauges.get('model_rollout_deployment_last_analysis{deployment="iris",outcome="failed"}')).toBe(0);
    expect(gauges.get('model_rollout_deployment_last_analysis_timestamp_seconds{deployment="iris"}')).toBe(report.at / 1000);
    expect(report.at).toBe(clock.now());

    await traffic(200);
    await analysis.analyze();
    gauges = await check();
    await traffic(200);
    await analysis.analyze();
    gauges = await check();
    expect(canary.state.status).toBe('promoted');
    expect(gauges.get('model_rollout_deployment_status{deployment="iris",status="promoted"}')).toBe(1);
    expect(gauges.get('model_rollout_deployment_percentage{deployment="iris",version="2",variant="stable"}')).toBe(100);

    expect(seen).toEqual([
      { percentage: 10, step: 0 },
      { percentage: 50, step: 1 },
      { percentage: 100, step: 2 },
      // Promoted: version 2 is the stable one; its canary series ends at 0 instead of going stale.
      { percentage: 0, step: -1 },
    ]);
  });

  it('report a host’s own rollout through trackRollout until it stops, and check their input', () => {
    const monitor = new DeploymentMonitor();
    let percentage = 5;
    const stop = monitor.trackRollout('checkout', () => ({ traffic: [{ version: 7, variant: 'canary', percentage }] }));
    expect(samples(monitor.toPrometheus()).get('model_rollout_deployment_percentage{deployment="checkout",version="7",variant="canary"}')).toBe(5);
    percentage = 20;
    expect(samples(monitor.toPrometheus({ labels: { team: 'pay' } })).get('model_rollout_deployment_percentage{team="pay",deployment="checkout",version="7",variant="canary"}')).toBe(20);
    stop();
    expect(deploymentGauges(samples(monitor.toPrometheus())).size).toBe(0);
    expect(() => monitor.trackRollout('', () => ({ traffic: [] }))).toThrow(ValidationError);
    expect(() => monitor.trackRollout('x', 'no' as never)).toThrow(/read must be a function/);
    expect(() => monitor.toPrometheus({ labels: { deployment: 'x' } })).toThrow(/not be one the monitor sets/);
    expect(() => monitor.observeInto({} as never)).toThrow(/meter must be an OpenTelemetry Meter/);
  });
});
