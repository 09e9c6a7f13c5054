/**
 * Time for a transition to reach a follower (from the leader's `transition()` resolving to the
 * follower's `applied` event), p50 / p99 over 100 transitions: on PostgreSQL polling alone
 * (interval 100 ms, jitter 0.2) and with LISTEN/NOTIFY hints (poll 60 s, so only the hint acts),
 * and on Ceph RGW polling alone (S3 has no change feed). The follower has its own client and
 * store, as another replica would. Needs MODEL_ROLLOUT_TEST_PG_URL and/or
 * MODEL_ROLLOUT_TEST_S3_ENDPOINT (each store is skipped, saying so, without its variable).
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { type ChangeHints, DeploymentFollower, DeploymentStore, type StorageAdapter } from '../src/index.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { S3Storage } from '../src/storage/s3/index.js';
import { makeS3Client, removeAllObjects } from '../test/storage/s3-env.js';
import { printTable } from './harness.js';

const TRANSITIONS = 100;
const PG_URL = process.env.MODEL_ROLLOUT_TEST_PG_URL;
const S3_ENDPOINT = process.env.MODEL_ROLLOUT_TEST_S3_ENDPOINT;
console.log(`load: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`);

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function run(
  label: string,
  leaderStorage: StorageAdapter,
  followerStorage: StorageAdapter,
  name: string,
  options: { intervalMs: number; hints?: ChangeHints },
): Promise<Record<string, string | number>> {
  const leader = new DeploymentStore({ storage: leaderStorage });
  let state = { n: 0 };
  let current = await leader.create(name, { action: 'start', by: 'leader', policy: state });
  const live = { restore: (s: unknown) => (state = s as { n: number }) };
  const follower = new DeploymentFollower({
    store: new DeploymentStore({ storage: followerStorage }),
    name,
    policy: live,
    intervalMs: options.intervalMs,
    jitter: 0.2,
    hints: options.hints,
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
  times.sort((a, b) => a - b);
  return { mode: label, transitions: TRANSITIONS, 'p50 ms': percentile(times, 0.5), 'p99 ms': percentile(times, 0.99), 'max ms': times.at(-1)! };
}

const rows: Array<Record<string, string | number>> = [];
// The follower's timers are unref'd (they never keep a host alive) and an idle S3 client holds no
// socket the loop waits on: this timer keeps the bench alive between polls.
const keepAlive = setInterval(() => undefined, 1_000);
if (PG_URL) {
  const leaderPool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  const followerPool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  leaderPool.on('error', () => undefined);
  followerPool.on('error', () => undefined);
  const table = `mr_bench_prop_${randomBytes(5).toString('hex')}`;
  const leaderStorage = new PostgresStorage({ pool: leaderPool, table });
  await leaderStorage.migrate();
  const followerStorage = new PostgresStorage({ pool: followerPool, table });
  try {
    rows.push(await run('PostgreSQL, polling every 100 ms ±20 %', leaderStorage, followerStorage, 'prop-poll', { intervalMs: 100 }));
    const feed = await followerStorage.watch({ prefix: 'deployments/' });
    rows.push(await run('PostgreSQL, NOTIFY hint (poll 60 s)', leaderStorage, followerStorage, 'prop-notify', { intervalMs: 60_000, hints: feed }));
    await feed.close();
  } finally {
    await leaderStorage.drop();
    await leaderPool.end();
    await followerPool.end();
  }
} else {
  console.log('fleet-propagation: MODEL_ROLLOUT_TEST_PG_URL is not set; PostgreSQL skipped');
}
if (S3_ENDPOINT) {
  const leaderClient = makeS3Client();
  const followerClient = makeS3Client();
  const bucket = `mr-bench-prop-${randomBytes(4).toString('hex')}`;
  await leaderClient.send(new CreateBucketCommand({ Bucket: bucket }));
  try {
    rows.push(
      await run(
        'Ceph RGW, polling every 100 ms ±20 %',
        new S3Storage({ client: leaderClient, bucket, prefix: 'prop/' }),
        new S3Storage({ client: followerClient, bucket, prefix: 'prop/' }),
        'prop-poll',
        { intervalMs: 100 },
      ),
    );
  } finally {
    await removeAllObjects(leaderClient, bucket);
    await leaderClient.send(new DeleteBucketCommand({ Bucket: bucket }));
    leaderClient.destroy();
    followerClient.destroy();
  }
} else {
  console.log('fleet-propagation: MODEL_ROLLOUT_TEST_S3_ENDPOINT is not set; RGW skipped');
}
clearInterval(keepAlive);
if (rows.length > 0) printTable('transition → follower applied', rows);
console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
