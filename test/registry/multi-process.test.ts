import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSystemStorage, ModelRegistry } from '../../src/index.js';
import type { PostgresStorage } from '../../src/storage/postgres/index.js';
import { useBundledWorker } from '../fixtures/bundled-worker.js';
import { makeS3Client, removeAllObjects } from '../storage/s3-env.js';
import { storageFromSpec } from './fixtures/storage-spec.js';

const startWorker = useBundledWorker(fileURLToPath(new URL('./fixtures/register-worker.ts', import.meta.url)));

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mr-proc-'));
  dirs.push(dir);
  return dir;
}

/** Every visible version must be complete: record readable, artifact present and sha256-verified. */
async function expectNoHalfVersions(dir: string, model: string): Promise<number[]> {
  const registry = new ModelRegistry({ storage: new FileSystemStorage(dir) });
  const versions = (await registry.listVersions(model)).map((v) => v.version);
  for (const version of versions) expect((await registry.loadArtifact(model, version)).length).toBeGreaterThan(0);
  return versions;
}

/**
 * The shared stores the race runs on: a directory, a PostgreSQL table, an S3 prefix on Ceph RGW.
 * `prepare` makes an empty one and returns the spec every process opens it by (fixtures/storage-spec.ts).
 */
const PG_URL = process.env.MODEL_ROLLOUT_TEST_PG_URL;
const S3_ENDPOINT = process.env.MODEL_ROLLOUT_TEST_S3_ENDPOINT;
if (!PG_URL) console.warn('multi-process.test.ts: MODEL_ROLLOUT_TEST_PG_URL is not set; skipping the PostgreSQL race');
if (!S3_ENDPOINT) console.warn('multi-process.test.ts: MODEL_ROLLOUT_TEST_S3_ENDPOINT is not set; skipping the S3 race');
const stores = [
  { kind: 'FileSystemStorage directory', skip: false, timeoutMs: 60_000, prepare: async () => freshDir() },
  {
    kind: 'PostgresStorage table',
    skip: !PG_URL,
    timeoutMs: 120_000,
    async prepare() {
      const spec = `pg:mr_race_${randomBytes(6).toString('hex')}`;
      const { storage, close } = storageFromSpec(spec);
      await (storage as PostgresStorage).migrate();
      cleanups.push(async () => {
        await (storage as PostgresStorage).drop();
        await close();
      });
      return spec;
    },
  },
  {
    kind: 'S3Storage prefix on Ceph RGW',
    skip: !S3_ENDPOINT,
    // Every register is a handful of requests and RGW on one memstore OSD answers ~100 of them a second.
    timeoutMs: 240_000,
    async prepare() {
      const bucket = `mr-race-${randomBytes(4).toString('hex')}`;
      const client = makeS3Client();
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      cleanups.push(async () => {
        await removeAllObjects(client, bucket);
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
        client.destroy();
      });
      return `s3:${bucket}/race`;
    },
  },
];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe.each(stores)('ModelRegistry across OS processes on one $kind', ({ skip, timeoutMs, prepare }) => {
  it.skipIf(skip)('8 processes × 25 concurrent registrations end with versions exactly 1..200, each artifact verified', async () => {
    const dir = await prepare();
    const workers = Array.from({ length: 8 }, (_, w) => startWorker('race', dir, String(w), '25'));
    for (const w of workers) expect(await w.nextLine()).toBe('ready');
    for (const w of workers) w.child.stdin.write('go\n');
    const claimed: Array<{ version: number; sha256: string }> = [];
    await Promise.all(
      workers.map(async (w) => {
        for (let i = 0; i < 25; i++) claimed.push(JSON.parse(await w.nextLine()) as { version: number; sha256: string });
        expect(await w.exited, w.stderr()).toBe(0);
      }),
    );
    const expected = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(claimed.map((c) => c.version).sort((a, b) => a - b)).toEqual(expected);
    expect(new Set(claimed.map((c) => c.sha256)).size).toBe(200);

    const { storage, close } = storageFromSpec(dir);
    cleanups.unshift(close);
    const registry = new ModelRegistry({ storage });
    const versions = await registry.listVersions('iris');
    expect(versions.map((v) => v.version)).toEqual(expected);
    const bySha = new Map(claimed.map((c) => [c.version, c.sha256]));
    for (const v of versions) {
      expect(v.sha256).toBe(bySha.get(v.version));
      await registry.loadArtifact('iris', v.version);
    }
    expect((await registry.resolve('iris', 'latest')).version).toBe(200);
  }, timeoutMs);
});

describe('ModelRegistry across OS processes on one FileSystemStorage directory', () => {
  it('a process SIGKILLed after storing the blob but before claiming the version leaves no version; the next register gets 1', async () => {
    const dir = await freshDir();
    const worker = startWorker('stall', dir);
    expect(await worker.nextLine()).toBe('blob-stored');
    worker.child.kill('SIGKILL');
    await worker.exited;
    expect(await expectNoHalfVersions(dir, 'big')).toEqual([]);
    const storage = new FileSystemStorage(dir);
    expect((await storage.list('')).filter((k) => !k.startsWith('blobs/'))).toEqual([]);
    const registry = new ModelRegistry({ storage });
    expect((await registry.register('big', new Uint8Array([1, 2, 3]), { format: 'bin' })).version).toBe(1);
  });

  it('processes SIGKILLed at random moments mid-register leave only whole versions, and numbering continues', async () => {
    const dir = await freshDir();
    let seen = 0;
    for (let round = 0; round < 3; round++) {
      const worker = startWorker('loop', dir, String(2 * 1024 * 1024));
      // Let it finish at least one version, then kill it somewhere inside a later register.
      seen = Number(await worker.nextLine());
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 40));
      worker.child.kill('SIGKILL');
      await worker.exited;
      const versions = await expectNoHalfVersions(dir, 'big');
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
      expect(versions.length).toBeGreaterThanOrEqual(seen);
    }
    const registry = new ModelRegistry({ storage: new FileSystemStorage(dir) });
    const before = (await registry.listVersions('big')).length;
    expect((await registry.register('big', new Uint8Array([9]), { format: 'bin' })).version).toBe(before + 1);
    // Whatever a killed writer left behind is invisible: dot-named temp or lock files only.
    const leftovers = (await readdir(path.join(dir, 'models/big/versions'))).filter((f) => !/^\d+\.json$/.test(f));
    expect(leftovers.every((f) => f.startsWith('.'))).toBe(true);
  });
});
