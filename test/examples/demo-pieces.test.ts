import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { AnalysisReport } from '../../src/index.js';
import {
  BROKEN_TABLE_BINS,
  buildIrisVersions,
  loadIrisSplit,
  predictClass,
  trainLogisticRegression,
} from '../../examples/demo/iris.js';
import { escapeXml, niceCeiling, renderReport } from '../../examples/demo/report.js';
import { describeAnalysis, fromSimulationStep } from '../../examples/demo/scenarios.js';
import {
  formatStep,
  formatSummary,
  type ScenarioTimeline,
} from '../../examples/demo/timeline.js';

ort.env.logLevel = 'fatal';

const versions = buildIrisVersions();

async function runRows(bytes: Uint8Array, rows: ReadonlyArray<{ features: number[] }>) {
  const session = await ort.InferenceSession.create(bytes);
  const results: Array<{ label: number } | { error: string }> = [];
  for (const row of rows) {
    try {
      const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(row.features), [1, 4]) });
      results.push({ label: Number((out['label']!.data as BigInt64Array)[0]) });
    } catch (err) {
      results.push({ error: (err as Error).message });
    }
  }
  await session.release();
  return results;
}

describe('demo iris models', () => {
  it('splits iris 105/45, stratified, the same on every call with the same seed', () => {
    const a = loadIrisSplit(7);
    const b = loadIrisSplit(7);
    expect(a.train).toHaveLength(105);
    expect(a.test).toHaveLength(45);
    for (const cls of [0, 1, 2]) expect(a.test.filter((r) => r.label === cls)).toHaveLength(15);
    expect(b).toEqual(a);
    expect(loadIrisSplit(8).test).not.toEqual(a.test);
  });

  it('trains a sane v2 (≥ 90 % held-out accuracy) and a clearly weaker v1', () => {
    expect(versions.v2.testAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(versions.v1.testAccuracy).toBeGreaterThan(0.5);
    expect(versions.v2.testAccuracy - versions.v1.testAccuracy).toBeGreaterThanOrEqual(0.08);
    // v1 only looks at the sepals: its petal weights are exactly zero.
    for (let c = 0; c < 3; c++) {
      expect(versions.v1.model.coefficients[c * 4 + 2]).toBe(0);
      expect(versions.v1.model.coefficients[c * 4 + 3]).toBe(0);
    }
  });

  it('is deterministic: training twice gives identical weights', () => {
    const split = loadIrisSplit(3);
    const opts = { iterations: 200, learningRate: 0.5, l2: 0.001 };
    expect(trainLogisticRegression(split.train, opts)).toEqual(trainLogisticRegression(split.train, opts));
  });

  it('exports ONNX that onnxruntime serves with the same answers as the TypeScript model', async () => {
    const rows = versions.split.test;
    for (const v of [versions.v1, versions.v2]) {
      const results = await runRows(v.bytes, rows);
      results.forEach((r, i) => expect(r).toEqual({ label: predictClass(v.model, rows[i]!.features) }));
    }
  });

  it('v3 loads but throws at run time exactly on petals of 5 cm or more, else answers as v2', async () => {
    const rows = [...versions.split.train, ...versions.split.test];
    const results = await runRows(versions.v3.bytes, rows);
    results.forEach((r, i) => {
      const row = rows[i]!;
      if (row.features[2] >= BROKEN_TABLE_BINS) {
        expect(r).toMatchObject({ error: expect.stringContaining('indices element out of data bounds') });
      } else {
        expect(r).toEqual({ label: predictClass(versions.v2.model, row.features) });
      }
    });
    expect(versions.v3.failingInputShare).toBeCloseTo(46 / 150, 10);
  });
});

function scenario(overrides: Partial<ScenarioTimeline> = {}): ScenarioTimeline {
  const first = new Map([
    [1, { requests: 95, errors: 0, errorRate: 0, p99Ms: 0.25 }],
    [2, { requests: 5, errors: 1, errorRate: 0.2, p99Ms: 0.4 }],
  ]);
  const second = new Map([
    [1, { requests: 1, errors: 0, errorRate: 0, p99Ms: 0.3 }],
    [2, { requests: 0, errors: 0, errorRate: 0, p99Ms: undefined }],
  ]);
  return {
    id: 'canary-v2',
    title: 'Canary <v2> & "friends"',
    versions: [1, 2],
    steps: [
      { atMs: 10_000, phase: 'canary 5%', percentage: 5, versions: first, decision: 'successful → 25%' },
      { atMs: 20_000, phase: 'canary 25%', percentage: 25, versions: second },
    ],
    notes: ['p < 0.05'],
    expectations: [{ description: 'v2 promoted', passed: true }],
    ...overrides,
  };
}

/** Checks that `xml` is well-formed: every tag closed in order, attributes quoted, text escaped. */
function expectWellFormedXml(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|#39);[^"<&]*)*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    expect(text).not.toMatch(/&(?!(?:amp|lt|gt|quot|#39);)/);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    expect(m, `malformed tag at ${xml.slice(lt, lt + 60)}`).not.toBeNull();
    const [, closing, name, , selfClosing] = m!;
    if (closing) expect(stack.pop()).toBe(name);
    else if (!selfClosing) stack.push(name!);
    i = tag.lastIndex;
  }
  expect(stack).toEqual([]);
}

