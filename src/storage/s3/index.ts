/**
 * `model-rollout/s3`: the S3 storage adapter. Needs the optional peer dependency
 * `@aws-sdk/client-s3` >= 3.700 in the host (pass its `S3Client`); the command classes are
 * imported from it lazily, on first use.
 *
 * @packageDocumentation
 */
export { S3Storage, type S3StorageOptions } from './s3-storage.js';
export type { S3ClientLike } from './s3-types.js';
