/**
 * The bin as a user gets it: `npm pack`, installed from the tarball into a project of its own
 * (dependencies from the local npm cache), then `npx model-rollout …` registering and listing on
 * a file store, and a postgres:// store refused in one line naming the optional peer `pg`, which
 * the project did not install.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { irisClassifier } from '../fixtures/onnx-models.js';
import { ROOT, cliEnv, ensureBuilt } from './cli-helpers.js';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

describe('the model-rollout bin from the installed tarball', () => {
  let project: string;

  beforeAll(async () => {
    await ensureBuilt();
    project = mkdtempSync(path.join(tmpdir(), 'model-rollout-bin-'));
    await run(NPM, ['pack', '--pack-destination', project, '--ignore-scripts'], { cwd: ROOT });
    const tarball = readdirSync(project).find((f) => f.endsWith('.tgz')) as string;
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'operator', private: true }));
    writeFileSync(path.join(project, '.npmrc'), 'onnxruntime-node-install=skip\n');
    await run(NPM, ['install', `./${tarball}`, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: project,
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    });
    writeFileSync(path.join(project, 'iris.onnx'), irisClassifier());
  }, 240_000);
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  const npx = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run(NPX, ['--no-install', 'model-rollout', ...args], { cwd: project, env: cliEnv({ npm_config_loglevel: 'error' }) });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('is linked as node_modules/.bin/model-rollout and answers --help', async () => {
    expect(existsSync(path.join(project, 'node_modules', '.bin', 'model-rollout'))).toBe(true);
    const help = await npx('--help');
    expect(help).toMatchObject({ code: 0 });
    expect(help.stdout).toMatch(/^Usage: model-rollout <command>/);
  }, 60_000);

  it('registers and lists on the default file:./models store', async () => {
    const registered = await npx('register', 'iris', 'iris.onnx', '--tag', 'team=search');
    expect(registered).toMatchObject({ code: 0, stdout: expect.stringMatching(/^registered iris version 1 /) });
    expect(existsSync(path.join(project, 'models', 'models', 'iris', 'versions', '1.json'))).toBe(true);
    const versions = JSON.parse((await npx('versions', 'iris', '--json')).stdout);
    expect(versions).toEqual([expect.objectContaining({ name: 'iris', version: 1, tags: { team: 'search' } })]);
  }, 60_000);

  it('names the optional peer to install when a store needs one', async () => {
    expect(existsSync(path.join(project, 'node_modules', 'pg'))).toBe(false);
    const result = await npx('models', '--store', 'postgres://postgres@127.0.0.1:5432/test');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^model-rollout: StorageError: a postgres:\/\/ store needs the optional peer dependency pg: npm install pg \([^\n]*\)\n$/);
  }, 60_000);
});
