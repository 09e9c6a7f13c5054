import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ort from 'onnxruntime-node';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIrisVersions } from '../../examples/demo/iris.js';
import { createModelServer } from '../../examples/http-server.js';
import { CanaryDeployment, DeploymentMonitor, MemoryStorage, ModelRegistry, ModelRouter } from '../../src/index.js';

ort.env.logLevel = 'fatal';

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const LONG_PETAL = [6.3, 3.3, 6.0, 2.5];

let base: string;
let close: () => Promise<void>;
let monitor: DeploymentMonitor;
let router: ModelRouter;

beforeAll(async () => {
  const trained = buildIrisVersions();
  const registry = new ModelRegistry({ storage: new MemoryStorage() });
  await registry.register('iris', trained.v1.bytes, { description: 'v1' });
  await registry.register('iris', trained.v2.bytes, { description: 'v2' });
  await registry.register('iris', trained.v3.bytes, { description: 'v3, broken on long petals' });
  await registry.setAlias('iris', 'production', 1);
  const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [50, 100] });
  canary.start();
  monitor = new DeploymentMonitor();
  router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor });
  const server = createModelServer({ router, maxBodyBytes: 1024 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise<void>((resolve) => server.close(() => resolve()));
});

afterAll(async () => {
  await close();
  await router.pool.dispose();
});

