/**
 * `deployments`, `status [--watch]`, `promote`, `abort`, `rollback`, `pause`, `resume`, `history`:
 * the rollouts kept in storage. Every change is one `DeploymentStore.transition()` of the policy
 * rebuilt from its snapshot, so every replica following the deployment applies it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeploymentStore } from '../fleet/deployment-store.js';
import { readFleetMonitors } from '../fleet/fleet-monitors.js';
import { policyFromSnapshot } from '../routing/policy-from-snapshot.js';
import type { StorageAdapter } from '../storage/storage-adapter.js';
import type { Command, CommandContext } from './command.js';
import { operate, readDeployment } from './operate.js';
import type { OperatorVerb } from './operator-actions.js';
import { operatorName } from './operator.js';
import { formatPairs, table } from './output.js';
import { summarizePolicy } from './policy-summary.js';
import { lastAnalyses, renderStatus, type DeploymentStatus } from './status-view.js';
import { UsageError } from './usage-error.js';

const STATE_KEY = /^deployments\/([^/]+)\.json$/;

async function deploymentNames(storage: StorageAdapter): Promise<string[]> {
  // Sorted by name, not by key: 'ranker.json' sorts after 'ranker-ab.json'.
  return (await storage.list('deployments/'))
    .flatMap((key) => {
      const match = STATE_KEY.exec(key);
      return match ? [match[1] as string] : [];
    })
    .sort();
}

const listed = (store: DeploymentStore) => () => deploymentNames(store.storage);

async function storeOf(ctx: CommandContext, forWrites = false): Promise<DeploymentStore> {
  const open = await ctx.store();
  if (forWrites) await open.prepareWrites();
  return new DeploymentStore({ storage: open.storage });
}

/** Everything `status` shows, read now. */
export async function collectStatus(store: DeploymentStore, name: string, now = Date.now()): Promise<DeploymentStatus> {
  const current = await readDeployment(store, name, listed(store));
  const summary = summarizePolicy(policyFromSnapshot(current.state.policy));
  const [fleet, audit] = await Promise.all([readFleetMonitors(store.storage, name, { clock: () => now }), store.audit(name)]);
  const versions = summary.traffic.map((t) => {
    const stats = fleet.merged.stats(t.version);
    return { version: t.version, variant: t.variant, share: t.share, requests: stats.totalRequests, errorRate: stats.errorRate, p99LatencyMs: stats.p99LatencyMs };
  });
  return {
    deployment: name,
    revision: current.state.revision,
    at: current.state.at,
    by: current.state.by,
    ...summary,
    versions,
    replicas: fleet.replicas,
    analyses: lastAnalyses(audit),
    takenAt: new Date(now).toISOString(),
  };
}

const deployments: Command = {
  name: 'deployments',
  usage: '',
  summary: 'list the deployments: policy, status, revision, last change',
  positionals: { required: 0 },
  options: {},
  async run(ctx) {
    const store = await storeOf(ctx);
    const rows = await Promise.all(
      (await deploymentNames(store.storage)).map(async (name) => {
        const current = await readDeployment(store, name, listed(store));
        const summary = summarizePolicy(policyFromSnapshot(current.state.policy));
        return { name, policy: summary.policy, status: summary.status, step: summary.step, percentage: summary.percentage, revision: current.state.revision, at: current.state.at, by: current.state.by };
      }),
    );
    if (ctx.out.json) return ctx.out.writeJson(rows);
    ctx.out.write(
      table(
        ['DEPLOYMENT', 'POLICY', 'STATUS', 'STEP', 'PERCENT', 'REVISION', 'UPDATED', 'BY'],
        rows.map((r) => [ctx.style.cyan(r.name), r.policy, r.status, r.step ?? '-', r.percentage === null ? '-' : `${r.percentage} %`, String(r.revision), r.at, r.by]),
        ctx.style,
      ),
    );
  },
};

const WATCH_DEFAULT_MS = 2_000;

const status: Command = {
  name: 'status',
  usage: '<deployment>',
  summary: 'status, step, per-version numbers across the fleet, last analyses, replicas',
  details: 'With --watch the view is redrawn in place every --interval ms until Ctrl-C (exit 0); with --json too, one JSON line per redraw.',
  positionals: { required: 1 },
  options: { watch: { type: 'boolean', short: 'w' }, interval: { type: 'string' } },
  optionHelp: [
    ['-w, --watch', 'keep redrawing until Ctrl-C'],
    ['--interval MS', `redraw interval with --watch (default ${WATCH_DEFAULT_MS})`],
  ],
  async run(ctx) {
    const name = ctx.args[0] as string;
    const given = ctx.values.interval as string | undefined;
    const interval = given === undefined ? WATCH_DEFAULT_MS : Number(given);
    if (!Number.isInteger(interval) || interval < 50) throw new UsageError(`--interval must be a whole number of ms >= 50, got '${given}'`);
    const store = await storeOf(ctx);
    if (ctx.values.watch !== true) {
      const view = await collectStatus(store, name);
      if (ctx.out.json) return ctx.out.writeJson(view);
      return ctx.out.write(renderStatus(view, ctx.style));
    }
    await watch(ctx, store, name, interval);
  },
};

