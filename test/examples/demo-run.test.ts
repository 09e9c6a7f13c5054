import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runDemo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'examples/demo.ts', ...args], { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('npm run demo, end to end', () => {
  let dir: string;
  let run: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'demo-run-test-'));
    run = await runDemo(['--dir', dir]);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('meets every expectation and exits 0', () => {
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('all expectations met');
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('✘');
    for (const title of ['Canary v1 → v2', 'Canary v2 → v3 (broken)', 'A/B test', 'Blue-green v2 → v3']) {
      expect(run.stdout).toContain(`ok   ${title}`);
    }
  });

  it('prints one timeline line per step with requests, error rate, p99 and the decision', () => {
    expect(run.stdout).toMatch(/t=\s+\d+s canary 5%\s+│ v1\s+\d+ req\s+0\.0% err p99\s+\S+ │ v2\s+\d+ req\s+0\.0% err p99\s+\S+ │ successful → 25%/);
    expect(run.stdout).toMatch(/│ v3\s+\d+ req\s+[1-9]\d\.\d% err p99\s+\S+ │ failed \(errorRate .*\) → rolled back/);
    expect(run.stdout).toMatch(/p = \S+ → concluded: 'b' \(v2\) wins/);
  });

  it('shows the evidence method beside the threshold method on the same canary traffic', () => {
    expect(run.stdout).toMatch(/│ successful → 25% │ evidence: inconclusive \(v2 \d+ req, error difference in \[-\d+\.\d%, \d+\.\d%\]\)/);
    expect(run.stdout).toMatch(/→ rolled back │ evidence: failed \(v3 \d+ req, error difference in \[\d+\.\d%, \d+\.\d%\]\)/);
    expect(run.stdout).toMatch(/Evidence method beside it \(dry run, same traffic\): would have failed v3 at analysis \d+, after \d+ of its requests\./);
    expect(run.stdout).toMatch(/Evidence method beside it .*: never failed v2\./);
  });

  it('writes the HTML report where it says, with a chart pair per scenario', async () => {
    const reportPath = /report: (.+)$/m.exec(run.stdout)?.[1];
    expect(reportPath).toBe(join(dir, 'rollout-report.html'));
    const html = await readFile(reportPath!, 'utf8');
    expect(html.match(/<svg /g)).toHaveLength(8);
    expect(html).not.toMatch(/<script|<link|\bsrc=/i);
    expect(html).toContain('<th>decision (threshold method)</th><th>evidence method, same traffic</th>');
    expect(html).toMatch(/<td>evidence: failed \(v3 \d+ req/);
  });

  it('refuses a directory that already holds the model, and exits 1', async () => {
    const again = await runDemo(['--dir', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${dir} already holds model 'iris'`);
  });
});
