/**
 * `status --watch` in a real pseudo-terminal (python3's pty module): the view is redrawn in place
 * as a rollout steps, coloured (and not with NO_COLOR), and Ctrl-C ends it cleanly with exit 0.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanaryDeployment, DeploymentStore } from '../../src/index.js';
import { matMulAdd } from '../fixtures/onnx-models.js';
import { BIN, ROOT, ansi, cli, cliEnv, ensureBuilt, openFileStore, plain, type TestStore } from './cli-helpers.js';

const PTY = `${ROOT}test/cli/fixtures/pty-run.py`;
const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import pty'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasPython) console.warn('watch-pty.test.ts: python3 with its pty module is not available; skipping the pseudo-terminal tests');

/** The command in a pseudo-terminal; `output` grows as the terminal shows more. */
function inTerminal(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn('python3', [PTY, process.execPath, BIN, ...args], { env: cliEnv({ TERM: 'xterm-256color', ...env }) });
  let output = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<string>((resolve) => child.on('close', () => resolve(stderr.trim())));
  const until = async (check: (text: string) => boolean, what: string, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check(output)) {
      if (Date.now() > deadline) throw new Error(`terminal: timed out waiting for ${what}; it shows ${JSON.stringify(output.slice(-2000))}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { child, output: () => output, until, exited, ctrlC: () => child.stdin.write('ctrl-c\n') };
}

describe.skipIf(!hasPython)('status --watch in a pseudo-terminal', () => {
  let store: TestStore;
  let deployments: DeploymentStore;
  beforeAll(async () => {
    await ensureBuilt();
    store = await openFileStore();
    deployments = new DeploymentStore({ storage: store.storage });
  }, 120_000);
  afterAll(() => store?.dispose());

  it('redraws in place as the rollout steps and exits 0 on Ctrl-C', async () => {
    const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: [5, 25, 50, 100] });
    canary.start();
    let current = await deployments.create('iris', { action: 'start', by: 'replica-a', policy: canary.snapshot() });
    const term = inTerminal(['status', 'iris', '--watch', '--interval', '100', '--store', store.url], {});
    const percentage = (p: number) => new RegExp(`percentage\\s+${p} %`);
    await term.until((t) => percentage(5).test(plain(t)), 'the first frame');
    for (const [step, expected] of [[2, 25], [3, 50]] as const) {
      canary.increase();
      current = await deployments.transition('iris', current, { action: 'step', by: 'replica-a', policy: canary.snapshot(), numbers: { step } });
      await term.until((t) => percentage(expected).test(plain(t)), `the frame at ${expected} %`);
    }
    term.ctrlC();
    expect(await term.exited).toBe('EXIT 0');

    const shown = term.output();
    // Drawn in place: the cursor is hidden, every later frame moves back up over the previous
    // one and clears below it; the cursor is shown again at the end.
    expect(shown.startsWith('\u001b[?25l')).toBe(true);
    const redraws = shown.match(ansi(/ESC\[\d+FESC\[J/g)) ?? [];
    expect(redraws.length).toBeGreaterThanOrEqual(2);
    expect(shown.trimEnd().endsWith('\u001b[?25h')).toBe(true);
    // Frames follow the rollout in order, in colour on a terminal.
    const order = [5, 25, 50].map((p) => plain(shown).search(percentage(p)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(shown).toMatch(ansi(/ESC\[32mprogressingESC\[39m/));
    expect(plain(shown)).toMatch(/^3\s+\S+Z\s+step\s+replica-a\s+step=3\s+-\r?$/m);
  }, 60_000);

  it('keeps colours off with NO_COLOR, still redrawing in place', async () => {
    const term = inTerminal(['status', 'iris', '--watch', '--interval', '100', '--store', store.url], { NO_COLOR: '1' });
    await term.until((t) => (t.match(ansi(/ESC\[\d+FESC\[J/g)) ?? []).length >= 2, 'two redraws');
    term.ctrlC();
    expect(await term.exited).toBe('EXIT 0');
    const shown = term.output();
    expect(shown).not.toMatch(ansi(/ESC\[\d+m/));
    expect(shown).toMatch(/percentage\s+50 %/);
  }, 60_000);
});

describe.skipIf(!hasPython)('register in a pseudo-terminal', () => {
  it('draws a progress bar for a large file on a terminal, and none off one', async () => {
    const store = await openFileStore();
    const dir = mkdtempSync(`${tmpdir()}/model-rollout-cli-large-`);
    try {
      // 600 × 512 float weights: a 1.2 MB model, above the bar's 1 MiB threshold.
      const file = `${dir}/large.onnx`;
      writeFileSync(file, matMulAdd({ weights: Array.from({ length: 600 * 512 }, (_, i) => (i % 13) / 13), bias: Array(512).fill(0), inFeatures: 600, outFeatures: 512 }));
      const term = inTerminal(['register', 'big', file, '--store', store.url], {});
      expect(await term.exited).toBe('EXIT 0');
      const shown = term.output();
      expect(shown).toMatch(/\r\[#{30}\] 100 % {2}1\.\d MB \/ 1\.\d MB/);
      expect(shown).toMatch(/registered .*big.* version .*1/);
      const piped = await cli(['register', 'big', file, '--store', store.url]);
      expect(piped).toMatchObject({ code: 0, stderr: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await store.dispose();
    }
  }, 60_000);
});