describe('demo report and timeline', () => {
  it('prints a step on one line: per version requests, error rate and p99, then the decision', () => {
    const first = scenario().steps[0]!;
    const line = formatStep(first);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/t=\s+10s canary 5%/);
    expect(line).toMatch(/v1\s+95 req\s+0\.0% err p99\s+0\.25ms/);
    expect(line).toMatch(/v2\s+5 req\s+20\.0% err p99\s+0\.40ms/);
    expect(line).toMatch(/successful → 25%$/);
  });

  it('summarises: counts predictions and names every failed expectation', () => {
    const failing = scenario({ expectations: [{ description: 'v3 rolled back', passed: false }] });
    const lines = formatSummary([scenario(), failing], 1234, '/tmp/r.html');
    expect(lines.join('\n')).toContain('202 real ONNX predictions in 1.2 s');
    expect(lines.join('\n')).toContain('✘ Canary <v2> & "friends": v3 rolled back');
    expect(formatSummary([scenario()], 1, 'x').join('\n')).toContain('all expectations met');
  });

  it('renders a self-contained page whose SVG charts are well-formed and escaped', () => {
    const html = renderReport({
      title: 'Rollout <demo>',
      generatedAt: '2026-01-01T00:00:00Z',
      description: 'a & b',
      scenarios: [scenario(), scenario({ id: 'second' })],
    });
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).not.toMatch(/<script|<link|\bsrc=|@import|url\(/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(4);
    for (const svg of svgs) {
      expectWellFormedXml(svg);
      expect(svg).toContain('<polyline');
    }
    expect(html).toContain('Canary &lt;v2&gt; &amp; &quot;friends&quot;');
    // The body (everything but the doctype and the void <meta> tags) is well-formed too.
    const body = html.slice(html.indexOf('<body>'), html.indexOf('</body>') + 7);
    expectWellFormedXml(body);
  });

  it('plots traffic share as a percentage of each step and scales the error axis', () => {
    const html = renderReport({ title: 't', generatedAt: 'g', description: 'd', scenarios: [scenario()] });
    expect(html).toContain('v1 at 10s (canary 5%): 95.0%');
    expect(html).toContain('v2 at 10s (canary 5%): 5.0%');
    expect(html).toContain('v2 at 10s (canary 5%): 20.0%');
    // No traffic means no error rate: v2's second step is on the share chart only (a gap on the other).
    expect(html.split('v2 at 20s (canary 25%)')).toHaveLength(2);
    expect([niceCeiling(0), niceCeiling(3), niceCeiling(20), niceCeiling(31), niceCeiling(100)]).toEqual([1, 5, 20, 50, 100]);
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  });
});

describe('demo scenario helpers', () => {
  it('turns a simulate() step into a timeline step, zero-filling versions that got no traffic', () => {
    const step = fromSimulationStep(
      {
        index: 0,
        startMs: 1_000,
        endMs: 11_000,
        percentage: 5,
        status: 'progressing',
        requests: 100,
        versions: [
          { version: 1, requests: 95, failures: 0, errorRate: 0, p99LatencyMs: 0.3, share: 0.95 },
          { version: 'shadow:2', requests: 3, failures: 1, errorRate: 1 / 3, p99LatencyMs: 9, share: 0.03 },
        ],
        decisions: [],
      },
      [1, 2],
      'canary 5%',
      'successful → 25%',
    );
    expect(step).toEqual({
      atMs: 11_000,
      phase: 'canary 5%',
      percentage: 5,
      decision: 'successful → 25%',
      versions: new Map([
        [1, { requests: 95, errors: 0, errorRate: 0, p99Ms: 0.3 }],
        [2, { requests: 0, errors: 0, errorRate: 0, p99Ms: undefined }],
      ]),
    });
  });

  it('describes analysis decisions, naming the breached checks of a rollback', () => {
    const base = {
      at: 0,
      phase: 'canary',
      percentage: 5,
      candidate: { version: 3, totalRequests: 40, errorRate: 0.3, p99LatencyMs: 1, window: 'rolling' },
      baseline: { version: 2, totalRequests: 600, errorRate: 0, p99LatencyMs: 1, window: 'rolling' },
      counters: { runs: 1, successes: 0, consecutiveSuccesses: 0, failures: 1, inconclusives: 0, errors: 0, consecutiveErrors: 0 },
    } as const;
    const rollback = {
      ...base,
      outcome: 'failed',
      decision: 'rollback',
      reason: 'errorRate 0.3 > 0.01',
      checks: [
        { metric: 'errorRate', kind: 'absolute', value: 0.3, threshold: 0.01, passed: false },
        { metric: 'errorRate', kind: 'relative', value: 0.3, threshold: 0.01, baseline: 0, passed: false },
        { metric: 'p99LatencyMs', kind: 'relative', value: 1, threshold: 2, baseline: 1, passed: true },
      ],
    } as AnalysisReport;
    expect(describeAnalysis(rollback, { percentage: 0 })).toBe(
      "failed (errorRate 30.0% > 1.0%, errorRate 30.0% > 1.0% (v2's 0.0% + 1.0%)) → rolled back",
    );
    const advance = { ...base, outcome: 'successful', decision: 'advance', reason: 'ok', checks: [] } as AnalysisReport;
    expect(describeAnalysis(advance, { percentage: 25 })).toBe('successful → 25%');
  });
});
