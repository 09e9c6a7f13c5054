/**
 * Sticky routing cost: `CanaryDeployment.route({ unitId })` at 25 % over 1 000 distinct ids (short
 * ids and UUIDs) against GrowthBook's `GrowthBookClient.runInlineExperiment` with the same weights
 * and Unleash's `normalizedStrategyValue` (its bare MurmurHash3 bucket, no strategy around it),
 * measured in the same run. Targets: ≤ 50 ns short ids, ≤ 100 ns UUIDs, ≥ 8× GrowthBook, faster
 * than Unleash's hash.
 */
import { randomUUID } from 'node:crypto';
import { GrowthBookClient, type Experiment, type UserContext } from '@growthbook/growthbook';
import { normalizedStrategyValue } from 'unleash-client/lib/strategy/util.js';
import { CanaryDeployment, hashUnit } from '../src/index.js';
import { keep, printTable, ratio, timeSync } from './harness.js';

const IDS = 1_000;
const PERCENT = 25;
const SALT = 'checkout-canary';

const idSets: Record<string, string[]> = {
  'short ids': Array.from({ length: IDS }, (_, i) => `user-${i}`),
  UUIDs: Array.from({ length: IDS }, () => randomUUID()),
};

const canary = new CanaryDeployment({ stable: 1, canary: 2, name: SALT });
canary.start(1, 2, PERCENT);

const growthbook = new GrowthBookClient();
const experiment: Experiment<number> = { key: SALT, variations: [1, 2], weights: [1 - PERCENT / 100, PERCENT / 100], hashVersion: 2 };

let failed = false;
const rows: Array<Record<string, string | number>> = [];
for (const [label, ids] of Object.entries(idSets)) {
  // Contexts are built up front for the peers (their cost is the host's), while ours is the
  // literal a host would write, built on every call.
  const contexts: UserContext[] = ids.map((id) => ({ attributes: { id } }));

  // The three must split the same way before their speed means anything.
  const share = (pick: (i: number) => boolean) => ids.filter((_, i) => pick(i)).length / IDS;
  const shares = [
    share((i) => canary.route({ unitId: ids[i] as string }).variant === 'canary'),
    share((i) => growthbook.runInlineExperiment(experiment, contexts[i] as UserContext).value === 2),
    share((i) => normalizedStrategyValue(ids[i] as string, SALT) <= PERCENT),
  ];
  for (const s of shares) {
    if (Math.abs(s - PERCENT / 100) > 0.05) {
      console.error(`${label}: a split of ${s} is not ${PERCENT} %`);
      failed = true;
    }
  }

  // Many short rounds, best kept: on a shared machine a short round is likelier to run undisturbed.
  const ours = timeSync('CanaryDeployment.route', (i) => canary.route({ unitId: ids[i % IDS] as string }), 200_000, 30);
  const bareHash = timeSync('hashUnit (salt per call)', (i) => hashUnit(SALT, ids[i % IDS] as string), 200_000, 30);
  const gb = timeSync('GrowthBook runInlineExperiment', (i) => growthbook.runInlineExperiment(experiment, contexts[i % IDS] as UserContext), 20_000, 30);
  const unleash = timeSync('Unleash normalizedStrategyValue', (i) => normalizedStrategyValue(ids[i % IDS] as string, SALT), 100_000, 30);
  keep([ours, bareHash, gb, unleash]);

  for (const r of [ours, bareHash, gb, unleash]) {
    rows.push({
      ids: label,
      name: r.name,
      'ns/op': r.nsPerOp,
      'vs route': r === ours ? '1×' : ratio(r.nsPerOp, ours.nsPerOp),
    });
  }
  const target = label === 'short ids' ? 50 : 100;
  console.log(
    `${label}: route ${ours.nsPerOp.toFixed(1)} ns (target ≤ ${target}), GrowthBook ${ratio(gb.nsPerOp, ours.nsPerOp)} slower (target ≥ 8×), ` +
      `Unleash hash ${ratio(unleash.nsPerOp, ours.nsPerOp)} slower (target > 1×); canary shares ${shares.map((s) => s.toFixed(3)).join(' / ')}`,
  );
}
printTable(`routing: ${IDS} distinct ids, canary at ${PERCENT} %`, rows);
if (failed) process.exit(1);
