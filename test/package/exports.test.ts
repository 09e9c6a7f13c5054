import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
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

/** A declaration's name as the published types would show it: `Name`, or `Owner.member` for a class or interface member. */
function qualifiedName(node: ts.Node): string | undefined {
  const owner = node.parent;
  const ownerName = (ts.isClassLike(owner) || ts.isInterfaceDeclaration(owner)) && owner.name !== undefined ? owner.name.text : undefined;
  if (ts.isConstructorDeclaration(node)) return ownerName === undefined ? undefined : `${ownerName}.constructor`;
  const name = (node as { name?: ts.Node }).name;
  if (name === undefined || !(ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name))) return undefined;
  return ownerName === undefined ? name.text : `${ownerName}.${name.text}`;
}

/** Every declaration of `files` that `keep` accepts, by qualified name, with the file it is in. */
function declarations(files: string[], keep: (node: ts.Node) => boolean): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isDeclarationStatement(node) || ts.isClassElement(node) || ts.isTypeElement(node) || ts.isVariableDeclaration(node)) {
        const name = qualifiedName(node);
        if (name !== undefined && keep(node)) found.set(name, path.relative(ROOT, file));
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

/** Whether a declaration carries `@internal` in its own doc comment (a variable's sits on its statement). */
function isInternal(node: ts.Node): boolean {
  const holder = ts.isVariableDeclaration(node) ? node.parent.parent : node;
  return ts.getJSDocTags(holder).some((tag) => tag.tagName.text === 'internal');
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

  it('publishes no @internal declaration or member in any dist/*.d.ts or *.d.cts (stripInternal)', () => {
    const internal = declarations(
      listFiles(path.join(ROOT, 'src')).filter((file) => file.endsWith('.ts')),
      isInternal,
    );
    // The probe must see the internals it guards against, or it proves nothing.
    expect([...internal.keys()]).toEqual(expect.arrayContaining(['AnalysisTarget', 'AnalysisSteering', 'steer', 'resolveAnalysisOptions']));
    const dts = listFiles(path.join(ROOT, 'dist')).filter((file) => /\.d\.c?ts$/.test(file));
    expect(dts.length).toBeGreaterThanOrEqual(8);
    const published = declarations(dts, () => true);
    const leaked = [...internal].filter(([name]) => published.has(name)).map(([name, file]) => `${name} (${file}) in ${published.get(name)}`);
    expect(leaked).toEqual([]);
    for (const file of dts) expect(readFileSync(file, 'utf8'), path.relative(ROOT, file)).not.toMatch(/@internal\b/);
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

  it.each([['cli.js', './index.js'], ['cli.cjs', './index.cjs']])('builds the bin %s on the package entry %s, holding no library class itself', (bin, entry) => {
    const code = readFileSync(path.join(ROOT, 'dist', bin), 'utf8');
    expect(code).toContain(bin.endsWith('.cjs') ? `require('${entry}')` : `from '${entry}'`);
    for (const name of SHARED_CLASSES) expect(code, name).not.toMatch(new RegExp(`\\bclass ${name}\\b|\\b${name} = class\\b`));
  });

  it('exports the same names from ESM and CJS', async () => {
    const [esm, cjs] = await Promise.all([exportedNames('import'), exportedNames('require')]);
    expect([...cjs.root].sort()).toEqual([...esm.root].sort());
    expect([...cjs.testing].sort()).toEqual([...esm.testing].sort());
  });
});
