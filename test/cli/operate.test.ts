/**
 * An operator action under storage faults: it either happened (and says so, even when the reply
 * was lost or its writer was cut between the claim and the state) or the deployment is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { operate } from '../../src/cli/operate.js';
import { CanaryDeployment, DeploymentStore, InvalidStateError, MemoryStorage } from '../../src/index.js';
import { FaultyStorage, type StorageFault } from '../../src/testing/index.js';

const AUDIT_2 = 'deployments/iris/audit/000000000002.json';
const STATE = 'deployments/iris.json';

async function deployment(fault: (key: string) => StorageFault) {
  const memory = new MemoryStorage();
  const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2 });
  canary.start();
  await new DeploymentStore({ storage: memory }).create('iris', { action: 'start', by: 'replica-a', policy: canary.snapshot() });
  let armed = true;
  const storage = new FaultyStorage(memory, {
    decide: (call) => {
      if (!armed || call.operation !== 'put') return 'pass';
      const f = fault(call.key);
      if (f !== 'pass') armed = false; // one fault, as a dropped connection
      return f;
    },
  });
  return { memory, store: new DeploymentStore({ storage }), check: new DeploymentStore({ storage: memory }) };
}

const list = async () => ['iris'];

describe('operate', () => {
  it.each([
    ['the state write’s reply is lost', (key: string) => (key === STATE ? 'lose-reply' : 'pass')],
    ['the claim’s reply is lost (the state not yet written)', (key: string) => (key === AUDIT_2 ? 'lose-reply' : 'pass')],
    ['the state write fails after the claim landed', (key: string) => (key === STATE ? 'fail' : 'pass')],
  ] as const)('reports the rollback done when %s, and it is', async (_what, fault) => {
    const { store, check } = await deployment(fault);
    const done = await operate(store, 'iris', { verb: 'rollback', reason: 'p99' }, 'operator:ana@host', list);
    expect(done).toEqual({ action: 'rollback', from: 'progressing 5 %', to: 'rolledBack', previous: 1, revision: 2 });
    const stored = await check.read('iris');
    expect(stored!.state).toMatchObject({ revision: 2, by: 'operator:ana@host', policy: { status: 'rolledBack' } });
    expect((await check.audit('iris')).map((r) => r.action)).toEqual(['start', 'rollback']);
  });

  it('reports a failed claim as a StorageError with the deployment unchanged', async () => {
    const { store, check, memory } = await deployment((key) => (key === AUDIT_2 ? 'fail' : 'pass'));
    const before = JSON.stringify(await memory.get(STATE));
    await expect(operate(store, 'iris', { verb: 'rollback' }, 'operator:ana@host', list)).rejects.toThrow(/deployment 'iris' is unchanged at revision 1/);
    await expect(operate(store, 'iris', { verb: 'rollback' }, 'operator:ana@host', list)).resolves.toMatchObject({ revision: 2 });
    expect(JSON.stringify(await memory.get(STATE))).not.toBe(before);
    expect((await check.audit('iris')).map((r) => r.revision)).toEqual([1, 2]);
  });

  it('re-decides after losing a race, and refuses what the new state does not allow', async () => {
    const { store, check } = await deployment(() => 'pass');
    const current = (await check.read('iris'))!;
    const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2 });
    canary.restore(current.state.policy);
    canary.increase();
    // The replica's step lands between the operator's first read and its write.
    let stale = true;
    const racing = new DeploymentStore({ storage: store.storage });
    const read = racing.read.bind(racing);
    racing.read = async (name: string) => {
      const got = await read(name);
      if (stale) {
        stale = false;
        await check.transition('iris', current, { action: 'step', by: 'replica-a', policy: canary.snapshot() });
      }
      return got;
    };
    // The operator's pause was decided on revision 1 (5 %), lost the claim of 2, and was decided again on the step.
    const done = await operate(racing, 'iris', { verb: 'pause' }, 'operator:ana@host', list);
    expect(done).toEqual({ action: 'pause', from: 'progressing 10 %', to: 'paused 10 %', previous: 2, revision: 3 });
    expect((await check.audit('iris')).map((r) => [r.revision, r.action, r.by])).toEqual([[1, 'start', 'replica-a'], [2, 'step', 'replica-a'], [3, 'pause', 'operator:ana@host']]);
    await expect(operate(racing, 'iris', { verb: 'pause' }, 'operator:ana@host', list)).rejects.toThrow(InvalidStateError);
  });
});
