import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as a user gets it: `npm pack`, installed from the tarball into a project of its own
 * (dependencies from the local npm cache), then a user's rollout test run from ESM and CJS through
 * `model-rollout/testing`, and a strict consumer type-check of every entry point.
 */
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** A user's rollout test, as a user would write it against the installed package. */
function rolloutTest(load: (name: string) => string): string {
  return `
${load('model-rollout')}
${load('model-rollout/testing')}
const assert = (ok, what) => { if (!ok) { console.error('FAILED: ' + what); process.exit(1); } };

async function rollout(failureRate) {
  const clock = new FakeClock();
  const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 60_000 });
  const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [5, 10, 25, 50, 100], clock: clock.now });
  const analysis = canaryAnalysis(canary, { monitor, clock: clock.now, intervalMs: 60_000, minRequests: 100, maxErrorRate: 0.02 });
  canary.start();
  const random = seededRandom(42);
  const run = await simulate({
    policy: canary, analysis, monitor, clock,
    requests: 100_000, requestsPerStep: 1_000, stepMs: 10_000, analyzeEveryMs: 60_000, unitIds: 10_000,
    outcome: (version) => ({ latencyMs: 5, success: version === 2 ? random() >= failureRate : true }),
  });
  return { status: canary.state.status, run };
}

const failing = await rollout(0.1);
assert(failing.status === 'rolledBack', 'a canary failing 10 % is rolled back, got ' + failing.status);
assert(failing.run.maxPercentage <= 10, 'it never took more than 10 %, got ' + failing.run.maxPercentage);
const healthy = await rollout(0);
assert(healthy.status === 'promoted', 'a healthy canary is promoted, got ' + healthy.status);

let thrown;
try { await simulate({ policy: new StaticPolicy({ version: 1 }), clock: 'not a clock', requests: 1 }); } catch (error) { thrown = error; }
assert(thrown instanceof ValidationError && thrown instanceof ModelRolloutError, 'a testing helper throws the main entry\\'s ValidationError');
console.log('ok');
`;
}

/** Uses every public entry point, under the strictest settings a consumer may have. */
const CONSUMER = `
import {
  CanaryDeployment, DeploymentMonitor, MemoryStorage, ModelRegistry, ModelRouter, PredictorPool, FunctionPredictor,
  ValidationError, canaryAnalysis, type Predictor, type PooledPredictor, type RouterPrediction,
} from 'model-rollout';
import { FakeClock, simulate, testStorageAdapter, type Simulation } from 'model-rollout/testing';
import { S3Storage, type S3ClientLike } from 'model-rollout/s3';
import { PostgresStorage, type PgPoolLike } from 'model-rollout/postgres';

const registry = new ModelRegistry({ storage: new MemoryStorage() });
const pool = new PredictorPool({ registry, create: async () => new FunctionPredictor(async () => ({})) });
const handle: Predictor | undefined = pool.peek('iris', 1) satisfies PooledPredictor | undefined;
const monitor = new DeploymentMonitor();
const canary = new CanaryDeployment({ stable: 1, canary: 2 });
const analysis = canaryAnalysis(canary, { monitor, maxErrorRate: 0.02 });
const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool });
const answer: Promise<RouterPrediction> = router.predict([1, 2, 3, 4], { unitId: 'u' });
const clock = new FakeClock();
const run: Promise<Simulation> = simulate({ policy: canary, analysis, monitor, clock, requests: 1, outcome: () => ({ latencyMs: 1, success: true }) });
declare const s3: S3ClientLike;
declare const pg: PgPoolLike;
const stores = [new S3Storage({ client: s3, bucket: 'b' }), new PostgresStorage({ pool: pg, table: 't' })];
export { handle, answer, run, stores, testStorageAdapter, ValidationError };
`;

function tsconfig(moduleResolution: 'nodenext' | 'bundler', file: string): string {
  return JSON.stringify({
    compilerOptions: {
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: false,
      noEmit: true,
      target: 'ES2022',
      // onnxruntime-common's own declarations name browser types (ImageData, WebGLTexture): any
      // consumer of onnxruntime-node that checks library types needs DOM in lib, with or without us.
      lib: ['ES2022', 'DOM'],
      module: moduleResolution === 'nodenext' ? 'nodenext' : 'esnext',
      moduleResolution,
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    },
    files: [file],
  });
}

describe('the packed tarball, installed into a project of its own', () => {
  let project: string;

  beforeAll(async () => {
    project = mkdtempSync(path.join(tmpdir(), 'model-rollout-pack-'));
    // `npm test` builds first; pack only copies dist (no prepack script runs the build again).
    await run(NPM, ['pack', '--pack-destination', project, '--ignore-scripts'], { cwd: ROOT });
    const tarball = readdirSync(project).find((f) => f.endsWith('.tgz')) as string;
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(path.join(project, '.npmrc'), 'onnxruntime-node-install=skip\n');
    await run(NPM, ['install', `./${tarball}`, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: project,
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    });
  }, 240_000);

  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it.each([
    ['ESM', 'rollout.test.mjs', (name: string) => `const { ${name === 'model-rollout' ? 'CanaryDeployment, DeploymentMonitor, StaticPolicy, ValidationError, ModelRolloutError, canaryAnalysis' : 'FakeClock, seededRandom, simulate'} } = await import('${name}');`],
    ['CJS', 'rollout.test.cjs', (name: string) => `const { ${name === 'model-rollout' ? 'CanaryDeployment, DeploymentMonitor, StaticPolicy, ValidationError, ModelRolloutError, canaryAnalysis' : 'FakeClock, seededRandom, simulate'} } = require('${name}');`],
  ])('runs a user’s rollout test from %s through model-rollout/testing', async (_kind, file, load) => {
    const body = rolloutTest(load);
    // CJS has no top-level await: the same test inside an async function.
    writeFileSync(path.join(project, file), file.endsWith('.cjs') ? `(async () => {${body}})();` : body);
    const { stdout } = await run(process.execPath, [file], { cwd: project });
    expect(stdout.trim()).toBe('ok');
  }, 60_000);

  // A .cts file under nodenext is CommonJS: its imports resolve the `require` condition, so the
  // dist/*.d.cts declarations are checked as strictly as the ESM ones.
  it.each([
    ['ESM', 'nodenext', 'consumer.ts'],
    ['ESM', 'bundler', 'consumer.ts'],
    ['CJS', 'nodenext', 'consumer.cts'],
  ] as const)('type-checks a strict %s consumer of every entry point (moduleResolution %s)', async (_kind, resolution, file) => {
    writeFileSync(path.join(project, file), CONSUMER);
    const config = `tsconfig.${resolution}.${file}.json`;
    writeFileSync(path.join(project, config), tsconfig(resolution, file));
    const checked = await run(process.execPath, [TSC, '-p', config, '--traceResolution'], { cwd: project }).catch((error: { stdout?: string }) => error);
    const output = (checked as { stdout?: string }).stdout ?? '';
    expect(output.split('\n').filter((line) => /error TS/.test(line))).toEqual([]);
    // The declarations the consumer was checked against: .d.cts for CJS, .d.ts for ESM.
    const resolved = /'model-rollout' was successfully resolved to '([^']+)'/.exec(output)?.[1];
    expect(resolved).toMatch(file.endsWith('.cts') ? /dist\/index\.d\.cts$/ : /dist\/index\.d\.ts$/);
  }, 120_000);
});
