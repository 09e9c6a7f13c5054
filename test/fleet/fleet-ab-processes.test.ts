import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeploymentStore } from '../../src/index.js';
import { useBundledWorker } from '../fixtures/bundled-worker.js';
import { useProcessStores } from './fleet-stores.js';
import { type Event, Replica } from './replica-process.js';

const startWorker = useBundledWorker(fileURLToPath(new URL('./fixtures/ab-replica.ts', import.meta.url)));
const { stores, cleanups } = useProcessStores('fleet-ab-processes.test.ts');
const PER_REPLICA = 300; // results per variant: p ≈ 0.43 alone, ≈ 0.07 for two replicas, ≈ 0.009 for all three

const concluded = (e: Event) => (e.ev === 'applied' || e.ev === 'transitioned') && (e.conclusion as { winner?: string } | null)?.winner !== undefined;

describe.each(stores)('three A/B replica processes in fleet mode on $kind', ({ skip, prepare }) => {
  it.skipIf(skip)('a variant better only in aggregate across the three, each too small alone, is concluded by the fleet\'s analysis with exactly one audit record, and every replica routes to it', async () => {
    const { spec, storage } = await prepare();
    const rs: Replica[] = [];
    cleanups.push(async () => {
      for (const r of rs) await r.stop().catch(() => undefined);
    });
    for (const id of ['r1', 'r2', 'r3']) {
      const replica = new Replica(id, startWorker(spec, id, JSON.stringify({ intervalMs: 600, followMs: 500 })));
      await replica.next((e) => e.ev === 'ready', 'ready', 30_000, true);
      rs.push(replica);
    }
    for (const r of rs) r.send({ cmd: 'serve', every: 50, n: 5 });
    for (const r of rs) await r.ask({ cmd: 'log', n: PER_REPLICA }, 'logged');
    const seen = await Promise.all(rs.map((r) => r.next(concluded, 'the conclusion', 60_000, true)));
    for (const e of seen) expect(e.conclusion).toMatchObject({ winner: 'new', decision: 'given' });

    const audit = await new DeploymentStore({ storage }).audit('ui');
    expect(audit.map((a) => a.action)).toEqual(['create', 'conclude']);
    const record = audit[1]!;
    expect(record.reason).toMatch(/sequential test significant for 'new'/);
    expect(record.numbers).toMatchObject({ replicas: 3, units: 3 * 2 * PER_REPLICA, 'count.new': 3 * PER_REPLICA, 'count.control': 3 * PER_REPLICA });
    expect(record.numbers!['pValue.new']).toBeLessThan(0.05);
    // One replica analysed; the runs before every replica's results were in held.
    const analysts = rs.filter((r) => r.events.some((e) => e.ev === 'analysis'));
    expect(analysts.map((r) => r.id)).toEqual([record.by]);
    const runs = analysts[0]!.events.filter((e) => e.ev === 'analysis');
    expect(runs.filter((e) => e.decision === 'conclude')).toHaveLength(1);
    expect(runs.find((e) => e.decision === 'conclude')!.units).toBe(3 * 2 * PER_REPLICA);
    for (const r of rs) {
      const own = await r.ask({ cmd: 'state' }, 'state');
      expect(own.counts).toEqual([PER_REPLICA, PER_REPLICA]);
      expect(own.pValue as number).toBeGreaterThan(0.2);
      expect(own.conclusion).toMatchObject({ winner: 'new' });
      expect(own.routes).toBe(2);
    }
    for (const r of rs) await r.stop();
  }, 120_000);
});
