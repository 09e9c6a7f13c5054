/**
 * The part of `@aws-sdk/client-s3` (>= 3.700) the S3 adapter uses from the host's client, typed
 * structurally so this package never imports a client the host did not install. The command
 * classes are imported lazily from the host's `@aws-sdk/client-s3` on first use.
 */
export interface S3ClientLike {
  send(command: never): Promise<unknown>;
}
