import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreconditionFailedError, StorageError, ValidationError } from '../../src/errors.js';
import { ModelRegistry } from '../../src/index.js';
import { S3Storage, type S3ClientLike } from '../../src/storage/s3/index.js';
import { testStorageAdapter } from '../../src/testing/index.js';
import { startCuttableProxy } from './cuttable-proxy.js';
import { S3_ENDPOINT, makeS3Client, removeAllObjects } from './s3-env.js';

if (!S3_ENDPOINT) {
  console.warn('s3-storage.test.ts: MODEL_ROLLOUT_TEST_S3_ENDPOINT is not set; skipping the S3 tests (.ci/run starts Ceph RGW with scripts/s3-test-server.sh)');
}

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (d: Uint8Array | undefined) => d && new TextDecoder().decode(d);

describe.skipIf(!S3_ENDPOINT)('S3Storage on Ceph RGW', () => {
  const client = makeS3Client();
  const bucket = `mr-test-${randomBytes(4).toString('hex')}`;
  const fresh = (options: Partial<ConstructorParameters<typeof S3Storage>[0]> = {}) =>
    new S3Storage({ client, bucket, prefix: `t-${randomBytes(6).toString('hex')}/`, ...options });
  beforeAll(async () => {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    await removeAllObjects(client, bucket);
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    client.destroy();
  });

  testStorageAdapter('S3Storage', () => fresh(), { it, expect, dispose: (s) => removeAllObjects(client, bucket, s.prefix) });

  it('checks its options up front, naming the bad one', () => {
    expect(() => new S3Storage({ client: {} as S3ClientLike, bucket })).toThrow(/client must be an S3Client/);
    expect(() => new S3Storage({ client, bucket: 'Bad_Bucket' })).toThrow(/bucket must be an S3 bucket name/);
    expect(() => new S3Storage({ client, bucket, prefix: 'sp ace/' })).toThrow(ValidationError);
    expect(() => new S3Storage({ client, bucket, partSizeBytes: 1024 })).toThrow(/partSizeBytes must be an integer >= 5242880/);
    expect(() => new S3Storage({ client, bucket, conditionalDelete: 'maybe' as never })).toThrow(/conditionalDelete must be one of 'tombstone', 'native'/);
    expect(fresh().guarantees).toEqual({ scope: 'fleet', conditionalDelete: 'tombstone', changeFeed: false });
  });

  it('RGW deletes despite a wrong If-Match, which is why conditional delete defaults to a tombstone', async () => {
    const native = fresh({ conditionalDelete: 'native' });
    await native.put('k', bytes('v1'));
    const current = await native.put('k', bytes('v2'));
    await native.delete('k', { ifMatch: 'not-the-etag' }); // a store that honoured it would refuse
    expect(await native.get('k')).toBe(undefined);
    const safe = fresh();
    await safe.put('k', bytes('v1'));
    await expect(safe.delete('k', { ifMatch: 'not-the-etag' })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(text((await safe.get('k'))?.data)).toBe('v1');
    expect(current.etag).not.toBe('');
  });

  it('sends etags unquoted: a quoted etag from a caller still matches (RGW refuses quoted If-Match)', async () => {
    const s = fresh();
    const { etag } = await s.put('k', bytes('v1'));
    expect(etag.includes('"')).toBe(false);
    const raw = await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${s.prefix}k`, Body: 'x', IfMatch: `"${etag}"` })).catch((e: { $metadata?: { httpStatusCode?: number } }) => e);
    expect((raw as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(412);
    await s.put('k', bytes('v2'), { ifMatch: `"${etag}"` });
    expect(text((await s.get('k'))?.data)).toBe('v2');
  });

  it('a tombstone left by a crash between its write and its removal reads as missing, is not listed, and the key is created again exactly once', async () => {
    const s = fresh();
    const dropsDeletes: S3ClientLike = {
      send: (command: never) =>
        (command as object).constructor.name === 'DeleteObjectCommand' ? Promise.reject(new Error('process died')) : client.send(command),
    };
    const crashing = new S3Storage({ client: dropsDeletes, bucket, prefix: s.prefix });
    const { etag } = await s.put('deployments/x.json', bytes('v1'));
    await s.put('empty', new Uint8Array(0));
    await crashing.delete('deployments/x.json', { ifMatch: etag });
    const raw = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: s.prefix }));
    expect(raw.KeyCount).toBe(2); // the tombstone is still there…
    expect(await s.get('deployments/x.json')).toBe(undefined); // …but reads as missing
    expect(await s.list('')).toEqual(['empty']);
    await expect(s.delete('deployments/x.json', { ifMatch: etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    const racers = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => s.put('deployments/x.json', bytes(`new ${i}`), { ifNoneMatch: '*' })));
    expect(racers.filter((r) => r.status === 'fulfilled').length).toBe(1);
    expect(await s.list('deployments/')).toEqual(['deployments/x.json']);
  });

  it('a conditional write answered with a 500 is settled: landed → its etag, not landed but still possible → retried, lost → PreconditionFailedError', async () => {
    const s = fresh();
    const serverError = () => Object.assign(new Error('We encountered an internal error'), { name: 'InternalError', $metadata: { httpStatusCode: 500, attempts: 1 } });
    let mode: 'landed' | 'not sent' | 'off' = 'off';
    const flaky: S3ClientLike = {
      async send(command: never) {
        if (!((command as object) instanceof PutObjectCommand) || mode === 'off') return client.send(command);
        const current = mode;
        mode = 'off';
        if (current === 'landed') await client.send(command);
        throw serverError();
      },
    };
    const settling = new S3Storage({ client: flaky, bucket, prefix: s.prefix });
    mode = 'landed';
    const created = await settling.put('k', bytes('v1'), { ifNoneMatch: '*' });
    expect(await s.get('k')).toEqual({ data: bytes('v1'), etag: created.etag });
    mode = 'not sent';
    const swapped = await settling.put('k', bytes('v2'), { ifMatch: created.etag });
    expect(await s.get('k')).toEqual({ data: bytes('v2'), etag: swapped.etag });
    mode = 'not sent';
    await s.put('k', bytes('someone else'));
    await expect(settling.put('k', bytes('v3'), { ifMatch: swapped.etag })).rejects.toThrow(/storage key 'k' has etag '.+' \(ifMatch: '/);
    expect(text((await s.get('k'))?.data)).toBe('someone else');
  });

  it('a multipart upload whose part fails is aborted: no upload left behind, the previous value intact', async () => {
    const s = fresh({ multipartThresholdBytes: 5 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024 });
    await s.put('blob', bytes('previous'));
    let parts = 0;
    const failsSecondPart: S3ClientLike = {
      send: (command: never) =>
        (command as object) instanceof UploadPartCommand && ++parts === 2 ? Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })) : client.send(command),
    };
    const failing = new S3Storage({ client: failsSecondPart, bucket, prefix: s.prefix, multipartThresholdBytes: 5 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024 });
    const err = await failing.put('blob', randomBytes(12 * 1024 * 1024)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).message).toMatch(/upload key 'blob' in parts \(the upload was aborted\)/);
    expect((err as StorageError).cause).toMatchObject({ code: 'ECONNRESET' });
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: s.prefix }));
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(text((await s.get('blob'))?.data)).toBe('previous');
    const big = randomBytes(12 * 1024 * 1024);
    await s.put('blob', big);
    expect(Buffer.from((await s.get('blob'))!.data).equals(big)).toBe(true);
  });

  it('the gateway unreachable mid-upload: StorageError with the cause, the previous value intact and readable, the next save succeeds', async () => {
    const proxy = await startCuttableProxy(new URL(S3_ENDPOINT!));
    const viaProxy = makeS3Client(proxy.endpoint);
    try {
      const s = fresh();
      const cut = new S3Storage({ client: viaProxy, bucket, prefix: s.prefix });
      const before = await cut.put('deployments/iris.json', bytes('revision 1'));
      const saving = cut.put('deployments/iris.json', randomBytes(24 * 1024 * 1024), { ifMatch: before.etag });
      await new Promise((resolve) => setTimeout(resolve, 30));
      proxy.cut();
      await proxy.close();
      const err = await saving.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).cause).toBeInstanceOf(Error);
      expect(await s.get('deployments/iris.json')).toEqual({ data: bytes('revision 1'), etag: before.etag });
      const next = await s.put('deployments/iris.json', bytes('revision 2'), { ifMatch: before.etag });
      expect(await s.get('deployments/iris.json')).toEqual({ data: bytes('revision 2'), etag: next.etag });
    } finally {
      viaProxy.destroy();
      await proxy.close().catch(() => undefined);
    }
  });

  it('a ModelRegistry runs on it with the host’s S3Client, which fits the structural type without a cast', async () => {
    const hostClient: S3ClientLike = client;
    const registry = new ModelRegistry({ storage: new S3Storage({ client: hostClient, bucket, prefix: `reg-${randomBytes(4).toString('hex')}/` }) });
    const v1 = await registry.register('model', new Uint8Array([1, 2, 3]), { format: 'bin' });
    const v2 = await registry.register('model', new Uint8Array([4, 5]), { format: 'bin' });
    await registry.setAlias('model', 'production', v1.version);
    await registry.setAlias('model', 'production', v2.version);
    expect((await registry.resolve('model', '@production')).version).toBe(2);
    expect(Array.from(await registry.loadArtifact('model', 'latest'))).toEqual([4, 5]);
  });
});
