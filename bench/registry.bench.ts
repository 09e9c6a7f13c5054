/**
 * Registry I/O against the plain file-system floor, measured in the same run:
 * - `register` of a 10 MB artifact on FileSystemStorage vs `fs.writeFile` + sha256 of the same bytes;
 * - `loadArtifact` of it vs `fs.readFile` + sha256.
 * The artifact is 10 MB of random bytes registered with `format: 'bin'`, so onnxruntime does not
 * open it: this measures storage, hashing and version claiming, not ONNX parsing (which depends on
 * the model, not on the registry). One byte changes before every write so content addressing never
 * turns a write into a no-op. A third row adds fsync to the peer, to show what durability costs.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import * as path from 'node:path';
import { ModelRegistry } from '../src/index.js';
import { FileSystemStorage } from '../src/index.js';
import { keep, printTable, ratio, summarise, type AsyncResult } from './harness.js';

const SIZE = 10 * 1024 * 1024;
const CALLS = 30;
const WARMUP = 3;

// On the repository's disk, not /tmp (which may be tmpfs, where fsync costs nothing).
const root = await mkdtemp(path.join(process.cwd(), '.bench-registry-'));
try {
  const bytes = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 65536) {
    const chunk = new Uint8Array(Math.min(65536, SIZE - i));
    crypto.getRandomValues(chunk);
    bytes.set(chunk, i);
  }
  const vary = (i: number) => new DataView(bytes.buffer).setUint32(0, i);
  const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

  const registry = new ModelRegistry({ storage: new FileSystemStorage(path.join(root, 'registry')) });
  const plainDir = path.join(root, 'plain');
  await mkdir(plainDir);

  // Contenders take turns call by call (in rotating order), so the load on this shared machine
  // and the kernel's background writeback of earlier writes hit every contender alike.
  async function interleaved(contenders: Array<[string, (i: number) => Promise<unknown>]>): Promise<AsyncResult[]> {
    const samples = contenders.map(() => new Float64Array(CALLS));
    for (let call = -WARMUP; call < CALLS; call++) {
      for (let k = 0; k < contenders.length; k++) {
        const index = (k + call + WARMUP) % contenders.length;
        const start = performance.now();
        await contenders[index]![1](call);
        if (call >= 0) samples[index]![call] = performance.now() - start;
      }
    }
    return contenders.map(([name], index) => summarise(name, samples[index]!));
  }

  let counter = 0;
  const writes = await interleaved([
    ['register (FileSystemStorage)', async () => {
      vary(++counter);
      keep(await registry.register('bench', bytes, { format: 'bin' }));
    }],
    ['fs.writeFile + sha256', async () => {
      vary(++counter);
      keep(sha256(bytes));
      await writeFile(path.join(plainDir, `plain-${counter}`), bytes);
    }],
    ['fs.writeFile + fsync + sha256', async () => {
      vary(++counter);
      keep(sha256(bytes));
      const handle = await open(path.join(plainDir, `synced-${counter}`), 'w');
      await handle.writeFile(bytes);
      await handle.sync();
      await handle.close();
    }],
  ]);
  const latest = (await registry.resolve('bench', 'latest')).version;
  const plainFile = path.join(plainDir, `plain-${counter - 1}`);
  await writeFile(plainFile, bytes);
  const reads = await interleaved([
    ['loadArtifact (FileSystemStorage)', async () => keep(await registry.loadArtifact('bench', latest))],
    ['fs.readFile + sha256', async () => keep(sha256(await readFile(plainFile)))],
  ]);

  const results = [...writes, ...reads];
  printTable(`registry, 10 MB artifact (${CALLS} calls each, interleaved)`, results.map((r) => ({
    name: r.name, 'p50 ms': r.p50Us / 1000, 'mean ms': r.meanUs / 1000, 'p99 ms': r.p99Us / 1000,
  })));
  const [register, plainWrite, syncedWrite] = writes.map((r) => r.p50Us) as [number, number, number];
  const [load, plainRead] = reads.map((r) => r.p50Us) as [number, number];
  printTable('ratios of p50 (ours / peer; target <= 1.5x against the plain peers)', [
    { comparison: 'register / (fs.writeFile + sha256)', ratio: ratio(register, plainWrite) },
    { comparison: 'register / (fs.writeFile + fsync + sha256)', ratio: ratio(register, syncedWrite) },
    { comparison: 'loadArtifact / (fs.readFile + sha256)', ratio: ratio(load, plainRead) },
  ]);
} finally {
  await rm(root, { recursive: true, force: true });
}
