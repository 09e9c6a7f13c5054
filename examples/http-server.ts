/**
 * A node:http host for model-rollout, no framework: the seed tutorial's FastAPI service rebuilt
 * on the library.
 *
 * - `POST /predict` `{ features, model_version?, unit_id? }` →
 *   `{ prediction, probabilities?, classes?, model_version, variant }` (`features`: numbers, or
 *   strings for a model with a string input; `classes` when the model names its classes, as a
 *   scikit-learn classifier exported with a `ZipMap` does)
 * - `GET /models/:name/versions` → the registry's versions and aliases (and, for the model the
 *   router serves, its current traffic split)
 * - `GET /metrics` → Prometheus text exposition from the router's `DeploymentMonitor`
 * - `GET /health` → `{ status: 'ok', model, serving }`
 *
 * The caller's mistakes (a malformed URL, invalid JSON, missing or non-numeric features, a wrong
 * feature count, a malformed `model_version`) are a 400 with the library error's message, a body
 * declared as other than JSON a 415, an unknown version a 404: never a 500. A 500 means a model failed to run, and says which version.
 *
 * Run it: `npx tsx examples/http-server.ts` (env: `PORT` (8080), `HOST` (127.0.0.1),
 * `MODELS_DIR` (./models)). On an empty registry it trains and registers two iris versions first,
 * then canaries the newer one with automated analysis.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CanaryDeployment,
  canaryAnalysis,
  type CanaryAnalysis,
  DeploymentMonitor,
  FileSystemStorage,
  InputShapeError,
  ModelRegistry,
  ModelRolloutError,
  ModelRouter,
  NotFoundError,
  StaticPolicy,
  ValidationError,
  isRoutedError,
  toPrediction,
  type RoutingPolicy,
} from '../src/index.js';
// describeValue is the library's own wording of a bad value; the example reuses it rather than a copy.
import { describeValue } from '../src/errors.js';

/** What the HTTP host serves from. */
export interface ModelServerOptions {
  /** The router answering `/predict`; its `registry` and `monitor` answer the other routes. */
  router: ModelRouter;
  /** Largest request body accepted, in bytes (default 64 KiB); a bigger one is a 413. */
  maxBodyBytes?: number;
}

/** The JSON body of `POST /predict`: the seed's `PredictionRequest`, plus an optional sticky `unit_id`. */
export interface PredictRequestBody {
  /** One row: numbers, or strings for a model with a string input (`["red", "small"]`). */
  features: number[] | string[];
  /** A version number (`3` or `"3"`), `'latest'` or `'@alias'`; omitted → the rollout policy decides. */
  model_version?: number | string;
  /** Stable id of the caller (user, session), so the policy sends it to the same version every time. */
  unit_id?: string;
}

/** An HTTP-level failure with its status; its message is the response's `error`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The status for an error thrown while serving: the caller's mistakes are 4xx, ours 5xx. */
export function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (error instanceof ValidationError || error instanceof InputShapeError) return 400;
  if (error instanceof NotFoundError) return 404;
  return 500;
}

/**
 * Checks a parsed `/predict` body. Throws `ValidationError` naming the field, what was expected
 * and what was given. A `model_version` string is passed on as is: the library's one rule for
 * version refs (a number, its decimal digits such as `"3"`, `'latest'`, `'@alias'`) decides, and
 * names a bad one.
 */
