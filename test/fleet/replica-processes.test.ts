import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeploymentStore, CanaryDeployment } from '../../src/index.js';
import { useBundledWorker } from '../fixtures/bundled-worker.js';
import { useProcessStores } from './fleet-stores.js';
import { STEPS } from './fixtures/rollout.js';

const startReplica = useBundledWorker(fileURLToPath(new URL('./fixtures/replica-worker.ts', import.meta.url)));

const { stores } = useProcessStores('replica-processes.test.ts');

type Landed = { revision: number; action: string; percentage: number; by: string };

describe.each(stores)('three replica processes stepping one canary on $kind', ({ skip, prepare }) => {
  it.skipIf(skip)(
    'every step lands exactly once (one audit record each, none skipped or doubled); a SIGKILLed replica does not stop the others, and a restarted one resumes from the stored state',
    async () => {
      const { spec, storage } = await prepare();
      const store = new DeploymentStore({ storage });
      const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: STEPS });
      canary.start();
      await store.create('iris', { action: 'start', by: 'operator', policy: canary.snapshot(), to: `progressing ${STEPS[0]}` });

      const replicas = ['r1', 'r2', 'r3'].map((id) => ({ id, worker: startReplica('step', spec, id) }));
      for (const r of replicas) expect(await r.worker.nextLine()).toBe('ready');
      for (const r of replicas) r.worker.child.stdin.write('go\n');
      const landed: Landed[] = [];
      // Kill whichever replica lands the 8th transition, right after it reports it.
      let killed: string | undefined;
      await Promise.all(
        replicas.map(async ({ id, worker }) => {
          for (;;) {
            let line: string;
            try {
              line = await worker.nextLine();
            } catch (err) {
              if (id === killed) return;
              throw err;
            }
            if (line === 'done') return;
            const entry = JSON.parse(line) as Landed;
            landed.push(entry);
            if (killed === undefined && landed.length === 8) {
              killed = id;
              worker.child.kill('SIGKILL');
              return;
            }
          }
        }),
      );
      for (const r of replicas) {
        const code = await r.worker.exited;
        if (r.id !== killed) expect(code, r.worker.stderr()).toBe(0);
      }
      expect(killed).toBeDefined();

      const audit = await store.audit('iris');
      const expectedRevisions = STEPS.length + 1; // start, steps after the first, promote
      expect(audit.map((r) => r.revision)).toEqual(Array.from({ length: expectedRevisions }, (_, i) => i + 1));
      expect(audit.map((r) => r.action)).toEqual(['start', ...Array(STEPS.length - 1).fill('step'), 'promote']);
      expect(audit.map((r) => r.to)).toEqual([...STEPS.map((p) => `progressing ${p}`), 'promoted 0']);
      // What each replica said it landed is exactly what the audit holds.
      for (const l of landed) expect([l.revision, audit[l.revision - 1]!.by]).toEqual([l.revision, l.by]);
      expect(new Set(audit.slice(1).map((r) => r.by)).size).toBeGreaterThanOrEqual(2);

      // A replica started afresh resumes from the stored state.
      const reporter = startReplica('report', spec);
      const report = JSON.parse(await reporter.nextLine()) as { revision: number; status: string; percentage: number; snapshot: unknown };
      expect(await reporter.exited).toBe(0);
      expect(report).toMatchObject({ revision: expectedRevisions, status: 'promoted', percentage: 0 });
      expect(report.snapshot).toEqual((await store.read('iris'))!.state.policy);
    },
    180_000,
  );
});
