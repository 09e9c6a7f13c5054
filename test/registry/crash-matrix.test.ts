import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/errors.js';
import { ModelRegistry } from '../../src/index.js';
import { FileSystemStorage } from '../../src/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { bundleWorker } from '../fixtures/bundled-worker.js';

/**
 * The crash matrix: for each of register, setAlias/deleteAlias and deleteVersion, child
 * processes run the operation in a loop and are SIGKILLed at a random moment (12 kills each, 36
 * in all). After every kill the registry must open, list consistently (whole versions only, every
 * alias on a live version), keep every acknowledged operation, take the next write as max + 1
 * without waiting out a stale lock, and show no stray file but dot-named temp or lock files.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KILLS_PER_OPERATION = 12;
let worker: string;
let removeWorker: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ script: worker, remove: removeWorker } = await bundleWorker(new URL('./fixtures/crash-worker.ts', import.meta.url), 'crash-worker'));
});
afterAll(async () => {
  await removeWorker?.();
});

/** Runs the worker until `killAfterMs` after it is ready, SIGKILLs it and returns what it acknowledged. */
async function runAndKill(mode: string, dir: string, killAfterMs: number): Promise<Array<Record<string, number | string | null>>> {
  const child = spawn(process.execPath, [worker, mode, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const acked: Array<Record<string, number | string | null>> = [];
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise<void>((resolve) =>
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      else acked.push(JSON.parse(line) as Record<string, number | string | null>);
    }),
  );
  await Promise.race([ready, exited.then(() => Promise.reject(new Error(`worker ${mode} exited before ready:\n${stderr}`)))]);
  await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  child.kill('SIGKILL');
  await exited;
  lines.close();
  expect(stderr).toBe('');
  return acked;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else out.push(full);
  }
  return out;
}

/** The checks after every kill; returns the highest version number claimed. */
async function checkAfterCrash(dir: string): Promise<{ live: number[]; claimed: number }> {
  const storage = new FileSystemStorage(dir);
  const registry = new ModelRegistry({ storage });
  const versions = await registry.listVersions('m', { includeArchived: true });
  for (const v of versions) expect((await registry.loadArtifact('m', v.version)).length).toBe(v.size);
  const live = versions.map((v) => v.version);
  for (const [alias, target] of Object.entries(await registry.getAliases('m'))) expect(live, `@${alias}`).toContain(target);
  const claimed = (await storage.list('models/m/versions/')).length;
  // Numbers are never skipped: every number up to the highest is a live version or a tombstone.
  expect(claimed === 0 ? 0 : Math.max(...(await storage.list('models/m/versions/')).map((k) => Number(/(\d+)\.json$/.exec(k)![1])))).toBe(claimed);
  for (const file of await walk(dir)) expect(path.basename(file), file).toMatch(/^(\.|[0-9a-f]{64}$|\d+\.json$|aliases\.json$|head\.json$)/);
  return { live, claimed };
}

/** The next write after a crash: max + 1, without waiting out a lock the killed writer held. */
async function nextWriteWorks(dir: string, claimed: number): Promise<void> {
  const registry = new ModelRegistry({ storage: new FileSystemStorage(dir, { lockTimeoutMs: 5_000 }) });
  const started = Date.now();
  expect((await registry.register('m', new TextEncoder().encode(`after crash ${claimed}`), { format: 'bin' })).version).toBe(claimed + 1);
  await registry.setAlias('m', 'after-crash', claimed + 1);
  await registry.deleteAlias('m', 'after-crash');
  expect(Date.now() - started).toBeLessThan(5_000);
}

describe('crash matrix: SIGKILL at random points of register, setAlias and deleteVersion', () => {
  const random = seededRandom(2026);
  const delays = (n: number) => Array.from({ length: n }, () => 5 + Math.floor(random() * 120));

  it(`register: ${KILLS_PER_OPERATION} kills`, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mr-crash-'));
    try {
      const acknowledged = new Set<number>();
      for (const delay of delays(KILLS_PER_OPERATION)) {
        for (const ack of await runAndKill('register', dir, delay)) acknowledged.add(ack.version as number);
        const { live, claimed } = await checkAfterCrash(dir);
        for (const v of acknowledged) expect(live).toContain(v);
        await nextWriteWorks(dir, claimed);
        acknowledged.add(claimed + 1);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it(`setAlias and deleteAlias: ${KILLS_PER_OPERATION} kills`, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mr-crash-'));
    try {
      const setup = new ModelRegistry({ storage: new FileSystemStorage(dir) });
      await setup.register('m', new Uint8Array([1]), { format: 'bin' });
      await setup.register('m', new Uint8Array([2]), { format: 'bin' });
      for (const delay of delays(KILLS_PER_OPERATION)) {
        const acked = await runAndKill('alias', dir, delay);
        const { claimed } = await checkAfterCrash(dir);
        const registry = new ModelRegistry({ storage: new FileSystemStorage(dir) });
        const aliases = await registry.getAliases('m');
        const lastProd = acked.filter((a) => a.alias === 'prod').at(-1);
        // The alias is the last acknowledged value or the one being written when the kill came.
        if (lastProd) expect([lastProd.version, lastProd.version === 1 ? 2 : 1]).toContain(aliases.prod);
        const history = await registry.aliasHistory('m', 'prod');
        expect(history.at(-1)?.version ?? undefined).toBe(aliases.prod);
        await nextWriteWorks(dir, claimed);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it(`deleteVersion: ${KILLS_PER_OPERATION} kills`, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mr-crash-'));
    try {
      const setup = new ModelRegistry({ storage: new FileSystemStorage(dir) });
      await setup.register('m', new Uint8Array([1]), { format: 'bin' });
      const deleted = new Set<number>();
      for (const delay of delays(KILLS_PER_OPERATION)) {
        for (const ack of await runAndKill('delete', dir, delay)) if (ack.deleted !== undefined) deleted.add(ack.deleted as number);
        const { live } = await checkAfterCrash(dir);
        for (const v of deleted) expect(live).not.toContain(v);
        const registry = new ModelRegistry({ storage: new FileSystemStorage(dir) });
        // A version whose delete was cut short is still whole, and deleting it again completes it.
        for (const v of live.filter((x) => x !== 1 && !deleted.has(x))) {
          await registry.setAlias('m', 'tmp', 1);
          await registry.deleteVersion('m', v);
          await expect(registry.getVersion('m', v)).rejects.toBeInstanceOf(NotFoundError);
          deleted.add(v);
        }
        await nextWriteWorks(dir, (await checkAfterCrash(dir)).claimed);
      }
      expect(deleted.size).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
