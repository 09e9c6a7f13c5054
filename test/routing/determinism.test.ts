import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BlueGreenSwitch, CanaryDeployment, ShadowDeployment, hashUnit } from '../../src/index.js';

const ids = [
  ...Array.from({ length: 500 }, (_, i) => `user-${i}`),
  '550e8400-e29b-41d4-a716-446655440000',
  'José',
  '日本語',
  'user-🚀',
  'a\ud800b',
];

describe('determinism across processes', () => {
  it('gives the same hashes and assignments in another Node process, after snapshot / restore', () => {
    const canary = new CanaryDeployment({ stable: 1, canary: 2, name: 'checkout-v2', steps: [10, 30, 100] });
    canary.start();
    canary.increase();
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 40, name: 'dark' });
    const blueGreen = new BlueGreenSwitch({ blue: 1 });
    blueGreen.deploy(2);
    blueGreen.switch();

    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./determinism-child.ts', import.meta.url))], {
      input: JSON.stringify({ ids, canary: canary.snapshot(), shadow: shadow.snapshot(), blueGreen: blueGreen.snapshot() }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const theirs = JSON.parse(child.stdout) as Record<string, unknown[]>;

    expect(theirs.hashes).toEqual(ids.map((id) => hashUnit('cross-process', id)));
    expect(theirs.canary).toEqual(ids.map((id) => canary.route({ unitId: id })));
    expect(theirs.shadow).toEqual(ids.map((id) => shadow.route({ unitId: id })));
    expect(theirs.blueGreen).toEqual(ids.map((id) => blueGreen.route({ unitId: id })));
    const split = new Set((theirs.canary as Array<{ variant: string }>).map((a) => a.variant));
    expect(split).toEqual(new Set(['stable', 'canary']));
  });
});
