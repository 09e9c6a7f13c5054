/**
 * The rollout commands of the built `model-rollout` bin, human and --json output, on every store:
 * deployments made by replicas (DeploymentStore), fleet numbers from their heartbeats
 * (MonitorHeartbeat), and operator transitions read back as the library stores them.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ABTestController, BlueGreenSwitch, CanaryDeployment, DeploymentMonitor, DeploymentStore, MonitorHeartbeat, StaticPolicy } from '../../src/index.js';
import { BIN, cli, cliEnv, dumpStorage, ensureBuilt, storeKinds, type TestStore } from './cli-helpers.js';

beforeAll(ensureBuilt, 120_000);

/** One replica's traffic: `requests` per version, `failures` of them failed, all at `latencyMs`. */
function replicaMonitor(traffic: Array<{ version: number; requests: number; failures: number; latencyMs: number }>): DeploymentMonitor {
  const monitor = new DeploymentMonitor();
  for (const { version, requests, failures, latencyMs } of traffic) {
    for (let i = 0; i < requests; i++) monitor.record(version, latencyMs, i >= failures);
  }
  return monitor;
}

describe.each(storeKinds('rollout-commands.test.ts'))('rollout commands on the $kind store', ({ open }) => {
  let store: TestStore;
  let deployments: DeploymentStore;
  const run = (...args: string[]) => cli([...args, '--store', store.url], { env: { ...store.env, USER: 'ana' } });

  beforeAll(async () => {
    store = await open();
    deployments = new DeploymentStore({ storage: store.storage });
    // A canary started and stepped by replicas, the step with the numbers its analysis saw.
    const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: [5, 25, 50, 100] });
    canary.start();
    const current = await deployments.create('iris', { action: 'start', by: 'replica-a', policy: canary.snapshot(), to: 'progressing' });
    canary.increase();
    await deployments.transition('iris', current, {
      action: 'step', by: 'replica-b', policy: canary.snapshot(), from: 'progressing', to: 'progressing',
      reason: 'analysis successful', numbers: { errorRate: 0.0125, p99LatencyMs: 12.5, requests: 400, replicas: 2 },
    });
    // Two fresh replicas and one that stopped publishing ten minutes ago.
    const a = replicaMonitor([{ version: 1, requests: 300, failures: 3, latencyMs: 10 }, { version: 2, requests: 100, failures: 2, latencyMs: 20 }]);
    const b = replicaMonitor([{ version: 1, requests: 100, failures: 1, latencyMs: 10 }, { version: 2, requests: 60, failures: 0, latencyMs: 20 }]);
    const gone = replicaMonitor([{ version: 2, requests: 1000, failures: 1000, latencyMs: 99 }]);
    await new MonitorHeartbeat({ storage: store.storage, deployment: 'iris', replicaId: 'replica-a', monitor: a, intervalMs: 60_000 }).publish();
    await new MonitorHeartbeat({ storage: store.storage, deployment: 'iris', replicaId: 'replica-b', monitor: b, intervalMs: 60_000 }).publish();
    await new MonitorHeartbeat({ storage: store.storage, deployment: 'iris', replicaId: 'replica-c', monitor: gone, intervalMs: 1_000, clock: () => Date.now() - 600_000 }).publish();
    // A blue-green deployment and a static one.
    const bg = new BlueGreenSwitch({ blue: 3 });
    bg.deploy(4);
    await deployments.create('search', { action: 'deploy', by: 'ci', policy: bg.snapshot() });
    await deployments.create('pinned', { action: 'start', by: 'ci', policy: new StaticPolicy({ version: 9 }).snapshot() });
  }, 60_000);
  afterAll(() => store?.dispose());

  it('lists deployments', async () => {
    const human = (await run('deployments')).stdout.trimEnd().split('\n');
    expect(human[0]).toMatch(/^DEPLOYMENT\s+POLICY\s+STATUS\s+STEP\s+PERCENT\s+REVISION\s+UPDATED\s+BY$/);
    expect(human.slice(1)).toEqual([
      expect.stringMatching(/^iris\s+canary\s+progressing\s+2\/4\s+25 %\s+2\s+\S+Z\s+replica-b$/),
      expect.stringMatching(/^pinned\s+static\s+static\s+-\s+-\s+1\s+\S+Z\s+ci$/),
      expect.stringMatching(/^search\s+blue-green\s+blue active \(v3\)\s+-\s+-\s+1\s+\S+Z\s+ci$/),
    ]);
    const json = JSON.parse((await run('deployments', '--json')).stdout);
    expect(json.map((d: { name: string; policy: string; revision: number }) => [d.name, d.policy, d.revision])).toEqual([['iris', 'canary', 2], ['pinned', 'static', 1], ['search', 'blue-green', 1]]);
  }, 30_000);

  it('shows status: step, per-version fleet numbers, last analyses, replicas and freshness', async () => {
    const json = JSON.parse((await run('status', 'iris', '--json')).stdout);
    expect(json).toMatchObject({ deployment: 'iris', policy: 'canary', status: 'progressing', step: '2/4', percentage: 25, revision: 2, by: 'replica-b' });
    // The stale replica's thousand failures are left out: two fresh replicas, merged.
    expect(json.versions).toEqual([
      { version: 1, variant: 'stable', share: 0.75, requests: 400, errorRate: 0.01, p99LatencyMs: expect.closeTo(10, 0) },
      { version: 2, variant: 'canary', share: 0.25, requests: 160, errorRate: 0.0125, p99LatencyMs: expect.closeTo(20, 0) },
    ]);
    expect(json.replicas.map((r: { replicaId: string; fresh: boolean; requests: number }) => [r.replicaId, r.fresh, r.requests])).toEqual([['replica-a', true, 400], ['replica-b', true, 160], ['replica-c', false, 1000]]);
    expect(json.analyses).toEqual([expect.objectContaining({ revision: 2, action: 'step', by: 'replica-b', numbers: { errorRate: 0.0125, p99LatencyMs: 12.5, requests: 400, replicas: 2 } })]);

    const human = (await run('status', 'iris')).stdout;
    expect(human).toMatch(/^deployment\s+iris$/m);
    expect(human).toMatch(/^status\s+progressing$/m);
    expect(human).toMatch(/^step\s+2\/4$/m);
    expect(human).toMatch(/^percentage\s+25 %$/m);
    expect(human).toMatch(/^VERSION\s+VARIANT\s+SHARE\s+REQUESTS\s+ERROR RATE\s+P99\n1\s+stable\s+75 %\s+400\s+1 %\s+\d+(\.\d+)? ms\n2\s+canary\s+25 %\s+160\s+1\.25 %\s+\d+(\.\d+)? ms$/m);
    expect(human).toMatch(/^2\s+\S+Z\s+step\s+replica-b\s+errorRate=0\.0125 p99LatencyMs=12\.5 requests=400 replicas=2\s+analysis successful$/m);
    expect(human).toMatch(/^Replicas 2 fresh of 3 seen$/m);
    expect(human).toMatch(/^replica-a\s+\S+Z\s+\d+s\s+400\s+yes$/m);
    expect(human).toMatch(/^replica-c\s+\S+Z\s+10m0\ds\s+1000\s+stale$/m);
    // No colour codes off a terminal.
    expect(human).not.toContain('\u001b');
  }, 30_000);

  it('pauses, resumes and promotes step by step, then fully, each a transition by the operator', async () => {
    const pause = await run('pause', 'iris', '--reason', 'checking p99');
    expect(pause).toMatchObject({ code: 0, stderr: '' });
    expect(pause.stdout).toMatch(/^iris: pause progressing 25 % → paused 25 % \(revision 2 → 3\) by operator:ana@\S+\n$/);
    expect(JSON.parse((await run('resume', 'iris', '--json')).stdout)).toMatchObject({ action: 'resume', from: 'paused 25 %', to: 'progressing 25 %', revision: 4 });
    const step = JSON.parse((await run('promote', 'iris', '--json', '--by', 'oncall-bot')).stdout);
    expect(step).toEqual({ deployment: 'iris', action: 'step', from: 'progressing 25 %', to: 'progressing 50 %', revision: 5, by: 'oncall-bot' });
    expect((await deployments.read('iris'))!.state.policy).toMatchObject({ percentage: 50, status: 'progressing' });
    expect((await run('promote', 'iris', '--full', '--reason', 'looks good')).stdout).toMatch(/promote progressing 50 % → promoted \(revision 5 → 6\)/);
    expect((await deployments.read('iris'))!.state.policy).toMatchObject({ status: 'promoted', stable: 2, canary: null, percentage: 0 });

    const history = (await run('history', 'iris')).stdout.trimEnd().split('\n');
    expect(history[0]).toMatch(/^REV\s+AT\s+BY\s+ACTION\s+FROM → TO\s+REASON\s+NUMBERS$/);
    expect(history.slice(1).map((l) => l.split(/\s{2,}/).slice(2, 5))).toEqual([
      ['replica-a', 'start', '- → progressing'],
      ['replica-b', 'step', 'progressing → progressing'],
      [expect.stringMatching(/^operator:ana@/), 'pause', 'progressing 25 % → paused 25 %'],
      [expect.stringMatching(/^operator:ana@/), 'resume', 'paused 25 % → progressing 25 %'],
      ['oncall-bot', 'step', 'progressing 25 % → progressing 50 %'],
      [expect.stringMatching(/^operator:ana@/), 'promote', 'progressing 50 % → promoted'],
    ]);
    const json = JSON.parse((await run('history', 'iris', '--json')).stdout);
    expect(json.map((r: { revision: number; action: string; reason: string | null }) => [r.revision, r.action, r.reason])).toEqual([
      [1, 'start', null], [2, 'step', 'analysis successful'], [3, 'pause', 'checking p99'], [4, 'resume', null], [5, 'step', null], [6, 'promote', 'looks good'],
    ]);
  }, 60_000);

  it('rolls back and aborts a canary; switches and rolls back a blue-green', async () => {
    const canary = new CanaryDeployment({ name: 'ranker', stable: 5, canary: 6 });
    canary.start();
    await deployments.create('ranker', { action: 'start', by: 'replica-a', policy: canary.snapshot() });
    expect((await run('rollback', 'ranker', '--reason', 'p99 doubled')).stdout).toMatch(/^ranker: rollback progressing 5 % → rolledBack \(revision 1 → 2\)/);
    expect((await deployments.audit('ranker'))[1]).toMatchObject({ action: 'rollback', reason: 'p99 doubled', by: expect.stringMatching(/^operator:ana@/) });
    canary.restore((await deployments.read('ranker'))!.state.policy);
    canary.start();
    await deployments.transition('ranker', (await deployments.read('ranker'))!, { action: 'start', by: 'replica-a', policy: canary.snapshot() });
    // Every verb in both forms: pause --json, resume, abort --json here; pause, resume --json above.
    expect(JSON.parse((await run('pause', 'ranker', '--json')).stdout)).toMatchObject({ action: 'pause', from: 'progressing 5 %', to: 'paused 5 %', revision: 4 });
    expect((await run('resume', 'ranker')).stdout).toMatch(/^ranker: resume paused 5 % → progressing 5 % \(revision 4 → 5\)/);
    expect(JSON.parse((await run('abort', 'ranker', '--json')).stdout)).toMatchObject({ action: 'abort', from: 'progressing 5 %', to: 'idle', revision: 6 });
    expect((await run('history', 'ranker')).stdout).toMatch(/^6\s+\S+Z\s+operator:ana@\S+\s+abort\s+progressing 5 % → idle/m);

    expect((await run('promote', 'search')).stdout).toMatch(/^search: switch blue active \(v3\) → green active \(v4\) \(revision 1 → 2\)/);
    expect(JSON.parse((await run('abort', 'search', '--json')).stdout)).toMatchObject({ action: 'rollback', to: 'blue active (v3)', revision: 3 });
    expect(JSON.parse((await run('promote', 'search', '--json')).stdout)).toMatchObject({ action: 'switch', to: 'green active (v4)', revision: 4 });
    expect((await run('rollback', 'search')).stdout).toMatch(/^search: rollback green active \(v4\) → blue active \(v3\) \(revision 4 → 5\)/);
  }, 60_000);

  it('concludes an A/B deployment for its control on rollback', async () => {
    const ab = new ABTestController();
    ab.createExperiment('ranker-ab', { modelA: 1, modelB: 2, split: 0.5 });
    await deployments.create('ranker-ab', { action: 'start', by: 'ci', policy: ab.snapshot() });
    const rolled = JSON.parse((await run('rollback', 'ranker-ab', '--json', '--reason', 'b hurts conversion')).stdout);
    expect(rolled).toMatchObject({ action: 'conclude', from: 'running', to: 'concluded', revision: 2 });
    const stored = (await deployments.read('ranker-ab'))!.state.policy as { experiments: Array<{ conclusion: { winner: string } | null }> };
    expect(stored.experiments[0]!.conclusion).toMatchObject({ winner: 'a' });
    expect(JSON.parse((await run('status', 'ranker-ab', '--json')).stdout)).toMatchObject({ policy: 'ab-test', status: 'concluded', versions: [{ version: 1, share: 1 }, { version: 2, share: 0 }] });
  }, 60_000);

  it('watches off a terminal with --json: one JSON line per view, and SIGINT ends it with exit 0', async () => {
    const child = spawn(process.execPath, [BIN, 'status', 'iris', '--watch', '--json', '--interval', '100', '--store', store.url], { env: cliEnv(store.env) });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (out.split('\n').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    const views = out.trim().split('\n').map((line) => JSON.parse(line) as { deployment: string; takenAt: string });
    expect(views.length).toBeGreaterThanOrEqual(2);
    expect(views.every((v) => v.deployment === 'iris')).toBe(true);
    expect(Date.parse(views[1]!.takenAt)).toBeGreaterThan(Date.parse(views[0]!.takenAt));
    expect(out).not.toContain('\u001b');
  }, 60_000);

  it('refuses an unknown deployment, an action the policy cannot take, in one line, exit 1, nothing written', async () => {
    const before = await dumpStorage(store.storage);
    const cases: Array<[string[], RegExp]> = [
      [['status', 'nope'], /^model-rollout: NotFoundError: no deployment 'nope' in this store \(deployments: iris, pinned, ranker, ranker-ab, search\)\n$/],
      [['history', 'nope'], /^model-rollout: NotFoundError: no deployment 'nope'/],
      [['rollback', 'nope'], /^model-rollout: NotFoundError: no deployment 'nope'/],
      [['pause', 'iris'], /^model-rollout: InvalidStateError: cannot pause\(\) while status is 'promoted'/],
      [['abort', 'ranker'], /^model-rollout: InvalidStateError: cannot abort\(\) while status is 'idle'/],
      [['pause', 'search'], /^model-rollout: InvalidStateError: a blue-green deployment cannot pause: it offers promote \(switch to the preview slot\) and rollback\n$/],
      [['promote', 'pinned'], /^model-rollout: InvalidStateError: a static deployment cannot promote/],
      [['status', '../etc'], /^model-rollout: ValidationError: deployment name must be one storage key segment/],
    ];
    for (const [args, error] of cases) {
      const result = await run(...args);
      expect(result, args.join(' ')).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr, args.join(' ')).toMatch(error);
      expect(result.stderr.split('\n')).toHaveLength(2);
    }
    expect(await dumpStorage(store.storage)).toEqual(before);
  }, 60_000);
});