/** Redraws the status until interrupted: in place on a terminal, one frame after another otherwise. */
async function watch(ctx: CommandContext, store: DeploymentStore, name: string, interval: number): Promise<void> {
  const stop = new AbortController();
  void ctx.interrupted().then(() => stop.abort());
  const inPlace = ctx.out.tty && !ctx.out.json;
  let lines = 0;
  if (inPlace) ctx.out.write('\u001b[?25l'); // hide the cursor while redrawing
  try {
    while (!stop.signal.aborted) {
      const view = await collectStatus(store, name);
      if (stop.signal.aborted) break;
      if (ctx.out.json) ctx.out.writeJson(view, true);
      else {
        const screen = renderStatus(view, ctx.style);
        // Back to the first line of the previous frame, then clear below: the frame is redrawn in place.
        ctx.out.write(inPlace ? `${lines > 0 ? `\u001b[${lines}F` : ''}\u001b[J${screen}` : `${screen}\n`);
        lines = screen.split('\n').length - 1;
      }
      await sleep(interval, undefined, { signal: stop.signal }).catch(() => {});
    }
  } finally {
    if (inPlace) ctx.out.write('\u001b[?25h');
  }
}

function verbCommand(verb: OperatorVerb, summary: string, details?: string): Command {
  return {
    name: verb,
    usage: '<deployment>',
    summary,
    ...(details === undefined ? {} : { details }),
    positionals: { required: 1 },
    options: { reason: { type: 'string' }, by: { type: 'string' }, ...(verb === 'promote' ? { full: { type: 'boolean' } } : {}) },
    optionHelp: [
      ...(verb === 'promote' ? ([['--full', 'skip the remaining steps: the candidate takes all traffic now']] as const) : []),
      ['--reason TEXT', 'why, kept in the audit record'],
      ['--by NAME', 'who (default operator:<user>@<host>)'],
    ],
    async run(ctx) {
      const name = ctx.args[0] as string;
      const store = await storeOf(ctx, true);
      const by = operatorName(ctx);
      const reason = ctx.values.reason as string | undefined;
      const done = await operate(store, name, { verb, full: ctx.values.full === true, ...(reason === undefined ? {} : { reason }) }, by, listed(store));
      const result = { deployment: name, action: done.action, from: done.from, to: done.to, revision: done.revision, by };
      if (ctx.out.json) return ctx.out.writeJson(result);
      ctx.out.write(`${ctx.style.cyan(name)}: ${done.action} ${done.from} → ${ctx.style.bold(done.to)} (revision ${done.previous} → ${done.revision}) by ${by}\n`);
    },
  };
}

const history: Command = {
  name: 'history',
  usage: '<deployment>',
  summary: 'the audit log: every transition, who made it, why, and the numbers it saw',
  positionals: { required: 1 },
  options: {},
  async run(ctx) {
    const name = ctx.args[0] as string;
    const store = await storeOf(ctx);
    await readDeployment(store, name, listed(store));
    const records = await store.audit(name);
    if (ctx.out.json) return ctx.out.writeJson(records);
    ctx.out.write(
      table(
        ['REV', 'AT', 'BY', 'ACTION', 'FROM → TO', 'REASON', 'NUMBERS'],
        records.map((r) => [String(r.revision), r.at, r.by, r.action, `${r.from ?? '-'} → ${r.to ?? '-'}`, r.reason ?? '-', formatPairs(r.numbers)]),
        ctx.style,
      ),
    );
  },
};

export const rolloutCommands: readonly Command[] = [
  deployments,
  status,
  verbCommand('promote', 'next step of a canary (all the way with --full); switch a blue-green; conclude an A/B test', 'A canary goes to its next step; from its last step below 100 % (or with --full) the candidate becomes stable.'),
  verbCommand('abort', 'stop the rollout without a verdict: everyone back on the stable version'),
  verbCommand('rollback', 'the candidate failed: everyone back on the stable / previous version'),
  verbCommand('pause', 'hold a canary where it is'),
  verbCommand('resume', 'continue a paused canary'),
  history,
];