async function post(body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const predict = (body: unknown) => post(JSON.stringify(body));

describe('examples/http-server over real HTTP', () => {
  it('POST /predict answers the class, its probabilities, the version and the variant', async () => {
    const { status, json } = await predict({ features: SETOSA });
    expect(status).toBe(200);
    expect(json.prediction).toBe(0);
    expect(json.probabilities).toHaveLength(3);
    expect((json.probabilities as number[]).reduce((a, b) => a + b)).toBeCloseTo(1, 5);
    expect([1, 2]).toContain(json.model_version);
    expect(json.variant).toBe(json.model_version === 1 ? 'stable' : 'canary');
  });

  it('routes a unit_id to the same version every time, and spreads users over both', async () => {
    const seen = new Set<unknown>();
    for (let u = 0; u < 20; u++) {
      const first = await predict({ features: SETOSA, unit_id: `user-${u}` });
      const again = await predict({ features: SETOSA, unit_id: `user-${u}` });
      expect(again.json.model_version).toBe(first.json.model_version);
      seen.add(first.json.model_version);
    }
    expect(seen).toEqual(new Set([1, 2]));
  });

  it('honours model_version as a number, a numeric string, latest and an alias (variant explicit)', async () => {
    for (const [ref, version] of [[2, 2], ['2', 2], ['latest', 3], ['@production', 1]] as const) {
      const { status, json } = await predict({ features: SETOSA, model_version: ref });
      expect(status, String(ref)).toBe(200);
      expect(json).toMatchObject({ model_version: version, variant: 'explicit', prediction: 0 });
    }
  });

  it('answers 400 with the parser message for a body that is not JSON', async () => {
    const { status, json } = await post('{"features": [5.1, 3.5,');
    expect(status).toBe(400);
    expect(json.code).toBe('VALIDATION');
    expect(json.error).toMatch(/^request body must be JSON: /);
  });

  it('answers 400 naming features when they are missing, empty or not numbers', async () => {
    for (const body of [{}, { features: [] }, { features: ['5.1', 3.5, 1.4, 0.2] }, { features: 'abc' }, [SETOSA], null]) {
      const { status, json } = await predict(body);
      expect(status, JSON.stringify(body)).toBe(400);
      expect(json.code).toBe('VALIDATION');
      expect(json.error).toMatch(/features must be|request body must be a JSON object/);
    }
  });

  it('answers 400 with the InputShapeError message for a wrong feature count, and does not count it against the version', async () => {
    const before = monitor.stats(1, { window: 'lifetime' }).totalRequests + monitor.stats(2, { window: 'lifetime' }).totalRequests;
    for (const features of [[5.1, 3.5, 1.4], [5.1, 3.5, 1.4, 0.2, 9]]) {
      const { status, json } = await predict({ features, unit_id: 'user-1' });
      expect(status).toBe(400);
      expect(json.code).toBe('INPUT_SHAPE');
      expect(json.error).toContain(`expected 'input' float32[N,4], got [0] (depth 2) with ${features.length} values, expected 4 (dims [1,4])`);
    }
    const after = monitor.stats(1, { window: 'lifetime' }).totalRequests + monitor.stats(2, { window: 'lifetime' }).totalRequests;
    expect(after).toBe(before);
  });

  it('answers 400 for a malformed model_version and 404 for a version that does not exist', async () => {
    const malformed = await predict({ features: SETOSA, model_version: 'v1.0' });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toContain('"v1.0"');
    const wrongType = await predict({ features: SETOSA, model_version: { v: 1 } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error).toMatch(/^model_version must be/);
    const missing = await predict({ features: SETOSA, model_version: 99 });
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe('NOT_FOUND');
  });

  it('answers 500 naming the version when a model fails to run (v3 on a long petal)', async () => {
    const { status, json } = await predict({ features: LONG_PETAL, model_version: 3 });
    expect(status).toBe(500);
    expect(json).toMatchObject({ model_version: 3, variant: 'explicit' });
    expect(json.error).toContain('indices element out of data bounds');
    expect((await predict({ features: SETOSA, model_version: 3 })).status).toBe(200);
  });

  it('answers 413 for a body over the limit and 405 / 404 for other methods and paths', async () => {
    const big = await post(JSON.stringify({ features: SETOSA, pad: 'x'.repeat(2000) }));
    expect(big.status).toBe(413);
    expect((await fetch(`${base}/predict`)).status).toBe(405);
    expect((await fetch(`${base}/health`, { method: 'DELETE' })).status).toBe(405);
    const unknown = await fetch(`${base}/nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no route for GET /nope' });
  });

  it('GET /models/:name/versions lists versions, aliases and the live split', async () => {
    const res = await fetch(`${base}/models/iris/versions`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect((body.versions as Array<{ version: number }>).map((v) => v.version)).toEqual([1, 2, 3]);
    expect(body.aliases).toEqual({ production: 1 });
    expect(body.serving).toEqual([
      { version: 1, variant: 'stable', share: 0.5 },
      { version: 2, variant: 'canary', share: 0.5 },
    ]);
    expect((await fetch(`${base}/models/unknown/versions`)).status).toBe(404);
    const invalid = await fetch(`${base}/models/${encodeURIComponent('a b')}/versions`);
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { code: string }).code).toBe('VALIDATION');
  });

  it('GET /metrics is Prometheus text whose counts match the monitor', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusTextFormat(await res.text());
    const requests = families.find((f) => f.name === 'model_rollout_requests_total');
    expect(requests?.type).toBe('COUNTER');
    for (const version of [1, 2, 3]) {
      const metric = requests?.metrics.find((m) => m.labels?.['version'] === String(version));
      expect(Number(metric?.value)).toBe(monitor.stats(version, { window: 'lifetime' }).totalRequests);
      expect(metric?.labels?.['model']).toBe('iris');
    }
    const failures = families.find((f) => f.name === 'model_rollout_failures_total');
    const v3 = failures?.metrics.find((m) => m.labels?.['version'] === '3');
    expect(Number(v3?.value)).toBe(monitor.stats(3, { window: 'lifetime' }).failures);
    expect(Number(v3?.value)).toBeGreaterThanOrEqual(1);
  });

  it('GET /health is ok and names what is served', async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      model: 'iris',
      serving: [
        { version: 1, variant: 'stable', share: 0.5 },
        { version: 2, variant: 'canary', share: 0.5 },
      ],
    });
  });

  it('answers 400, never 500, to a request target that is not a valid path', async () => {
    for (const target of ['/models/%E0%A4%A/versions', '/models/%ZZ/versions', '//', '/models//versions', '*']) {
      const { status, json } = await raw('GET', target);
      expect(status, target).toBe(400);
      expect(json.error).toMatch(/percent-encoded|absolute path/);
    }
  });

  it('answers 415 to a /predict body declared as anything but JSON, and reads an undeclared or +json one', async () => {
    const body = JSON.stringify({ features: SETOSA });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const { status, json } = await raw('POST', '/predict', body, type);
      expect(status, type).toBe(415);
      expect(json.error).toContain('must be application/json');
    }
    for (const type of ['application/json; charset=utf-8', 'Application/JSON', 'application/vnd.iris+json', undefined]) {
      expect((await raw('POST', '/predict', body, type)).status, String(type)).toBe(200);
    }
  });

  it('applies the library\'s one rule for version refs: decimal digits are that version, anything else near it is a 400', async () => {
    for (const ref of ['02', '-1', '1.5', '2 ', '1e3', '9007199254740993']) {
      const { status, json } = await predict({ features: SETOSA, model_version: ref });
      expect(status, ref).toBe(400);
      expect(json.error).toMatch(/version ref must be/);
      const direct = await router.registry.resolve('iris', ref as never).catch((e: unknown) => e);
      expect((direct as Error).message).toBe(json.error);
    }
  });
});

async function raw(method: string, path: string, body?: string, contentType?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: contentType === undefined ? {} : { 'content-type': contentType } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