export function parsePredictBody(body: unknown): PredictRequestBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError(`request body must be a JSON object like {"features":[5.1,3.5,1.4,0.2]}, got ${describeValue(body)}`);
  }
  const { features, model_version: modelVersion, unit_id: unitId } = body as Record<string, unknown>;
  if (
    !Array.isArray(features) ||
    features.length === 0 ||
    // every() skips the holes of a sparse array; a body built in code can have them.
    Object.keys(features).length !== features.length ||
    !(features.every((f) => typeof f === 'number') || features.every((f) => typeof f === 'string'))
  ) {
    throw new ValidationError(`features must be a non-empty array of numbers or of strings, got ${describeValue(features)}`);
  }
  const parsed: PredictRequestBody = { features: features as number[] | string[] };
  if (modelVersion !== undefined && modelVersion !== null) {
    if (typeof modelVersion === 'string' || typeof modelVersion === 'number') {
      parsed.model_version = modelVersion;
    } else {
      throw new ValidationError(`model_version must be a version number, 'latest' or '@alias', got ${describeValue(modelVersion)}`);
    }
  }
  if (unitId !== undefined && unitId !== null) {
    if (typeof unitId !== 'string' || unitId.length === 0) {
      throw new ValidationError(`unit_id must be a non-empty string, got ${describeValue(unitId)}`);
    }
    parsed.unit_id = unitId;
  }
  return parsed;
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, `request body must be at most ${maxBytes} bytes, got more`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The request's path without its query; a target that is not an absolute path, or has an empty segment (`//`), is a 400. */
function pathOf(req: IncomingMessage): string {
  const target = req.url ?? '/';
  const path = target.split('?', 1)[0]!;
  if (!path.startsWith('/') || path.includes('//')) {
    throw new HttpError(400, `request target must be an absolute path without empty segments, got ${describeValue(target)}`);
  }
  return path;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `path segment ${describeValue(segment)} is not valid percent-encoded UTF-8`);
  }
}

/** `POST /predict` bodies are JSON: a body declared as anything else is a 415 (no declared type is read as JSON). */
function checkJsonContentType(req: IncomingMessage): void {
  const declared = req.headers['content-type'];
  if (declared === undefined) return;
  const type = declared.split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new HttpError(415, `request body must be application/json, got content-type ${describeValue(declared)}`);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Creates (does not start) the HTTP server. Call `listen(port)` on it; `listen(0)` picks a free port.
 *
 * @example
 * ```ts
 * const router = new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }) });
 * createModelServer({ router }).listen(8080);
 * // curl -s localhost:8080/predict -H 'content-type: application/json' -d '{"features":[5.1,3.5,1.4,0.2]}'
 * // → {"prediction":0,"probabilities":[0.97,0.03,0],"model_version":1,"variant":"stable"}
 * ```
 */
export function createModelServer(options: ModelServerOptions): Server {
  const { router, maxBodyBytes = 64 * 1024 } = options;
  const { registry, monitor } = router;

  async function serving() {
    return (await router.versions()).map(({ version, variant, share }) => ({ version, variant, share }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);

    if (path === '/predict') {
      if (req.method !== 'POST') throw new HttpError(405, `/predict takes POST, got ${req.method ?? 'no method'}`);
      checkJsonContentType(req);
      const text = await readBody(req, maxBodyBytes);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw new ValidationError(`request body must be JSON: ${(error as Error).message}`);
      }
      const body = parsePredictBody(json);
      const row = body.features;
      const result = await router.predict(typeof row[0] === 'string' ? [row as string[]] : [row as number[]], {
        ...(body.unit_id !== undefined && { unitId: body.unit_id }),
        ...(body.model_version !== undefined && { version: body.model_version }),
      });
      sendJson(res, 200, { ...toPrediction(result.output), model_version: result.version, variant: result.variant });
      return;
    }

    if (req.method !== 'GET') throw new HttpError(405, `${path} takes GET, got ${req.method ?? 'no method'}`);
    const versionsPath = /^\/models\/([^/]+)\/versions$/.exec(path);
    if (versionsPath) {
      const name = decodeSegment(versionsPath[1]!);
      const versions = await registry.listVersions(name);
      if (versions.length === 0) throw new NotFoundError(`model '${name}' has no versions`);
      sendJson(res, 200, {
        model: name,
        versions: versions.map((v) => ({
          version: v.version,
          createdAt: v.createdAt,
          sha256: v.sha256,
          description: v.description,
          tags: v.tags,
        })),
        aliases: await registry.getAliases(name),
        ...(name === router.model && { serving: await serving() }),
      });
      return;
    }
    if (path === '/metrics') {
      const text = monitor.toPrometheus({ labels: { model: router.model } });
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(text);
      return;
    }
    if (path === '/health') {
      sendJson(res, 200, { status: 'ok', model: router.model, serving: await serving() });
      return;
    }
    throw new HttpError(404, `no route for ${req.method} ${path}`);
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, statusOf(error), {
        error: error instanceof Error ? error.message : String(error),
        ...(error instanceof ModelRolloutError && { code: error.code }),
        // Which version failed, so a 500 can be traced to a rollout.
        ...(isRoutedError(error) && { model_version: error.version, variant: error.variant }),
      });
    });
  });
}

