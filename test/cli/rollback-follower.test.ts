/**
 * A `rollback` typed in the CLI reaches a running router process: the replica (a child process
 * with a DeploymentFollower, from the built package) serves the stable version again within
 * 2 × its follow interval, and `history` names the operator as the rollback's author.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanaryDeployment, DeploymentStore } from '../../src/index.js';
import { irisClassifier, linearClassifier } from '../fixtures/onnx-models.js';
import { cli, ensureBuilt, openFileStore, openPostgresStore, PG_URL, ROOT, type TestStore } from './cli-helpers.js';

const FOLLOW_MS = 500;
const files = mkdtempSync(path.join(tmpdir(), 'model-rollout-cli-follow-'));
writeFileSync(path.join(files, 'v1.onnx'), irisClassifier());
writeFileSync(path.join(files, 'v2.onnx'), linearClassifier({ coefficients: [-0.4, 1, -2.5, -1.1, 0.5, -0.3, -0.2, -0.9, -0.1, -0.7, 2.7, 2], intercepts: [9.8, 2.2, -12], classes: [0, 1, 2] }));

beforeAll(ensureBuilt, 120_000);
afterAll(() => rmSync(files, { recursive: true, force: true }));
if (!PG_URL) console.warn('rollback-follower.test.ts: MODEL_ROLLOUT_TEST_PG_URL is not set; skipping the PostgreSQL store (.ci/run sets it)');

type Event = { event: string; t: number; version?: number; revision?: number; by?: string };

/** The replica process and its events as they arrive. */
function startReplica(store: TestStore, unit: string): { child: ChildProcessWithoutNullStreams; events: Event[]; next(match: (e: Event) => boolean, timeoutMs?: number): Promise<Event> } {
  const url = new URL(store.url.startsWith('file:') ? 'file:///' : store.url);
  const env = {
    ...process.env,
    STORE_KIND: store.name,
    STORE_DIR: store.url.slice('file:'.length),
    PG_URL: store.name === 'postgres' ? PG_URL : '',
    PG_TABLE: url.searchParams.get('table') ?? '',
    DEPLOYMENT: 'iris',
    UNIT: unit,
    INTERVAL_MS: String(FOLLOW_MS),
  };
  const child = spawn(process.execPath, [path.join(ROOT, 'test/cli/fixtures/router-replica.mjs')], { env, cwd: files });
  const events: Event[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  createInterface({ input: child.stdout }).on('line', (line) => {
    events.push(JSON.parse(line) as Event);
    for (const w of waiters.splice(0)) w();
  });
  const next = (match: (e: Event) => boolean, timeoutMs = 20_000) =>
    new Promise<Event>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`replica: no matching event in ${timeoutMs} ms; events ${JSON.stringify(events)}; stderr ${stderr}`)), timeoutMs);
      const check = () => {
        const found = events.find(match);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else waiters.push(check);
      };
      check();
    });
  return { child, events, next };
}

describe.each([
  { kind: 'file', open: openFileStore },
  ...(PG_URL ? [{ kind: 'postgres', open: openPostgresStore }] : []),
])('a CLI rollback reaches a running router on the $kind store', ({ open }) => {
  let store: TestStore;
  let replica: ReturnType<typeof startReplica> | undefined;
  beforeAll(async () => {
    store = await open();
  }, 60_000);
  afterAll(async () => {
    replica?.child.kill('SIGTERM');
    await store?.dispose();
  });

  it(`serves stable again within 2 × the ${FOLLOW_MS} ms follow interval, and history names the operator`, async () => {
    const run = (...args: string[]) => cli([...args, '--store', store.url], { env: { USER: 'ana' } });
    expect((await run('register', 'iris', path.join(files, 'v1.onnx'))).code).toBe(0);
    expect((await run('register', 'iris', path.join(files, 'v2.onnx'))).code).toBe(0);
    const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: [50, 100] });
    canary.start();
    await new DeploymentStore({ storage: store.storage }).create('iris', { action: 'start', by: 'ci', policy: canary.snapshot() });
    let unit = 0;
    while (canary.route({ unitId: `user-${unit}` }).variant !== 'canary') unit++;

    replica = startReplica(store, `user-${unit}`);
    await replica.next((e) => e.event === 'served' && e.version === 2);
    const status = JSON.parse((await run('status', 'iris', '--json')).stdout);
    expect(status.replicas).toEqual([expect.objectContaining({ replicaId: expect.stringMatching(/^router-\d+$/), fresh: true })]);

    const rollback = await run('rollback', 'iris', '--reason', 'p99 doubled on the canary');
    expect(rollback.code).toBe(0);
    const back = await replica.next((e) => e.event === 'served' && e.version === 1, 10 * FOLLOW_MS);
    const applied = await replica.next((e) => e.event === 'applied' && e.revision === 2);
    expect(applied.by).toMatch(/^operator:ana@/);
    const history = JSON.parse((await run('history', 'iris', '--json')).stdout);
    // From the moment the rollback was stored (its audit time, this host's clock) to the first
    // request the replica served on stable.
    const delay = back.t - Date.parse(history.at(-1).at);
    console.log(`rollback-follower: the replica served stable ${delay} ms after the CLI stored the rollback (follow interval ${FOLLOW_MS} ms)`);
    expect(delay).toBeLessThanOrEqual(2 * FOLLOW_MS);
    expect(history.at(-1)).toMatchObject({ revision: 2, action: 'rollback', by: expect.stringMatching(/^operator:ana@/), reason: 'p99 doubled on the canary', to: 'rolledBack' });
    expect((await run('history', 'iris')).stdout).toMatch(/^2\s+\S+Z\s+operator:ana@\S+\s+rollback\s+progressing 50 % → rolledBack\s+p99 doubled on the canary/m);
  }, 90_000);
});
