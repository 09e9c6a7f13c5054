// Run by determinism.test.ts in a separate Node process: restores the snapshots it is given on
// stdin into fresh policies and prints their assignments, so the parent can compare processes.
import { readFileSync } from 'node:fs';
import { BlueGreenSwitch, CanaryDeployment, ShadowDeployment, hashUnit } from '../../src/index.js';

const input = JSON.parse(readFileSync(0, 'utf8')) as { ids: string[]; canary: unknown; shadow: unknown; blueGreen: unknown };
const canary = new CanaryDeployment({ stable: 99 });
canary.restore(input.canary);
const shadow = new ShadowDeployment({ primary: 98, shadow: 99 });
shadow.restore(input.shadow);
const blueGreen = new BlueGreenSwitch({ blue: 99 });
blueGreen.restore(input.blueGreen);
process.stdout.write(
  JSON.stringify({
    hashes: input.ids.map((id) => hashUnit('cross-process', id)),
    canary: input.ids.map((id) => canary.route({ unitId: id })),
    shadow: input.ids.map((id) => shadow.route({ unitId: id })),
    blueGreen: input.ids.map((id) => blueGreen.route({ unitId: id })),
  }),
);
