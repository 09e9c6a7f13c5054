import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Counter, type OpenMetricsContentType, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DeploymentMonitor } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

function fedMonitor() {
  const clock = new FakeClock(0);
  const monitor = new DeploymentMonitor({ clock: clock.now });
  for (let i = 1; i <= 100; i++) monitor.record(1, i, i % 10 !== 0);
  for (let i = 1; i <= 40; i++) monitor.record('shadow:"2"\\\n', 2 * i);
  return { clock, monitor };
}

/**
 * Every sample line checked against the text format's grammar (name, label pairs with the three
 * escapes, a float), returned with its labels unescaped. The parser package folds labelled
 * summaries into one entry, so summary lines are read here.
 */
function sampleLines(text: string) {
  const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/y;
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{)?/.exec(line);
      expect(head, line).not.toBeNull();
      const name = head![1] as string;
      const labels: Record<string, string> = {};
      let at = head![0].length;
      if (head![2]) {
        for (;;) {
          labelPair.lastIndex = at;
          const pair = labelPair.exec(line);
          expect(pair, line).not.toBeNull();
          labels[pair![1] as string] = (pair![2] as string).replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
          at = labelPair.lastIndex;
          if (line[at] === ',') at++;
          else break;
        }
        expect(line[at], line).toBe('}');
        at++;
      }
      const value = line.slice(at);
      expect(value, line).toMatch(/^ (NaN|[+-]Inf|-?\d+(\.\d+)?(e[+-]?\d+)?)$/);
      return { name, labels, value: Number(value.slice(1).replace('Inf', 'Infinity')) };
    });
}

describe('toPrometheus', () => {
  it('parses as Prometheus text with HELP and TYPE lines and the expected counters', () => {
    const { monitor } = fedMonitor();
    const text = monitor.toPrometheus({ labels: { model: 'iris' } });
    expect(text.endsWith('\n')).toBe(true);
    const families = parsePrometheusTextFormat(text);
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ['model_rollout_requests_total', 'COUNTER'],
      ['model_rollout_failures_total', 'COUNTER'],
      ['model_rollout_request_duration_seconds', 'SUMMARY'],
      // The deployment gauges, empty: no router tracks a policy on this monitor.
      ['model_rollout_deployment_status', 'GAUGE'],
      ['model_rollout_deployment_step', 'GAUGE'],
      ['model_rollout_deployment_percentage', 'GAUGE'],
      ['model_rollout_deployment_last_analysis', 'GAUGE'],
      ['model_rollout_deployment_last_analysis_timestamp_seconds', 'GAUGE'],
    ]);
    for (const family of families) expect(family.help.length).toBeGreaterThan(10);
    expect(families[0]?.metrics).toEqual([
      { value: '100', labels: { model: 'iris', version: '1' } },
      { value: '40', labels: { model: 'iris', version: 'shadow:"2"\\\n' } },
    ]);
    expect(families[1]?.metrics).toEqual([
      { value: '10', labels: { model: 'iris', version: '1' } },
      { value: '0', labels: { model: 'iris', version: 'shadow:"2"\\\n' } },
    ]);
  });

  it('carries a summary per version: rolling quantiles in seconds, lifetime sum and count', () => {
    const { clock, monitor } = fedMonitor();
    const series = sampleLines(monitor.toPrometheus({ quantiles: [0.5, 0.99] })).filter((s) =>
      s.name.startsWith('model_rollout_request_duration_seconds'),
    );
    const stats = monitor.stats(1);
    expect(series.filter((s) => s.labels.version === '1')).toEqual([
      { name: 'model_rollout_request_duration_seconds', labels: { version: '1', quantile: '0.5' }, value: stats.p50LatencyMs / 1000 },
      { name: 'model_rollout_request_duration_seconds', labels: { version: '1', quantile: '0.99' }, value: stats.p99LatencyMs / 1000 },
      { name: 'model_rollout_request_duration_seconds_sum', labels: { version: '1' }, value: 5.05 },
      { name: 'model_rollout_request_duration_seconds_count', labels: { version: '1' }, value: 100 },
    ]);
    expect(series.filter((s) => s.labels.version === 'shadow:"2"\\\n')).toHaveLength(4);

    clock.advance(120_000); // the window empties; the counters keep counting
    const later = sampleLines(monitor.toPrometheus({ quantiles: [0.5] })).filter((s) => s.labels.version === '1');
    expect(later.map((s) => [s.name, s.value])).toEqual([
      ['model_rollout_requests_total', 100],
      ['model_rollout_failures_total', 10],
      ['model_rollout_request_duration_seconds', Number.NaN],
      ['model_rollout_request_duration_seconds_sum', 5.05],
      ['model_rollout_request_duration_seconds_count', 100],
    ]);
  });

  it('renders an empty monitor as its families without samples, and checks its options', () => {
    const monitor = new DeploymentMonitor();
    const families = parsePrometheusTextFormat(monitor.toPrometheus());
    expect(families.map((f) => [f.name, f.metrics])).toEqual([
      ['model_rollout_requests_total', []],
      ['model_rollout_failures_total', []],
      ['model_rollout_request_duration_seconds', []],
      ['model_rollout_deployment_status', []],
      ['model_rollout_deployment_step', []],
      ['model_rollout_deployment_percentage', []],
      ['model_rollout_deployment_last_analysis', []],
      ['model_rollout_deployment_last_analysis_timestamp_seconds', []],
    ]);
    expect(() => monitor.toPrometheus({ prefix: '9bad' })).toThrow(/prefix must match/);
    expect(() => monitor.toPrometheus({ labels: { version: 'x' } })).toThrow(/not be one the monitor sets \(version, quantile, le,/);
    expect(() => monitor.toPrometheus({ labels: { 'bad-name': 'x' } })).toThrow(/labels: each name must match/);
    expect(() => monitor.toPrometheus({ quantiles: [1.5] })).toThrow(/quantiles\[0\] must be a finite number >= 0 <= 1/);
  });

  it('uses the prefix on every name', () => {
    const { monitor } = fedMonitor();
    const names = new Set(sampleLines(monitor.toPrometheus({ prefix: 'iris_' })).map((s) => s.name));
    expect([...names]).toEqual([
      'iris_requests_total',
      'iris_failures_total',
      'iris_request_duration_seconds',
      'iris_request_duration_seconds_sum',
      'iris_request_duration_seconds_count',
    ]);
  });
});

