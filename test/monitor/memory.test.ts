import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('recording 10 M outcomes across 3 versions grows the heap by less than 5 MB (after GC)', () => {
  const script = fileURLToPath(new URL('./fixtures/record-outcomes.ts', import.meta.url));
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, '10000000'], { encoding: 'utf8' });
  expect(child.status, child.stderr).toBe(0);
  const { before, after, requests } = JSON.parse(child.stdout) as { before: number; after: number; requests: number };
  expect(requests).toBe(10_000_000);
  expect(after - before).toBeLessThan(5 * 1024 * 1024);
});
