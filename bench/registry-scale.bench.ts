/**
 * Registry cost at scale on the remote stores a fleet uses: round trips and time of
 * `resolve('latest')`, `resolve('@alias')`, `register` and one `listVersionsPage` (limit 20) at 10,
 * 1 000 and 10 000 versions, on PostgreSQL and on Ceph RGW (S3), each against `listVersions` (every
 * record) measured in the same run as the peer whose cost grows. Needs MODEL_ROLLOUT_TEST_PG_URL
 * and MODEL_ROLLOUT_TEST_S3_* (`eval "$(scripts/s3-test-server.sh)"`); a store without them is
 * skipped, saying so. BENCH_SCALE_SIZES=10,1000 runs fewer sizes.
 *
 * Versions past the first are seeded by writing their records straight to storage (copies of a
 * real record with the number changed, and the head hint), since registering 10 000 versions one
 * by one would measure seeding, not the operations.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { ModelRegistry, type PutCondition, type StorageAdapter } from '../src/index.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { S3Storage } from '../src/storage/s3/index.js';
import { printTable, ratio } from './harness.js';

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '10,1000,10000').split(',').map(Number);
const RUNS = 5;

/** Counts the adapter calls an operation makes: each is one round trip to the store. */
class Counting implements StorageAdapter {
  calls = 0;
  constructor(readonly inner: StorageAdapter) {}
  get(key: string) {
    this.calls++;
    return this.inner.get(key);
  }
  put(key: string, data: Uint8Array, cond?: PutCondition) {
    this.calls++;
    return this.inner.put(key, data, cond);
  }
  delete(key: string, cond?: { ifMatch: string }) {
    this.calls++;
    return this.inner.delete(key, cond);
  }
  list(prefix: string) {
    this.calls++;
    return this.inner.list(prefix);
  }
}

async function seed(storage: StorageAdapter, registry: ModelRegistry, model: string, versions: number): Promise<void> {
  await registry.register(model, randomBytes(64), { format: 'bin' });
  const template = JSON.parse(new TextDecoder().decode((await storage.get(`models/${model}/versions/1.json`))!.data)) as { version: number };
  const encoder = new TextEncoder();
  for (let next = 2; next <= versions; next += 64) {
    await Promise.all(
      Array.from({ length: Math.min(64, versions - next + 1) }, (_, i) =>
        storage.put(`models/${model}/versions/${next + i}.json`, encoder.encode(JSON.stringify({ ...template, version: next + i })), { ifNoneMatch: '*' }),
      ),
    );
  }
  const head = await storage.get(`models/${model}/head.json`);
  await storage.put(`models/${model}/head.json`, encoder.encode(JSON.stringify({ version: versions })), { ifMatch: head!.etag });
  await registry.setAlias(model, 'production', Math.ceil(versions / 2));
}

async function measure(counting: Counting, op: () => Promise<unknown>, runs = RUNS): Promise<{ trips: number; ms: number }> {
  const times: number[] = [];
  let trips = 0;
  for (let i = 0; i < runs; i++) {
    counting.calls = 0;
    const start = performance.now();
    await op();
    times.push(performance.now() - start);
    trips = counting.calls;
  }
  times.sort((a, b) => a - b);
  return { trips, ms: times[Math.floor(times.length / 2)]! };
}

async function benchStore(label: string, make: (model: string) => Promise<StorageAdapter>): Promise<void> {
  const rows: Array<Record<string, string | number>> = [];
  const at: Record<number, Record<string, { trips: number; ms: number }>> = {};
  for (const versions of SIZES) {
    const model = `scale-${versions}`;
    const counting = new Counting(await make(model));
    const registry = new ModelRegistry({ storage: counting });
    const seedStart = performance.now();
    await seed(counting, registry, model, versions);
    const seedMs = performance.now() - seedStart;
    let n = 0;
    const results = {
      "resolve('latest')": await measure(counting, () => registry.resolve(model, 'latest')),
      "resolve('@production')": await measure(counting, () => registry.resolve(model, '@production')),
      register: await measure(counting, () => registry.register(model, new Uint8Array([n++, 1, 2, 3]), { format: 'bin' })),
      'listVersionsPage (limit 20)': await measure(counting, () => registry.listVersionsPage(model, { limit: 20 })),
      'listVersions (every record; peer)': await measure(counting, () => registry.listVersions(model), versions >= 10_000 ? 1 : 3),
    };
    at[versions] = results;
    for (const [op, r] of Object.entries(results)) rows.push({ versions, op, 'round trips': r.trips, 'median ms': r.ms });
    console.log(`${label}: seeded ${versions} versions in ${Math.round(seedMs)} ms`);
  }
  printTable(`${label}: round trips and time per operation`, rows);
  const [low, high] = [SIZES[0]!, SIZES.at(-1)!];
  if (low !== high) {
    printTable(
      `${label}: ${high} versions vs ${low} (1× = cost does not grow)`,
      Object.keys(at[low]!).map((op) => ({
        op,
        'round trips': `${at[low]![op]!.trips} → ${at[high]![op]!.trips}`,
        time: ratio(at[high]![op]!.ms, at[low]![op]!.ms),
      })),
    );
  }
}

console.log(`load: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min) on ${(await import('node:os')).cpus().length} cores`);

if (process.env.MODEL_ROLLOUT_TEST_PG_URL) {
  const pool = new pg.Pool({ connectionString: process.env.MODEL_ROLLOUT_TEST_PG_URL, max: 16 });
  pool.on('error', () => undefined);
  const tables: PostgresStorage[] = [];
  try {
    await benchStore('PostgreSQL', async () => {
      const storage = new PostgresStorage({ pool, table: `mr_bench_${randomBytes(5).toString('hex')}`, notify: false });
      await storage.migrate();
      tables.push(storage);
      return storage;
    });
  } finally {
    for (const t of tables) await t.drop();
    await pool.end();
  }
} else {
  console.log('PostgreSQL: MODEL_ROLLOUT_TEST_PG_URL is not set; skipped');
}

if (process.env.MODEL_ROLLOUT_TEST_S3_ENDPOINT) {
  const client = new S3Client({
    endpoint: process.env.MODEL_ROLLOUT_TEST_S3_ENDPOINT,
    region: process.env.MODEL_ROLLOUT_TEST_S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.MODEL_ROLLOUT_TEST_S3_ACCESS_KEY ?? '', secretAccessKey: process.env.MODEL_ROLLOUT_TEST_S3_SECRET_KEY ?? '' },
  });
  const bucket = `mr-bench-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  await benchStore('Ceph RGW (S3)', async (model) => new S3Storage({ client, bucket, prefix: `${model}/` }));
  console.log(`(bucket ${bucket} left on the test gateway; scripts/s3-test-server.sh stop removes everything)`);
  client.destroy();
} else {
  console.log('Ceph RGW: MODEL_ROLLOUT_TEST_S3_ENDPOINT is not set; skipped');
}
