/**
 * The opt-in logger: a rollout's decisions, fallbacks, load failures and dropped mirrors reach a
 * given logger (the shape console and pino share) with their fields; nothing is logged without one.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CanaryDeployment,
  canaryAnalysis,
  DeploymentMonitor,
  MemoryStorage,
  ModelRegistry,
  ModelRouter,
  ModelLoadError,
  ShadowDeployment,
  ValidationError,
  type Logger,
} from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { brokenModel, irisClassifier } from '../fixtures/onnx-models.js';

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const routers: ModelRouter[] = [];
afterEach(async () => {
  for (const router of routers.splice(0)) {
    await router.drainShadows();
    await router.pool.dispose();
  }
  vi.restoreAllMocks();
});

async function irisRegistry(second = irisClassifier({ producerVersion: 'v2' })) {
  const registry = new ModelRegistry({ storage: new MemoryStorage() });
  await registry.register('iris', irisClassifier());
  await registry.register('iris', second, { validate: false });
  return registry;
}

describe('ModelRouter logger', () => {
  it('reports a canary’s decisions with their fields: start, each analysis run and step, the promotion', async () => {
    const clock = new FakeClock(1_750_000_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [25, 100], clock: clock.now });
    const analysis = canaryAnalysis(canary, { monitor, clock: clock.now, minRequests: 30, maxErrorRate: 0.05, timers: clock });
    const logger = recordingLogger();
    const router = new ModelRouter({ registry: await irisRegistry(), model: 'iris', policy: canary, monitor, analysis, logger, deployment: 'iris-canary' });
    routers.push(router);

    canary.start();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 300; i++) {
        await router.predict(SETOSA, { unitId: `user-${i}` });
        clock.advance(5);
      }
      await analysis.analyze();
    }
    expect(canary.state.status).toBe('promoted');

    const decisions = logger.lines.filter((l) => l.fields.event !== 'loaded');
    expect(decisions.map((l) => [l.level, l.fields.event])).toEqual([
      ['info', 'started'],
      ['info', 'analysis'],
      ['info', 'stepped'],
      ['info', 'analysis'],
      ['info', 'promoted'],
    ]);
    for (const line of logger.lines) expect(line.fields).toMatchObject({ deployment: 'iris-canary', model: 'iris' });
    const [firstRun, secondRun] = decisions.filter((l) => l.fields.event === 'analysis');
    expect(firstRun!.fields).toMatchObject({ outcome: 'successful', decision: 'advance', phase: 'canary', candidate: 2, baseline: 1, percentage: 25 });
    expect(firstRun!.fields.at).toBe(canary.state.history.find((h) => h.action !== 'start')!.at);
    expect(firstRun!.message).toMatch(/^iris-canary: analysis successful, advance: /);
    expect(secondRun!.fields).toMatchObject({ outcome: 'successful', decision: 'promote', percentage: 100 });
    expect(decisions.find((l) => l.fields.event === 'stepped')!.fields).toMatchObject({ from: 25, to: 100, stepIndex: 1 });
    expect(decisions.find((l) => l.fields.event === 'promoted')!.fields).toMatchObject({ from: 1, to: 2, reason: expect.stringMatching(/^analysis successful/) });
    // Each version's load, once (the router warms the canary as the rollout starts, so either may come first).
    expect(logger.lines.filter((l) => l.fields.event === 'loaded').map((l) => [l.level, l.fields.version]).sort()).toEqual([
      ['info', 1],
      ['info', 2],
    ]);
  });

  it('reports a failing canary’s rollback at warn', async () => {
    const clock = new FakeClock(1_750_000_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now });
    const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [50, 100], clock: clock.now });
    const analysis = canaryAnalysis(canary, { monitor, clock: clock.now, minRequests: 20, maxErrorRate: 0.05, timers: clock });
    const logger = recordingLogger();
    routers.push(new ModelRouter({ registry: await irisRegistry(), model: 'iris', policy: canary, monitor, analysis, logger }));
    canary.start();
    for (let i = 0; i < 100; i++) monitor.record(i % 2 === 0 ? 1 : 2, 1, i % 2 === 0);
    await analysis.analyze();
    expect(canary.state.status).toBe('rolledBack');
    expect(logger.lines.map((l) => [l.level, l.fields.event, l.fields.outcome])).toEqual([
      ['info', 'started', undefined],
      ['warn', 'analysis', 'failed'],
      ['warn', 'rolledBack', undefined],
    ]);
    expect(logger.lines[1]!.fields).toMatchObject({ deployment: 'iris', decision: 'rollback', candidate: 2 });
  });

  it('reports a load failure at error, the first fallback after it at warn and the repeats at debug', async () => {
    const logger = recordingLogger();
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start(1, 2, 100);
    const router = new ModelRouter({ registry: await irisRegistry(brokenModel()), model: 'iris', policy: canary, logger, loadRetryMs: 60_000 });
    routers.push(router);
    for (let i = 0; i < 3; i++) expect((await router.predict(SETOSA)).version).toBe(1);
    const lines = logger.lines.filter((l) => l.fields.event !== 'started' && l.fields.event !== 'loaded');
    expect(lines.map((l) => [l.level, l.fields.event])).toEqual([
      ['error', 'loadFailed'],
      ['warn', 'fallback'],
      ['debug', 'fallback'],
      ['debug', 'fallback'],
    ]);
    expect(lines[0]!.fields.err).toBeInstanceOf(ModelLoadError);
    expect(lines[1]!.fields).toMatchObject({ version: 2, fallbackVersion: 1 });
    expect(lines[1]!.fields.err).toBe(lines[0]!.fields.err);
  });

  it('reports dropped mirrors at their 1st, 2nd, 4th … drop, with the count', async () => {
    const logger = recordingLogger();
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2 });
    const router = new ModelRouter({ registry: await irisRegistry(), model: 'iris', policy: shadow, logger, maxShadowInFlight: 0 });
    routers.push(router);
    for (let i = 0; i < 5; i++) await router.predict(SETOSA);
    const dropped = logger.lines.filter((l) => l.fields.event === 'shadowDropped');
    expect(dropped.map((l) => [l.level, l.fields.count, l.fields.version])).toEqual([
      ['warn', 1, 2],
      ['warn', 2, 2],
      ['warn', 4, 2],
    ]);
  });

  it('logs nothing without a logger, and checks the option', async () => {
    const spies = (['debug', 'info', 'warn', 'error', 'log'] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => {}));
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    const registry = await irisRegistry(brokenModel());
    routers.push(new ModelRouter({ registry, model: 'iris', policy: canary, loadRetryMs: 0 }));
    canary.start(1, 2, 100);
    await routers[0]!.predict(SETOSA);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    expect(() => new ModelRouter({ registry, model: 'iris', policy: canary, logger: { info() {} } as never })).toThrow(ValidationError);
    expect(() => new ModelRouter({ registry, model: 'iris', policy: canary, logger: { info() {} } as never })).toThrow(/without debug, warn, error/);
  });

  it('takes console as it is', async () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    routers.push(new ModelRouter({ registry: await irisRegistry(), model: 'iris', policy: canary, logger: console }));
    canary.start(1, 2, 10);
    expect(info).toHaveBeenCalledWith(expect.objectContaining({ deployment: 'iris', event: 'started', percentage: 10 }), 'iris: started');
  });
});
