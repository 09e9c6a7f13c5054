/** The S3 server the tests use (Ceph RGW started by scripts/s3-test-server.sh), from the environment. */
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export const S3_ENDPOINT = process.env.MODEL_ROLLOUT_TEST_S3_ENDPOINT;

export function s3ClientConfig(endpoint = S3_ENDPOINT): S3ClientConfig {
  return {
    endpoint,
    region: process.env.MODEL_ROLLOUT_TEST_S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: {
      accessKeyId: process.env.MODEL_ROLLOUT_TEST_S3_ACCESS_KEY ?? '',
      secretAccessKey: process.env.MODEL_ROLLOUT_TEST_S3_SECRET_KEY ?? '',
    },
  };
}

export function makeS3Client(endpoint = S3_ENDPOINT): S3Client {
  return new S3Client(s3ClientConfig(endpoint));
}

/** Deletes every object under `prefix` of `bucket` (the tests' tear-down). */
export async function removeAllObjects(client: S3Client, bucket: string, prefix = ''): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length === 0) return;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
}
