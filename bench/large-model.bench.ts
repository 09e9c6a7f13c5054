/**
 * Memory of a model of gigabytes: a generated ONNX model (one large initializer, default 1 GiB;
 * `LARGE_MODEL_BYTES` overrides) is registered on FileSystemStorage from its path, then a
 * `PredictorPool` loads it (with its default warm-up) and answers one prediction; once with a
 * `Gather` model whose runs read two rows of the initializer, once with a `MatMul` model whose
 * runs read all of it. Each step runs in a fresh process and
 * reports its peak RSS (`maxRSS`), beside the peak of a process that only loads the library and
 * onnxruntime and serves a tiny model (the floor every step pays). Goal: each step's peak ≤ 1.3 ×
 * the model's size.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeLargeModel } from './large-model/generate.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const target = Number(process.env.LARGE_MODEL_BYTES ?? 2 ** 30);
// On the repository's disk, not /tmp (which may be tmpfs and count against memory).
const root = await mkdtemp(path.join(process.cwd(), '.bench-large-'));
const MB = 1024 * 1024;
console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

function step(mode: string, ...args: string[]): { ms: number; maxRssBytes: number } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'large-model', 'child.ts'), mode, path.join(root, 'store'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`${mode} step exited with ${result.status ?? result.signal}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1) as string) as { ms: number; maxRssBytes: number };
}

try {
  const baseline = step('baseline');
  console.log('| model | step | peak RSS (MiB) | × model size | above baseline (MiB) | × model size above baseline | time (s) |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const op of ['gather', 'matmul'] as const) {
    const store = path.join(root, 'store');
    await rm(store, { recursive: true, force: true });
    const file = path.join(root, `large-${op}.onnx`);
    const { size } = await writeLargeModel(file, target, op);
    const rows = [
      ['baseline (library + onnxruntime, tiny model)', baseline],
      ['register(name, path)', step('register', file)],
      ['pool.get + one predict', step('get')],
      ...(op === 'matmul' ? ([['pool.get + one predict, prepacking off', step('get-unpacked')]] as const) : []),
    ] as const;
    const label = `${(size / MB).toFixed(0)} MiB, ${op === 'gather' ? 'Gather (a run reads 2 rows)' : 'MatMul (a run reads every weight)'}`;
    for (const [name, r] of rows) {
      const above = r.maxRssBytes - baseline.maxRssBytes;
      console.log(
        `| ${label} | ${name} | ${(r.maxRssBytes / MB).toFixed(0)} | ${(r.maxRssBytes / size).toFixed(2)} | ${(above / MB).toFixed(0)} | ${(above / size).toFixed(2)} | ${(r.ms / 1000).toFixed(1)} |`,
      );
    }
    await rm(file, { force: true });
  }
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  await rm(root, { recursive: true, force: true });
}
