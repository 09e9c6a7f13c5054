#!/usr/bin/env node
/**
 * The `model-rollout` command (the package's `bin`): inspect and steer the registry and the
 * rollouts in a store from a shell. See docs/cli.md.
 *
 * @module
 */
import { runCli } from './run.js';

let interrupted: Promise<void> | undefined;
runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  interrupted: () =>
    (interrupted ??= new Promise((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    })),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`model-rollout: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
