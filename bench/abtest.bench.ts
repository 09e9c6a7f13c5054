/**
 * ABTestController.assign + logResult per request against the seed's approach (Math.random split,
 * push every result to an array, mean at the end) and GrowthBook's runInlineExperiment (assignment
 * only: GrowthBook keeps no results in process, its tracking callback ships them to a warehouse).
 * Reports ns/request and heap growth after 10 M results. Run alone:
 * `node --expose-gc --import tsx bench/abtest.bench.ts`.
 */
import { GrowthBookClient, type Experiment } from '@growthbook/growthbook';
import { ABTestController } from '../src/index.js';
import { seededRandom } from '../src/testing/index.js';
import { heapUsedAfterGc, keep, printTable, ratio, timeSync } from './harness.js';

const USERS = 1 << 16;
const MASK = USERS - 1;
const TEN_MILLION = 10_000_000;
const unitIds = Array.from({ length: USERS }, (_, i) => `user-${i}`);
const random = seededRandom(1);
const values = Float64Array.from({ length: USERS }, () => random());

// Ours: sticky hash assignment, then O(1) Welford update.
const ab = new ABTestController();
ab.createExperiment('bench', { variants: [{ name: 'a', version: 1, weight: 0.8 }, { name: 'b', version: 2, weight: 0.2 }] });
function ours(i: number): unknown {
  const assignment = ab.assign('bench', unitIds[i & MASK] as string) as { variant: string };
  ab.logResult('bench', assignment.variant, values[i & MASK] as number);
  return assignment;
}

// The seed: random per request (not sticky), every result kept in a list, means computed at the end.
let seedResults: { a: number[]; b: number[] } = { a: [], b: [] };
function seed(i: number): unknown {
  const variant = Math.random() < 0.2 ? 'b' : 'a';
  seedResults[variant].push(values[i & MASK] as number);
  return variant;
}
function seedMeans(): [number, number] {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / (xs.length || 1);
  return [mean(seedResults.a), mean(seedResults.b)];
}

// GrowthBook: the server-side (multi-user) client's inline experiment, one user context per unit.
const gb = new GrowthBookClient();
gb.initSync({ payload: { features: {} } });
const contexts = unitIds.map((id) => ({ attributes: { id } }));
const gbExperiment: Experiment<number> = { key: 'bench', variations: [1, 2], weights: [0.8, 0.2] };
function growthbook(i: number): unknown {
  return gb.runInlineExperiment(gbExperiment, contexts[i & MASK] as { attributes: { id: string } });
}

function oursAssignOnly(i: number): unknown {
  return ab.assign('bench', unitIds[i & MASK] as string);
}
function oursLogOnly(i: number): unknown {
  ab.logResult('bench', i & 4 ? 'b' : 'a', values[i & MASK] as number);
  return i;
}

const timed = [timeSync('ours: assign + logResult', ours), timeSync('seed: Math.random + push', seed), timeSync('GrowthBook runInlineExperiment', growthbook)];
const parts = [timeSync('ours: assign only (sticky hash)', oursAssignOnly), timeSync('ours: logResult only', oursLogOnly)];
seedResults = { a: [], b: [] };

function heapGrowth(run: () => unknown): number {
  const before = heapUsedAfterGc();
  const kept = run();
  const after = heapUsedAfterGc();
  keep(kept);
  return after - before;
}
const oursHeap = heapGrowth(() => {
  for (let i = 0; i < TEN_MILLION; i++) ours(i);
  return ab.results('bench');
});
const seedHeap = heapGrowth(() => {
  for (let i = 0; i < TEN_MILLION; i++) seed(i);
  return seedResults;
});
const seedMeanStart = performance.now();
keep(seedMeans());
const seedMeanMs = performance.now() - seedMeanStart;
seedResults = { a: [], b: [] };
const gbHeap = heapGrowth(() => {
  let last: unknown;
  for (let i = 0; i < TEN_MILLION; i++) last = growthbook(i);
  return last;
});

const [o, s, g] = timed as [(typeof timed)[0], (typeof timed)[0], (typeof timed)[0]];
const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
printTable('assign + record one result (ns/request, best of 5 rounds of 1 M)', [
  { approach: o.name, nsPerRequest: o.nsPerOp, heapAfter10MResultsMB: mb(oursHeap), vsOurs: '1×' },
  { approach: s.name, nsPerRequest: s.nsPerOp, heapAfter10MResultsMB: mb(seedHeap), vsOurs: ratio(s.nsPerOp, o.nsPerOp) },
  { approach: g.name + ' (assignment only)', nsPerRequest: g.nsPerOp, heapAfter10MResultsMB: mb(gbHeap), vsOurs: ratio(g.nsPerOp, o.nsPerOp) },
]);
printTable('where our time goes (ns/call)', parts.map((p) => ({ part: p.name, nsPerCall: p.nsPerOp, vsGrowthBookAssignment: ratio(p.nsPerOp, g.nsPerOp) })));
console.log(`seed: computing the two means over 10 M kept results took ${Math.round(seedMeanMs)} ms; ours answers results() from 3 numbers per variant.`);
console.log(`ours: ${ratio(g.nsPerOp, o.nsPerOp)} faster than GrowthBook's assignment alone; heap growth after 10 M results ${mb(oursHeap)} MB vs the seed's ${mb(seedHeap)} MB.`);
