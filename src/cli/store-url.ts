/**
 * `--store URL` / `MODEL_ROLLOUT_STORE`: which storage the command opens. Parsing is a pure
 * function (tested on its own); opening imports the optional peer a store needs only then, so a
 * `file:` store never loads `pg` or the AWS SDK and a missing peer is one line naming the package.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StorageError, ValidationError, describeValue } from '../errors.js';
import { FileSystemStorage } from '../storage/file-system-storage.js';
import type { PgPoolLike } from '../storage/postgres/pg-types.js';
import { PostgresStorage } from '../storage/postgres/postgres-storage.js';
import { S3Storage } from '../storage/s3/s3-storage.js';
import type { S3ClientLike } from '../storage/s3/s3-types.js';
import type { StorageAdapter } from '../storage/storage-adapter.js';

/** The default store, the library's embedded default (`new FileSystemStorage('./models')`). */
export const DEFAULT_STORE = 'file:./models';

/** A parsed store URL. */
export type StoreLocation =
  | { kind: 'file'; directory: string }
  | { kind: 'postgres'; connectionString: string; table: string | undefined }
  | { kind: 's3'; bucket: string; prefix: string; endpoint: string | undefined; region: string | undefined };

const EXPECTED = "file:<directory>, postgres://user@host:port/db[?table=name] or s3://bucket[/prefix][?endpoint=URL&region=R]";

function malformed(url: string, why: string): ValidationError {
  return new ValidationError(`store URL must be ${EXPECTED}; ${why}, got ${describeValue(url)}`);
}

/** Parses a store URL; `cwd` anchors a relative `file:` directory. @throws ValidationError naming what is wrong (exit 1: the URL may come from the environment). */
export function parseStoreUrl(url: string, cwd: string): StoreLocation {
  if (url.startsWith('file:')) {
    // file:./models and file:models are relative paths (as npm writes file: dependencies); file:///x is absolute.
    const directory = url.startsWith('file://') ? safeFileUrl(url) : url.slice('file:'.length);
    if (directory.length === 0) throw malformed(url, 'the directory is empty');
    return { kind: 'file', directory: path.resolve(cwd, directory) };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw malformed(url, 'it is not a URL');
  }
  if (parsed.protocol === 'postgres:' || parsed.protocol === 'postgresql:') {
    if (parsed.hostname === '' && !parsed.searchParams.has('host')) throw malformed(url, 'the host is missing');
    const table = parsed.searchParams.get('table') ?? undefined;
    parsed.searchParams.delete('table');
    return { kind: 'postgres', connectionString: parsed.toString(), table };
  }
  if (parsed.protocol === 's3:') {
    const bucket = parsed.hostname;
    if (bucket === '') throw malformed(url, 'the bucket is missing');
    for (const key of parsed.searchParams.keys()) {
      if (key !== 'endpoint' && key !== 'region') throw malformed(url, `'${key}' is not an s3 option (endpoint, region)`);
    }
    const endpoint = parsed.searchParams.get('endpoint') ?? undefined;
    if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) throw malformed(url, 'endpoint must be an http(s) URL');
    const prefix = decodeURIComponent(parsed.pathname.replace(/^\/+/, ''));
    return { kind: 's3', bucket, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`, endpoint, region: parsed.searchParams.get('region') ?? undefined };
  }
  throw malformed(url, `'${parsed.protocol}' is not a store scheme`);
}

function safeFileUrl(url: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    throw malformed(url, 'it is not a file URL');
  }
}

/** An open store: the adapter, a way to make it writable, and the connections to close. */
export interface OpenStore {
  readonly storage: StorageAdapter;
  /** Creates what the store needs before a first write (the PostgreSQL table); reads never call it. */
  prepareWrites(): Promise<void>;
  close(): Promise<void>;
}

/** A peer dependency the host installs only for the store it uses. */
async function importPeer<T>(name: string, scheme: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    throw new StorageError(`a ${scheme} store needs the optional peer dependency ${name}: npm install ${name} (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
}

interface PgModule {
  Pool: new (config: Record<string, unknown>) => PgPoolLike & { on(event: 'error', l: (err: Error) => void): unknown; end(): Promise<void> };
}
interface S3Module {
  S3Client: new (config: Record<string, unknown>) => S3ClientLike & { destroy(): void };
}

export async function openStore(location: StoreLocation, env: NodeJS.ProcessEnv): Promise<OpenStore> {
  switch (location.kind) {
    case 'file':
      return { storage: new FileSystemStorage(location.directory), prepareWrites: async () => {}, close: async () => {} };
    case 'postgres': {
      const pg = await importPeer<PgModule & { default?: PgModule }>('pg', 'postgres://');
      const Pool = (pg.default ?? pg).Pool;
      // One command, a few statements: two connections, and an unreachable server is an error in 5 s, not a hang.
      const pool = new Pool({ connectionString: location.connectionString, max: 2, connectionTimeoutMillis: 5_000 });
      pool.on('error', () => {}); // an idle client's failure surfaces on the next query
      const storage = new PostgresStorage({ pool, ...(location.table === undefined ? {} : { table: location.table }) });
      return { storage, prepareWrites: () => storage.migrate(), close: () => pool.end() };
    }
    case 's3': {
      const sdk = await importPeer<S3Module>('@aws-sdk/client-s3', 's3://');
      // Credentials come from the SDK's usual chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, …).
      const client = new sdk.S3Client({
        region: location.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
        ...(location.endpoint === undefined ? {} : { endpoint: location.endpoint, forcePathStyle: true }),
      });
      const storage = new S3Storage({ client, bucket: location.bucket, prefix: location.prefix });
      return { storage, prepareWrites: async () => {}, close: async () => client.destroy() };
    }
  }
}
