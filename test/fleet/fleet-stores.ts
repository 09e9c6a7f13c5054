/**
 * The stores every fleet test runs on: memory always, a fresh PostgreSQL table when
 * MODEL_ROLLOUT_TEST_PG_URL is set, a fresh prefix of one bucket on Ceph RGW when
 * MODEL_ROLLOUT_TEST_S3_ENDPOINT is set (each says so when it skips). Call at the top of a test
 * file: it registers the clean-up hook.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, afterEach } from 'vitest';
import { FileSystemStorage, MemoryStorage, type StorageAdapter } from '../../src/index.js';
import { storageFromSpec } from '../registry/fixtures/storage-spec.js';
import { PostgresStorage } from '../../src/storage/postgres/index.js';
import { S3Storage } from '../../src/storage/s3/index.js';
import { makeS3Client, removeAllObjects } from '../storage/s3-env.js';

export const PG_URL = process.env.MODEL_ROLLOUT_TEST_PG_URL;
export const S3_ENDPOINT = process.env.MODEL_ROLLOUT_TEST_S3_ENDPOINT;

export interface FleetStore {
  kind: string;
  skip: boolean;
  make(): Promise<StorageAdapter>;
}

/** With `fileSystem`, a fresh directory's `FileSystemStorage` runs too, after the memory store. */
export function useFleetStores(file: string, options: { fileSystem?: boolean } = {}): { stores: FleetStore[]; pool: pg.Pool | undefined; cleanups: Array<() => Promise<void>> } {
  if (!PG_URL) console.warn(`${file}: MODEL_ROLLOUT_TEST_PG_URL is not set; skipping the PostgreSQL runs`);
  if (!S3_ENDPOINT) console.warn(`${file}: MODEL_ROLLOUT_TEST_S3_ENDPOINT is not set; skipping the S3 runs`);
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const pool = PG_URL ? new pg.Pool({ connectionString: PG_URL, max: 20 }) : undefined;
  pool?.on('error', () => undefined);
  if (pool) cleanups.push(() => pool.end());
  const s3 = S3_ENDPOINT ? makeS3Client() : undefined;
  const bucket = `mr-fleet-${randomBytes(4).toString('hex')}`;
  let bucketMade: Promise<unknown> | undefined;
  const stores: FleetStore[] = [
    { kind: 'MemoryStorage', skip: false, make: async () => new MemoryStorage() },
    {
      kind: 'PostgresStorage',
      skip: !PG_URL,
      async make() {
        const storage = new PostgresStorage({ pool: pool!, table: `mr_fleet_${randomBytes(6).toString('hex')}` });
        await storage.migrate();
        cleanups.push(() => storage.drop());
        return storage;
      },
    },
    {
      kind: 'S3Storage on Ceph RGW',
      skip: !S3_ENDPOINT,
      async make() {
        if (!bucketMade) {
          bucketMade = s3!.send(new CreateBucketCommand({ Bucket: bucket }));
          cleanups.push(async () => {
            await removeAllObjects(s3!, bucket);
            await s3!.send(new DeleteBucketCommand({ Bucket: bucket }));
            s3!.destroy();
          });
        }
        await bucketMade;
        return new S3Storage({ client: s3!, bucket, prefix: `t-${randomBytes(6).toString('hex')}/` });
      },
    },
  ];
  if (options.fileSystem === true) {
    stores.splice(1, 0, {
      kind: 'FileSystemStorage',
      skip: false,
      async make() {
        const dir = await mkdtemp(join(tmpdir(), 'mr-fleet-'));
        cleanups.push(() => rm(dir, { recursive: true, force: true }));
        return new FileSystemStorage(dir);
      },
    });
  }
  return { stores, pool, cleanups };
}

/** A store the replica processes open from `spec` (see test/registry/fixtures/storage-spec.ts), and the test's own handle on it. */
export interface ProcessStore {
  kind: string;
  skip: boolean;
  prepare(): Promise<{ spec: string; storage: StorageAdapter }>;
}

/**
 * The stores the multi-process fleet tests run on: a fresh PostgreSQL table, a fresh RGW bucket
 * (each skipped, saying so, without its variable), removed after each test. Call at the top of a
 * test file; `cleanups` runs after each test, in reverse order.
 */
export function useProcessStores(file: string): { stores: ProcessStore[]; cleanups: Array<() => Promise<void>> } {
  if (!PG_URL) console.warn(`${file}: MODEL_ROLLOUT_TEST_PG_URL is not set; skipping the PostgreSQL runs`);
  if (!S3_ENDPOINT) console.warn(`${file}: MODEL_ROLLOUT_TEST_S3_ENDPOINT is not set; skipping the S3 runs`);
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const stores: ProcessStore[] = [
    {
      kind: 'a PostgreSQL table',
      skip: !PG_URL,
      async prepare() {
        const spec = `pg:mr_fleet_${randomBytes(6).toString('hex')}`;
        const opened = storageFromSpec(spec);
        await (opened.storage as PostgresStorage).migrate();
        cleanups.push(async () => {
          await (opened.storage as PostgresStorage).drop();
          await opened.close();
        });
        return { spec, storage: opened.storage };
      },
    },
    {
      kind: 'an S3 prefix on Ceph RGW',
      skip: !S3_ENDPOINT,
      async prepare() {
        const bucket = `mr-fleet-${randomBytes(4).toString('hex')}`;
        const client = makeS3Client();
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        const spec = `s3:${bucket}/fleet`;
        const opened = storageFromSpec(spec);
        cleanups.push(async () => {
          await opened.close();
          await removeAllObjects(client, bucket);
          await client.send(new DeleteBucketCommand({ Bucket: bucket }));
          client.destroy();
        });
        return { spec, storage: opened.storage };
      },
    },
  ];
  return { stores, cleanups };
}
