/**
 * Time for a transition to reach a follower (from the leader's `transition()` resolving to the
 * follower's `applied` event), p50 / p99 over 100 transitions on PostgreSQL: polling alone
 * (interval 100 ms, jitter 0.2) and with LISTEN/NOTIFY hints (poll 60 s, so only the hint acts).
 * The follower has its own pool and store, as another replica would. Needs MODEL_ROLLOUT_TEST_PG_URL.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { DeploymentFollower, DeploymentStore } from '../src/index.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { printTable } from './harness.js';

const TRANSITIONS = 100;

if (!process.env.MODEL_ROLLOUT_TEST_PG_URL) {
  console.log('fleet-propagation: MODEL_ROLLOUT_TEST_PG_URL is not set; skipped');
  process.exit(0);
}
console.log(`load: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`);

const leaderPool = new pg.Pool({ connectionString: process.env.MODEL_ROLLOUT_TEST_PG_URL, max: 4 });
const followerPool = new pg.Pool({ connectionString: process.env.MODEL_ROLLOUT_TEST_PG_URL, max: 4 });
leaderPool.on('error', () => undefined);
followerPool.on('error', () => undefined);
const table = `mr_bench_prop_${randomBytes(5).toString('hex')}`;
const leaderStorage = new PostgresStorage({ pool: leaderPool, table });
await leaderStorage.migrate();
const followerStorage = new PostgresStorage({ pool: followerPool, table });

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function run(mode: 'polling' | 'notify', name: string): Promise<Record<string, string | number>> {
  const leader = new DeploymentStore({ storage: leaderStorage });
  let state = { n: 0 };
  let current = await leader.create(name, { action: 'start', by: 'leader', policy: state });
  const feed = mode === 'notify' ? await followerStorage.watch({ prefix: 'deployments/' }) : undefined;
  const live = { restore: (s: unknown) => (state = s as { n: number }) };
  const follower = new DeploymentFollower({
    store: new DeploymentStore({ storage: followerStorage }),
    name,
    policy: live,
    intervalMs: mode === 'polling' ? 100 : 60_000,
    jitter: 0.2,
    hints: feed,
  });
  await follower.start();
  const times: number[] = [];
  for (let i = 1; i <= TRANSITIONS; i++) {
    const applied = new Promise<number>((resolve) => follower.once('applied', () => resolve(performance.now())));
    current = await leader.transition(name, current, { action: 'step', by: 'leader', policy: { n: i } });
    const committed = performance.now();
    times.push((await applied) - committed);
    await new Promise((r) => setTimeout(r, Math.random() * 20));
  }
  follower.stop();
  await feed?.close();
  times.sort((a, b) => a - b);
  return { mode: mode === 'polling' ? 'polling every 100 ms ±20 %' : 'NOTIFY hint (poll 60 s)', transitions: TRANSITIONS, 'p50 ms': percentile(times, 0.5), 'p99 ms': percentile(times, 0.99), 'max ms': times.at(-1)! };
}

try {
  printTable('transition → follower applied, PostgreSQL', [await run('polling', 'prop-poll'), await run('notify', 'prop-notify')]);
} finally {
  await leaderStorage.drop();
  await leaderPool.end();
  await followerPool.end();
}
