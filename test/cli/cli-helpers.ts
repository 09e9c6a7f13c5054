/**
 * Runs the BUILT `model-rollout` command (dist/cli.js, as the package's bin) as a child process,
 * against stores the tests can also open directly: a temporary directory, a PostgreSQL table
 * (MODEL_ROLLOUT_TEST_PG_URL) and an S3 prefix on the test gateway (MODEL_ROLLOUT_TEST_S3_*).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { FileSystemStorage, type StorageAdapter } from '../../src/index.js';
import { PostgresStorage } from '../../src/storage/postgres/index.js';
import { S3Storage } from '../../src/storage/s3/index.js';
import { S3_ENDPOINT, makeS3Client, removeAllObjects } from '../storage/s3-env.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'dist', 'cli.js');
const run = promisify(execFile);

/** `npm test` builds before vitest; a lone run builds here. */
export async function ensureBuilt(): Promise<void> {
  if (!existsSync(BIN)) await run(process.execPath, [path.join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js')], { cwd: ROOT });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a command run: no colour settings or store inherited from the test's shell. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of ['MODEL_ROLLOUT_STORE', 'NO_COLOR', 'FORCE_COLOR', 'NODE_OPTIONS']) if (!(key in extra)) delete env[key];
  return env;
}

/** Runs `model-rollout …args`; never rejects on a non-zero exit. */
export async function cli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: cliEnv(options.env), maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** One store the CLI is pointed at (`url`, `env`) and the same store opened by the test. */
export interface TestStore {
  name: string;
  url: string;
  env: NodeJS.ProcessEnv;
  storage: StorageAdapter;
  dispose(): Promise<void>;
}

export const PG_URL = process.env.MODEL_ROLLOUT_TEST_PG_URL;

/** The stores every CLI test runs on; PostgreSQL and S3 only where their test servers are set. */
export function storeKinds(file: string): Array<{ kind: 'file' | 'postgres' | 's3'; open: () => Promise<TestStore> }> {
  if (!PG_URL) console.warn(`${file}: MODEL_ROLLOUT_TEST_PG_URL is not set; skipping the PostgreSQL store (.ci/run sets it)`);
  if (!S3_ENDPOINT) console.warn(`${file}: MODEL_ROLLOUT_TEST_S3_ENDPOINT is not set; skipping the S3 store (source /tmp/s3env or .ci/run)`);
  return [
    { kind: 'file' as const, open: openFileStore },
    ...(PG_URL ? [{ kind: 'postgres' as const, open: openPostgresStore }] : []),
    ...(S3_ENDPOINT ? [{ kind: 's3' as const, open: openS3Store }] : []),
  ];
}

export async function openFileStore(): Promise<TestStore> {
  const dir = mkdtempSync(path.join(tmpdir(), 'model-rollout-cli-'));
  return { name: 'file', url: `file:${dir}`, env: {}, storage: new FileSystemStorage(dir), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
}

export async function openPostgresStore(): Promise<TestStore> {
  const table = `mr_cli_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  pool.on('error', () => undefined);
  const storage = new PostgresStorage({ pool, table });
  await storage.migrate();
  const url = new URL(PG_URL!);
  url.searchParams.set('table', table);
  return {
    name: 'postgres',
    url: url.toString(),
    env: {},
    storage,
    dispose: async () => {
      await storage.drop();
      await pool.end();
    },
  };
}

export async function openS3Store(): Promise<TestStore> {
  const client = makeS3Client();
  const bucket = `mr-cli-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const prefix = `t-${randomBytes(4).toString('hex')}/`;
  return {
    name: 's3',
    url: `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(S3_ENDPOINT!)}&region=${process.env.MODEL_ROLLOUT_TEST_S3_REGION ?? 'us-east-1'}`,
    // The command finds its credentials where every AWS tool does.
    // The AWS SDK's own switch for its warning that later releases need Node 22 (we test on 20).
    env: {
      AWS_ACCESS_KEY_ID: process.env.MODEL_ROLLOUT_TEST_S3_ACCESS_KEY ?? '',
      AWS_SECRET_ACCESS_KEY: process.env.MODEL_ROLLOUT_TEST_S3_SECRET_KEY ?? '',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    storage: new S3Storage({ client, bucket, prefix }),
    dispose: async () => {
      await removeAllObjects(client, bucket);
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}

/** Every key with the etag and sha256 of its value: equal dumps mean nothing was written. */
export async function dumpStorage(storage: StorageAdapter): Promise<Record<string, string>> {
  const dump: Record<string, string> = {};
  for (const key of await storage.list('')) {
    const stored = await storage.get(key);
    if (stored) dump[key] = `${stored.etag} ${createHash('sha256').update(stored.data).digest('hex')}`;
  }
  return dump;
}

/** A regex whose `ESC` stands for the escape character (a control character in a literal regex is a lint error). */
export function ansi(pattern: RegExp): RegExp {
  return new RegExp(pattern.source.replaceAll('ESC', '\\u001b'), pattern.flags);
}

/** Strips colour and cursor codes (for checks on terminal output). */
export function plain(text: string): string {
  return text.replace(ansi(/ESC\[[0-9;?]*[A-Za-z]/g), '');
}
