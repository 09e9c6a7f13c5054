import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Names every build must export; other modules' names are added here as they land. */
// The public names DESIGN.md makes binding, plus the pure statistics and the helpers the guides use.
const ROOT_NAMES = [
  ...Object.keys(errors).filter((name) => name.endsWith('Error')),
  'ModelRegistry', 'MemoryStorage', 'FileSystemStorage',
  'OnnxPredictor', 'FunctionPredictor', 'BatchingPredictor', 'PredictorPool', 'toPrediction',
  'StaticPolicy', 'BlueGreenSwitch', 'CanaryDeployment', 'ABTestController', 'ShadowDeployment', 'BanditPolicy',
  'hashUnit', 'DeploymentMonitor', 'ModelRouter', 'CanaryAnalysis', 'BlueGreenAnalysis', 'ABTestAnalysis',
  'welchTTest', 'twoProportionZTest', 'srmTest', 'sampleSize', 'minimumDetectableEffect', 'sequentialTest',
  'proportionNonInferiorityTest', 'latencyNonInferiorityTest', 'offPolicyEstimate', 'judgeEvidence', 'outcomesBetween',
];
const TESTING_NAMES = ['FakeClock', 'seededRandom', 'testStorageAdapter', 'simulate'];
/** Helpers the modules share among themselves; the curated surface must not leak them. */
const INTERNAL_NAMES = ['describeValue', 'checkName', 'checkNonEmptyString', 'checkVersion', 'murmur3Utf8', 'sampleGamma', 'sampleBeta', 'policyTraffic', 'AnalysisController', 'checkNumber'];
/** Classes the testing entry uses; each must be defined once per format (esbuild writes `var X = class`), so both entries share it. */
const SHARED_CLASSES = ['DeploymentMonitor', 'ModelRouter', 'ModelRolloutError', 'ValidationError', 'CanaryDeployment'];

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
  );
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Loads both entry points in a plain Node process (no vitest transforms), by the package's own name. */
async function exportedNames(
  kind: 'import' | 'require',
): Promise<{ root: string[]; testing: string[]; errorsWork: boolean; testingErrorIsRootClass: boolean }> {
  const load = kind === 'import' ? (s: string) => `await import('${s}')` : (s: string) => `require('${s}')`;
  const script = `
    const root = ${load('model-rollout')};
    const testing = ${load('model-rollout/testing')};
    const e = new root.ValidationError('x');
    const errorsWork = e instanceof root.ModelRolloutError && e.code === 'VALIDATION';
    let testingErrorIsRootClass = false;
    try { new testing.FakeClock(Number.NaN); } catch (error) { testingErrorIsRootClass = error instanceof root.ValidationError; }
    console.log(JSON.stringify({ root: Object.keys(root), testing: Object.keys(testing), errorsWork, testingErrorIsRootClass }));`;
  const args = kind === 'import' ? ['--input-type=module', '-e', script] : ['-e', script];
  const { stdout } = await run(process.execPath, args, { cwd: ROOT });
  return JSON.parse(stdout) as { root: string[]; testing: string[]; errorsWork: boolean; testingErrorIsRootClass: boolean };
}

describe('the built package', () => {
  beforeAll(async () => {
    // `npm test` builds before vitest; a lone run builds here when dist is missing or older than src.
    const built = path.join(ROOT, 'dist', 'index.js');
    if (!existsSync(built) || statSync(built).mtimeMs < newestMtime(path.join(ROOT, 'src'))) {
      await run(process.execPath, [path.join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js')], { cwd: ROOT });
    }
  }, 120_000);

  it('ships type declarations for both formats of both entry points', () => {
    for (const file of ['index.d.ts', 'index.d.cts', 'testing/index.d.ts', 'testing/index.d.cts']) {
      expect(existsSync(path.join(ROOT, 'dist', file)), file).toBe(true);
    }
  });

  it.each(['import', 'require'] as const)('exposes the public names through %s', async (kind) => {
    const { root, testing, errorsWork } = await exportedNames(kind);
    expect(root).toEqual(expect.arrayContaining(ROOT_NAMES));
    expect(testing).toEqual(expect.arrayContaining(TESTING_NAMES));
    expect(errorsWork).toBe(true);
  });

  it.each(['import', 'require'] as const)('keeps internal helpers out of the public surface (%s)', async (kind) => {
    const { root, testing } = await exportedNames(kind);
    for (const name of INTERNAL_NAMES) {
      expect(root, name).not.toContain(name);
      expect(testing, name).not.toContain(name);
    }
  });

  it.each(['import', 'require'] as const)('throws errors from model-rollout/testing that are the main entry\'s classes (%s)', async (kind) => {
    expect((await exportedNames(kind)).testingErrorIsRootClass).toBe(true);
  });

  it.each([['.js'], ['.cjs']])('defines every shared class in one %s file of dist/', (extension) => {
    const files = listFiles(path.join(ROOT, 'dist')).filter((file) => file.endsWith(extension));
    for (const name of SHARED_CLASSES) {
      const defining = files.filter((file) => new RegExp(`\\bclass ${name}\\b|\\b${name} = class\\b`).test(readFileSync(file, 'utf8')));
      expect(defining.map((file) => path.relative(ROOT, file)), name).toHaveLength(1);
    }
  });

  it('exports the same names from ESM and CJS', async () => {
    const [esm, cjs] = await Promise.all([exportedNames('import'), exportedNames('require')]);
    expect([...cjs.root].sort()).toEqual([...esm.root].sort());
    expect([...cjs.testing].sort()).toEqual([...esm.testing].sort());
  });
});
