/**
 * Load: autocannon against the example host (examples/http-server.ts) on loopback for
 * `DURATION_S` (default 30) seconds with `CONNECTIONS` (default 100) connections, while its canary
 * (iris v1 → v2, the example's own CANARY_ANALYSIS, analysed every 3 s) steps 5 → 50 %, and a
 * rollback is forced halfway through. Every response must be a 200: the run fails (exit 1) on
 * any non-2xx answer, socket error or timeout, since the only thing changing is the rollout.
 * Prints requests/s, latency p50 / p99 / max, the canary's transitions, how many requests each
 * version served before and after the rollback, each version's monitor p99, and the machine's
 * load average at the start and the end.
 *
 * Run: `npm run load` (`DURATION_S=60 CONNECTIONS=1000 npm run load`; `CONTROL=1` for the same
 * load on v1 alone, without a rollout, to see what the machine's load alone does).
 */
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import * as ort from 'onnxruntime-node';
import { buildIrisVersions } from '../examples/demo/iris.js';
import { CANARY_ANALYSIS, createModelServer } from '../examples/http-server.js';
import { CanaryDeployment, DeploymentMonitor, canaryAnalysis, MemoryStorage, ModelRegistry, ModelRouter, StaticPolicy } from '../src/index.js';

ort.env.logLevel = 'fatal';
const DURATION_S = Number(process.env['DURATION_S'] ?? 30);
const CONNECTIONS = Number(process.env['CONNECTIONS'] ?? 100);
// CONTROL=1: the same host and load with v1 alone (a StaticPolicy, no analysis, no rollback), to
// tell failures the machine's load causes from failures the rollout causes.
const CONTROL = process.env['CONTROL'] === '1';

const trained = buildIrisVersions();
const registry = new ModelRegistry({ storage: new MemoryStorage() });
await registry.register('iris', trained.v1.bytes, { description: 'v1' });
await registry.register('iris', trained.v2.bytes, { description: 'v2' });
const monitor = new DeploymentMonitor({ windowMs: 10_000 });
const canary = new CanaryDeployment({
  stable: 1,
  canary: 2,
  // Ten steps of 3 s: still progressing when the rollback is forced halfway through a 30 s run.
  steps: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
});
const started = Date.now();
const transitions: string[] = [];
const at = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s`;
for (const event of ['stepped', 'promoted', 'rolledBack', 'paused'] as const) {
  canary.on(event, (e: object) => {
    const { to, reason } = e as { to?: number; reason?: string | null };
    transitions.push(`${at()}  ${event}${event === 'stepped' ? ` → ${to} %` : ''}${reason ? ` (${reason})` : ''}`);
  });
}
const analysis = canaryAnalysis(canary, { monitor, ...CANARY_ANALYSIS, intervalMs: 3_000 });
if (!CONTROL) {
  canary.start();
  analysis.start();
}
const router = new ModelRouter({ registry, model: 'iris', policy: CONTROL ? new StaticPolicy({ version: 1 }) : canary, monitor });
const server = createModelServer({ router });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

const served = (v: number) => monitor.stats(v, { window: 'lifetime' }).totalRequests;
let atRollback: [number, number] | undefined;
const loadAtStart = loadavg();
const rollbackTimer = setTimeout(() => {
  if (!CONTROL && canary.state.status === 'progressing' || canary.state.status === 'paused') {
    atRollback = [served(1), served(2)];
    canary.rollback('bench/load: planned rollback under load');
  }
}, (DURATION_S * 1000) / 2);

const bodies = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ features: [5.1 + (i % 7) / 10, 3.5, 1.4 + (i % 5), 0.2 + (i % 3)], unit_id: `user-${i}` }));
let nextBody = 0;
const result = await autocannon({
  url: `http://127.0.0.1:${port}/predict`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  // 1 000 users in turn, so the canary's sticky split sends some of them to v2 from its first 5 %
  // step (with 50, none hashed below 5 % and the analysis paused for want of canary data). One
  // request built per call: autocannon pre-builds a static `requests` list for every connection,
  // which at 1 000 connections × 1 000 bodies blocked this process for ~20 s before the first answer.
  requests: [{ setupRequest: (request) => ({ ...request, body: bodies[nextBody++ % bodies.length] }) }],
  connections: CONNECTIONS,
  duration: DURATION_S,
});
clearTimeout(rollbackTimer);
analysis.stop();
await new Promise<void>((resolve) => server.close(() => resolve()));
await router.pool.dispose();

// autocannon counts a timeout among the errors too.
const failed = result.non2xx + result.errors;
const p99 = (v: number) => monitor.stats(v, { window: 'lifetime' }).p99LatencyMs.toFixed(2);
console.log(`load: ${DURATION_S} s, ${CONNECTIONS} connections, POST /predict on loopback${CONTROL ? ' (CONTROL: v1 alone, no rollout)' : ''}`);
console.log(`requests ${result.requests.total} (${Math.round(result.requests.average)} req/s); 2xx ${result['2xx']}; non-2xx ${result.non2xx}; errors ${result.errors}; timeouts ${result.timeouts}`);
console.log(`latency ms: p50 ${result.latency.p50}, p90 ${result.latency.p90}, p99 ${result.latency.p99}, max ${result.latency.max}`);
console.log(`monitor lifetime p99 (inside the host): v1 ${p99(1)} ms, v2 ${p99(2)} ms; final canary state: ${canary.state.status} ${canary.state.percentage} %`);
console.log(`canary transitions:\n${transitions.map((t) => `  ${t}`).join('\n') || '  none'}`);
if (atRollback) {
  // Requests in flight at the rollback (at most one per connection) may still finish on v2.
  console.log(`served before the rollback: v1 ${atRollback[0]}, v2 ${atRollback[1]}; after it: v1 ${served(1) - atRollback[0]}, v2 ${served(2) - atRollback[1]}`);
} else {
  console.log(`no planned rollback: the canary was ${canary.state.status} at halfway; served: v1 ${served(1)}, v2 ${served(2)}`);
}
const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
console.log(`load average (1, 5, 15 min): start ${fmt(loadAtStart)}, end ${fmt(loadavg())}`);
if (failed > 0) {
  console.error(`FAILED: ${failed} requests did not get a 200${CONTROL ? ' (control run: no rollout)' : ' while the rollout moved'}`);
  process.exitCode = 1;
}
