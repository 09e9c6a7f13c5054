import { describe, expect, it } from 'vitest';
import { DeploymentMonitor, PSI_MODERATE, PSI_SIGNIFICANT } from '../../src/index.js';
import { kolmogorovPValue } from '../../src/monitor/drift.js';
import { FakeClock } from '../../src/testing/index.js';
import { normals } from './distributions.js';

const N = 20_000;

function monitorWith(streams: Record<string, Float64Array>) {
  const clock = new FakeClock(0);
  const monitor = new DeploymentMonitor({ clock: clock.now });
  for (const [version, values] of Object.entries(streams)) for (const v of values) monitor.recordOutput(version, v);
  return { clock, monitor };
}

/** Exact two-sample KS statistic from raw values. */
function exactKs(a: Float64Array, b: Float64Array): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i] as number, y[j] as number);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** Exact PSI from raw values, with cuts at the baseline's exact deciles. */
function exactPsi(current: Float64Array, baseline: Float64Array): number {
  const sorted = Float64Array.from(baseline).sort();
  const cuts = Array.from({ length: 9 }, (_, k) => sorted[Math.floor(((k + 1) / 10) * (sorted.length - 1))] as number);
  const shares = (values: Float64Array) => {
    const s = new Float64Array(10);
    for (const v of values) {
      let bin = 0;
      while (bin < 9 && v > (cuts[bin] as number)) bin++;
      s[bin] = (s[bin] as number) + 1 / values.length;
    }
    return s;
  };
  const e = shares(baseline);
  const a = shares(current);
  let psi = 0;
  for (let i = 0; i < 10; i++) {
    const ei = Math.max(e[i] as number, 1e-4);
    const ai = Math.max(a[i] as number, 1e-4);
    psi += (ai - ei) * Math.log(ai / ei);
  }
  return psi;
}

describe('drift', () => {
  it('finds no drift between two samples of one distribution', () => {
    const baseline = normals(N, 1).map((z) => 0.6 + 0.1 * z);
    const current = normals(N, 2).map((z) => 0.6 + 0.1 * z);
    const { monitor } = monitorWith({ '1': baseline, '2': current });
    const report = monitor.drift('2', '1');
    expect(report).toMatchObject({ samples: N, baselineSamples: N, verdict: 'stable' });
    expect(report.psi).toBeLessThan(0.01);
    expect(report.ks).toBeLessThan(0.02);
    expect(report.ksPValue).toBeGreaterThan(0.01);
  });

  it('flags a shifted distribution as significant, with KS and PSI close to the exact raw-data values', () => {
    const baseline = normals(N, 3).map((z) => 0.5 + 0.1 * z);
    const current = normals(N, 4).map((z) => 0.6 + 0.12 * z);
    const { monitor } = monitorWith({ '1': baseline, '2': current });
    const report = monitor.drift('2', '1');
    expect(report.verdict).toBe('significant');
    expect(report.psi).toBeGreaterThanOrEqual(PSI_SIGNIFICANT);
    expect(report.ksPValue).toBeLessThan(1e-10);
    // Values that share a 1 % bin cannot be told apart, so the sketch figures differ from the raw ones by little.
    expect(Math.abs(report.ks - exactKs(current, baseline))).toBeLessThan(0.01);
    expect(Math.abs(report.psi - exactPsi(current, baseline)) / exactPsi(current, baseline)).toBeLessThan(0.05);
  });

  it('grades a small shift as moderate', () => {
    const baseline = normals(N, 5);
    const current = normals(N, 6).map((z) => z + 0.35);
    const { monitor } = monitorWith({ base: baseline, next: current });
    const report = monitor.drift('next', 'base');
    expect(report.psi).toBeGreaterThanOrEqual(PSI_MODERATE);
    expect(report.psi).toBeLessThan(PSI_SIGNIFICANT);
    expect(report.verdict).toBe('moderate');
    expect(Math.abs(report.ks - exactKs(current, baseline))).toBeLessThan(0.01);
  });

  it('handles negative, zero and positive outputs alike', () => {
    const baseline = normals(N, 7).map((z) => Math.round(z * 3)); // integers around 0, many exact zeros
    const current = normals(N, 8).map((z) => Math.round(z * 3) - 2);
    const { monitor } = monitorWith({ '1': baseline, '2': current });
    const report = monitor.drift('2', '1');
    expect(report.verdict).toBe('significant');
    expect(Math.abs(report.ks - exactKs(current, baseline))).toBeLessThan(1e-9); // integers never share a bin
  });

  it('is insufficient-data below minSamples or without outputs', () => {
    const { monitor } = monitorWith({ '1': normals(150, 1), '2': normals(50, 2) });
    expect(monitor.drift('2', '1')).toEqual({ psi: 0, ks: 0, ksPValue: 1, samples: 50, baselineSamples: 150, verdict: 'insufficient-data' });
    expect(monitor.drift('2', '1', { minSamples: 50 }).verdict).not.toBe('insufficient-data');
    expect(monitor.drift('9', '1').verdict).toBe('insufficient-data');
    expect(() => monitor.drift('2', '1', { bins: 1 })).toThrow(/bins must be an integer >= 2/);
  });

  it('reads the rolling window when asked', () => {
    const { clock, monitor } = monitorWith({ '1': normals(500, 1), '2': normals(500, 2).map((z) => z + 3) });
    clock.advance(60_000);
    for (const v of normals(500, 3)) monitor.recordOutput('1', v);
    for (const v of normals(500, 4)) monitor.recordOutput('2', v);
    expect(monitor.drift('2', '1', { window: 'rolling' }).verdict).toBe('stable');
    expect(monitor.drift('2', '1').verdict).toBe('significant');
  });
});

describe('kolmogorovPValue', () => {
  it('matches the Kolmogorov distribution at its usual critical values', () => {
    // Q(1.3581) = 0.05 and Q(1.6276) = 0.01; with n1 = n2 = 10⁶ the small-sample correction is negligible.
    const root = Math.sqrt((1e6 * 1e6) / 2e6);
    expect(kolmogorovPValue(1.3581 / root, 1e6, 1e6)).toBeCloseTo(0.05, 3);
    expect(kolmogorovPValue(1.6276 / root, 1e6, 1e6)).toBeCloseTo(0.01, 3);
    expect(kolmogorovPValue(0, 100, 100)).toBe(1);
    expect(kolmogorovPValue(1, 100, 100)).toBeLessThan(1e-30);
  });
});
