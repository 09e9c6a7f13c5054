/**
 * The README's code must run as written: its TypeScript blocks after "## Quick start" are joined,
 * pointed at this checkout instead of the published package, and run in a fresh directory that
 * holds the two ONNX files the quick start registers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { irisClassifier, linearClassifier } from '../fixtures/onnx-models.js';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'model-rollout-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('runs the quick start and the A/B snippet exactly as the README shows them', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Guides'));
  const blocks = [...quickStart.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  const entry = pathToFileURL(join(root, 'src/index.ts')).href;
  const testingEntry = pathToFileURL(join(root, 'src/testing/index.ts')).href;
  const script = blocks
    .join('\n')
    .replaceAll("from 'model-rollout/testing'", `from '${testingEntry}'`)
    .replaceAll("from 'model-rollout'", `from '${entry}'`);
  writeFileSync(join(dir, 'quick-start.mts'), script);
  writeFileSync(join(dir, 'iris-v1.onnx'), irisClassifier());
  writeFileSync(
    join(dir, 'iris-v2.onnx'),
    linearClassifier({
      coefficients: [-0.4, 1, -2.5, -1.1, 0.5, -0.3, -0.2, -0.9, -0.1, -0.7, 2.7, 2],
      intercepts: [9.8, 2.2, -12],
      classes: [0, 1, 2],
    }),
  );
  const tsx = import.meta.resolve('tsx');
  const output = execFileSync(process.execPath, ['--import', tsx, 'quick-start.mts'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  expect(output).toMatch(/prediction: 0/);
  expect(output).toMatch(/model_version: [12]/);
  expect(output).toMatch(/srm/);
});