/**
 * How the standalone host judges its canary: error rate in absolute terms, latency relative to
 * the stable version measured in the same window. An absolute latency limit would roll back a
 * healthy canary whenever the host as a whole is slow (under 1 000 connections both versions'
 * p99 passed 150 ms), which is the load, not the canary.
 */
export const CANARY_ANALYSIS = {
  minRequests: 50,
  maxErrorRate: 0.01,
  relative: { maxLatencyRatio: 1.5, maxErrorRateIncrease: 0.01 },
} as const;

/**
 * The standalone host: a registry on `dir`, seeded with two trained iris versions when empty,
 * and a router that canaries `'latest'` against `@production` under automated analysis (or
 * serves `@production` alone when they are the same version).
 */
async function main(): Promise<void> {
  const dir = resolve(process.env['MODELS_DIR'] ?? './models');
  const port = Number(process.env['PORT'] ?? 8080);
  const host = process.env['HOST'] ?? '127.0.0.1';
  const model = 'iris';
  const registry = new ModelRegistry({ storage: new FileSystemStorage(dir) });

  if ((await registry.listVersions(model)).length === 0) {
    // Dev-only path: the trainer lives with the demo and needs the dev dependencies.
    const { buildIrisVersions } = await import('./demo/iris.js');
    const trained = buildIrisVersions();
    await registry.register(model, trained.v1.bytes, { description: 'iris, sepal measurements only' });
    await registry.register(model, trained.v2.bytes, { description: 'iris, all four measurements' });
    await registry.setAlias(model, 'production', 1, { by: 'http-server', reason: 'seeded' });
    process.stdout.write(`registered iris v1 and v2 in ${dir}; @production → v1\n`);
  }
  const aliases = await registry.getAliases(model);
  const production = aliases['production'] ?? (await registry.resolve(model, 'latest')).version;
  const latest = (await registry.resolve(model, 'latest')).version;

  const monitor = new DeploymentMonitor();
  let policy: RoutingPolicy;
  let analysis: CanaryAnalysis | undefined;
  if (latest === production) {
    policy = new StaticPolicy({ version: production });
  } else {
    const canary = new CanaryDeployment({ stable: production, canary: latest, steps: [10, 50, 100], name: `${model}-v${latest}` });
    analysis = canaryAnalysis(canary, { monitor, ...CANARY_ANALYSIS, intervalMs: 30_000 });
    canary.on('promoted', (e) => {
      void registry.setAlias(model, 'production', e.to, { by: 'canary-analysis', reason: 'canary promoted' });
    });
    for (const event of ['stepped', 'promoted', 'rolledBack', 'paused'] as const) {
      canary.on(event, (e: object) => process.stdout.write(`canary ${event}: ${JSON.stringify(e)}\n`));
    }
    canary.start();
    analysis.start();
    policy = canary;
  }
  const router = new ModelRouter({ registry, model, policy, monitor });
  const server = createModelServer({ router });
  server.listen(port, host, () => {
    const base = `http://${host}:${port}`;
    process.stdout.write(
      [
        `serving '${model}' on ${base} (${latest === production ? `v${production}` : `canary v${production} → v${latest}, analysed every 30 s`})`,
        `  curl -s ${base}/predict -H 'content-type: application/json' -d '{"features":[5.1,3.5,1.4,0.2],"unit_id":"user-1"}'`,
        `  curl -s ${base}/models/${model}/versions`,
        `  curl -s ${base}/metrics`,
        '',
      ].join('\n'),
    );
  });
  const shutdown = (): void => {
    analysis?.stop();
    server.close(() => void router.pool.dispose());
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`http-server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
