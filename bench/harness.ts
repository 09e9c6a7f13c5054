/**
 * Shared benchmark helpers: every bench measures ours and a peer in the same run and prints ratios,
 * because these machines are shared and noisy (absolute numbers move, ratios much less).
 */
import { performance } from 'node:perf_hooks';

/** Per-operation timing of a synchronous function, in nanoseconds. */
export interface SyncResult {
  name: string;
  nsPerOp: number;
  ops: number;
}

/**
 * Times `fn(i)` in a tight loop: a warm-up, then `rounds` rounds of `iterations` calls; reports the
 * best round's mean (the least disturbed by other load), which is what ratios should compare.
 */
export function timeSync(name: string, fn: (i: number) => unknown, iterations = 1_000_000, rounds = 5): SyncResult {
  let sink: unknown;
  for (let i = 0; i < Math.min(iterations, 100_000); i++) sink = fn(i);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) sink = fn(i);
    const elapsed = performance.now() - start;
    best = Math.min(best, elapsed);
  }
  keep(sink);
  return { name, nsPerOp: (best * 1e6) / iterations, ops: iterations };
}

/** Per-call latencies of an async function called sequentially, in microseconds. */
export interface AsyncResult {
  name: string;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  /** Mean of the calls below the p99: the mean without the scheduler's preemptions of a shared machine. */
  trimmedMeanUs: number;
  calls: number;
}

/** Calls `fn` sequentially `calls` times after `warmup` calls and summarises per-call latency. */
export async function timeAsync(
  name: string,
  fn: (i: number) => Promise<unknown>,
  calls = 20_000,
  warmup = 2_000,
): Promise<AsyncResult> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await fn(i);
    samples[i] = performance.now() - start;
  }
  return summarise(name, samples);
}

/** Summarises latency samples given in milliseconds. */
export function summarise(name: string, samplesMs: Float64Array): AsyncResult {
  const sorted = Float64Array.from(samplesMs).sort();
  const belowP99 = Math.floor(sorted.length * 0.99);
  let total = 0;
  let trimmedTotal = 0;
  for (let i = 0; i < sorted.length; i++) {
    total += sorted[i] as number;
    if (i < belowP99) trimmedTotal += sorted[i] as number;
  }
  const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 1000;
  return {
    name,
    meanUs: (total / sorted.length) * 1000,
    p50Us: at(0.5),
    p99Us: at(0.99),
    trimmedMeanUs: belowP99 > 0 ? (trimmedTotal / belowP99) * 1000 : 0,
    calls: sorted.length,
  };
}

/**
 * Times two async calls paired, call by call, alternating which goes first (so neither always
 * runs on the other's warm cache), so both see the same moments of a noisy machine.
 */
export async function timePaired(
  names: [string, string],
  a: (i: number) => Promise<unknown>,
  b: (i: number) => Promise<unknown>,
  calls: number,
  warmup: number,
): Promise<[AsyncResult, AsyncResult]> {
  for (let i = 0; i < warmup; i++) {
    keep(await a(i));
    keep(await b(i));
  }
  const sa = new Float64Array(calls);
  const sb = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const aFirst = (i & 1) === 0;
    const t0 = performance.now();
    keep(await (aFirst ? a(i) : b(i)));
    const t1 = performance.now();
    keep(await (aFirst ? b(i) : a(i)));
    const t2 = performance.now();
    (aFirst ? sa : sb)[i] = t1 - t0;
    (aFirst ? sb : sa)[i] = t2 - t1;
  }
  return [summarise(names[0], sa), summarise(names[1], sb)];
}

/** Heap used after a full GC (needs `node --expose-gc`), in bytes. */
export function heapUsedAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

/** Prints a titled table. */
export function printTable(title: string, rows: Array<Record<string, string | number>>): void {
  console.log(`\n## ${title}`);
  console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]))));
}

/** Formats `ours / theirs` (or the inverse) as `1.23×`. */
export function ratio(a: number, b: number): string {
  return `${round(a / b)}×`;
}

function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  const abs = Math.abs(v);
  return abs >= 100 ? Math.round(v) : abs >= 1 ? Math.round(v * 100) / 100 : Math.round(v * 10000) / 10000;
}

let sinkHolder: unknown;
/** Keeps a value alive so the optimiser cannot drop the work that produced it. */
export function keep(value: unknown): void {
  sinkHolder = value;
  if (sinkHolder === Symbol.for('never')) console.log(sinkHolder);
}