describe('collectInto a prom-client Registry', () => {
  it('round-trips: the registry renders the same series, computed at each scrape, beside its own metrics', async () => {
    const { monitor } = fedMonitor();
    const registry = new Registry();
    const own = new Counter({ name: 'http_requests_total', help: 'host counter', registers: [registry] });
    own.inc(3);
    const detach = monitor.collectInto(registry, { labels: { model: 'iris' } });

    const first = await registry.metrics();
    const ours = monitor.toPrometheus({ labels: { model: 'iris' } });
    const withoutHost = (text: string) => sampleLines(text).filter((s) => s.name !== 'http_requests_total');
    expect(withoutHost(first)).toEqual(sampleLines(ours));
    expect(parsePrometheusTextFormat(first).map((f) => f.name)).toEqual([
      'http_requests_total',
      'model_rollout_requests_total',
      'model_rollout_failures_total',
      'model_rollout_request_duration_seconds',
      'model_rollout_deployment_status',
      'model_rollout_deployment_step',
      'model_rollout_deployment_percentage',
      'model_rollout_deployment_last_analysis',
      'model_rollout_deployment_last_analysis_timestamp_seconds',
    ]);

    monitor.record(1, 7, false); // the next scrape sees it
    const json = await registry.getMetricsAsJSON();
    const requests = json.find((m) => m.name === 'model_rollout_requests_total');
    expect(requests?.type).toBe('counter');
    expect(requests?.values).toEqual([
      { value: 101, labels: { model: 'iris', version: '1' } },
      { value: 40, labels: { model: 'iris', version: 'shadow:"2"\\\n' } },
    ]);
    const failures = json.find((m) => m.name === 'model_rollout_failures_total');
    expect(failures?.values[0]?.value).toBe(11);

    detach();
    expect(parsePrometheusTextFormat(await registry.metrics()).map((f) => f.name)).toEqual(['http_requests_total']);
  });

  it('works with an OpenMetrics registry, which renames counters while rendering', async () => {
    const { monitor } = fedMonitor();
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const detach = monitor.collectInto(registry);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE model_rollout_requests counter\n');
    expect(text).toContain('model_rollout_requests_total{version="1"} 100\n');
    expect(text).not.toContain('_total_total');
    detach();
    expect(await registry.metrics()).toBe('\n# EOF\n');
  });

  it('leaves the registry as it was when a name is taken', async () => {
    const { monitor } = fedMonitor();
    const registry = new Registry();
    new Counter({ name: 'model_rollout_failures_total', help: 'taken', registers: [registry] });
    expect(() => monitor.collectInto(registry)).toThrow(/already been registered/);
    expect(registry.getMetricsAsArray()).toHaveLength(1);
    expect(() => monitor.collectInto({} as Registry)).toThrow(/registry must be a prom-client Registry/);
  });
});
