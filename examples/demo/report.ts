/**
 * The demo's HTML report: one self-contained page (inline CSS and SVG, no script, no external
 * asset), with a chart pair per scenario — traffic share and error rate per version over time.
 */
import type { ScenarioTimeline, TimelineStep } from './timeline.js';
import { formatMs, formatPercent } from './timeline.js';

const PALETTE = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2'];

const GRID = '#eceff3';
const AXIS = '#9ca3af';
const INK_SOFT = '#6b7280';
const Y_DIVISIONS = 5;
const WIDTH = 560;
const HEIGHT = 220;
const MARGIN = { top: 16, right: 16, bottom: 34, left: 48 };

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Colour of a version: stable across both charts of a scenario. */
function colour(versions: readonly number[], version: number): string {
  return PALETTE[versions.indexOf(version) % PALETTE.length] ?? PALETTE[0]!;
}

/** A y-axis maximum at or above `value` that reads well (1, 2, 5 × 10^k). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const exponent = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * exponent >= value) return m * exponent;
  return 10 * exponent;
}

interface Series {
  version: number;
  /** One value per step, in the chart's unit; `undefined` leaves a gap (e.g. no traffic, so no error rate). */
  values: Array<number | undefined>;
}

function lineChart(options: {
  title: string;
  unit: string;
  yMax: number;
  steps: readonly TimelineStep[];
  series: readonly Series[];
  versions: readonly number[];
}): string {
  const { title, unit, yMax, steps, series, versions } = options;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const tMin = 0;
  const tMax = Math.max(1, ...steps.map((s) => s.atMs));
  const x = (t: number): number => MARGIN.left + ((t - tMin) / (tMax - tMin)) * plotW;
  const y = (v: number): number => MARGIN.top + plotH - (Math.min(v, yMax) / yMax) * plotH;
  const f = (n: number): string => n.toFixed(1);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeXml(title)}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<title>${escapeXml(title)}</title>`,
  ];
  // Presentation attributes rather than CSS classes, so each chart also stands alone as an .svg file.
  const text = `font-family="system-ui, sans-serif" font-size="11" fill="${INK_SOFT}"`;
  for (let i = 0; i <= Y_DIVISIONS; i++) {
    const v = (yMax * i) / Y_DIVISIONS;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="${GRID}"/>`,
      `<text ${text} x="${MARGIN.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${escapeXml(formatTick(v, unit))}</text>`,
    );
  }
  for (const t of [0, ...steps.map((s) => s.atMs)]) {
    parts.push(`<text ${text} x="${f(x(t))}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${(t / 1000).toFixed(0)}s</text>`);
  }
  parts.push(
    `<text ${text} x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 4}" text-anchor="middle">scenario time</text>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="${AXIS}"/>`,
    `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="${AXIS}"/>`,
  );
  for (const step of steps) {
    if (!step.decision) continue;
    const xd = f(x(step.atMs));
    parts.push(
      `<line x1="${xd}" x2="${xd}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="${INK_SOFT}" stroke-dasharray="4 3"><title>${escapeXml(`${(step.atMs / 1000).toFixed(0)}s: ${step.decision}`)}</title></line>`,
    );
  }
  for (const s of series) {
    const c = colour(versions, s.version);
    // A staircase: each step's value holds over the step's own interval (a switch is a jump, not a
    // ramp), one polyline per run of defined values so that a gap stays a gap.
    let run: string[] = [];
    const flush = (): void => {
      if (run.length > 0) parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${run.join(' ')}"/>`);
      run = [];
    };
    s.values.forEach((v, i) => {
      if (v === undefined) return flush();
      run.push(`${f(x(stepStart(steps, i)))},${f(y(v))}`, `${f(x(steps[i]!.atMs))},${f(y(v))}`);
    });
    flush();
    s.values.forEach((v, i) => {
      if (v === undefined) return;
      const step = steps[i]!;
      const mid = (stepStart(steps, i) + step.atMs) / 2;
      parts.push(
        `<circle cx="${f(x(mid))}" cy="${f(y(v))}" r="2.5" fill="${c}"><title>${escapeXml(`v${s.version} at ${(step.atMs / 1000).toFixed(0)}s (${step.phase}): ${v.toFixed(1)}${unit}`)}</title></circle>`,
      );
    });
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Where step `i` began: the end of the step before it, or 0. */
function stepStart(steps: readonly TimelineStep[], i: number): number {
  return i === 0 ? 0 : steps[i - 1]!.atMs;
}

function formatTick(value: number, unit: string): string {
  // Ticks are multiples of yMax / 5 with yMax a 1-2-5 step, so at most one decimal is ever needed.
  return `${Number.isInteger(value) ? value : value.toFixed(value < 1 ? 2 : 1)}${unit}`;
}

function legend(versions: readonly number[]): string {
  return `<p class="legend">${versions
    .map((v) => `<span><i style="background:${colour(versions, v)}"></i>v${v}</span>`)
    .join(' ')} <span><i class="dash"></i>decision</span></p>`;
}

function stepTable(scenario: ScenarioTimeline): string {
  const head = scenario.versions.map((v) => `<th>v${v} req</th><th>v${v} err</th><th>v${v} p99</th>`).join('');
  const rows = scenario.steps.map((step) => {
    const cells = scenario.versions
      .map((v) => {
        const s = step.versions.get(v);
        return s
          ? `<td>${s.requests}</td><td>${formatPercent(s.errorRate)}</td><td>${escapeXml(formatMs(s.p99Ms))}</td>`
          : '<td></td><td></td><td></td>';
      })
      .join('');
    return `<tr><td>${(step.atMs / 1000).toFixed(0)}s</td><td>${escapeXml(step.phase)}</td>${cells}<td>${escapeXml(step.decision ?? '')}</td><td>${escapeXml(step.evidence ?? '')}</td></tr>`;
  });
  return `<details><summary>Steps</summary><table><thead><tr><th>time</th><th>phase</th>${head}<th>decision (threshold method)</th><th>evidence method, same traffic</th></tr></thead><tbody>${rows.join('')}</tbody></table></details>`;
}

function scenarioSection(scenario: ScenarioTimeline): string {
  const { steps, versions } = scenario;
  const share = versions.map((version) => ({
    version,
    values: steps.map((step) => {
      const total = [...step.versions.values()].reduce((n, v) => n + v.requests, 0);
      return total === 0 ? 0 : ((step.versions.get(version)?.requests ?? 0) / total) * 100;
    }),
  }));
  const errors = versions.map((version) => ({
    version,
    values: steps.map((step) => {
      const stats = step.versions.get(version);
      return stats && stats.requests > 0 ? stats.errorRate * 100 : undefined;
    }),
  }));
  const maxError = Math.max(0, ...errors.flatMap((s) => s.values.filter((v) => v !== undefined)));
  const allPassed = scenario.expectations.every((e) => e.passed);
  return [
    `<section id="${escapeXml(scenario.id)}">`,
    `<h2>${escapeXml(scenario.title)} <span class="${allPassed ? 'ok' : 'fail'}">${allPassed ? 'passed' : 'FAILED'}</span></h2>`,
    ...(steps.length === 0
      ? []
      : [
          legend(versions),
          '<div class="charts">',
          `<figure>${lineChart({ title: `${scenario.title}: traffic share per version`, unit: '%', yMax: 100, steps, series: share, versions })}<figcaption>Traffic share per version (% of the step's requests)</figcaption></figure>`,
          `<figure>${lineChart({ title: `${scenario.title}: error rate per version`, unit: '%', yMax: niceCeiling(Math.max(maxError, 5)), steps, series: errors, versions })}<figcaption>Error rate per version (% of its requests in the step)</figcaption></figure>`,
          '</div>',
        ]),
    scenario.notes.length ? `<ul class="notes">${scenario.notes.map((n) => `<li>${escapeXml(n)}</li>`).join('')}</ul>` : '',
    `<ul class="expect">${scenario.expectations
      .map((e) => `<li class="${e.passed ? 'ok' : 'fail'}">${e.passed ? '✔' : '✘'} ${escapeXml(e.description)}${e.passed || !e.actual ? '' : ` (got ${escapeXml(e.actual)})`}</li>`)
      .join('')}</ul>`,
    steps.length === 0 ? '' : stepTable(scenario),
    '</section>',
  ].join('\n');
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#111827}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin:28px 0 6px}
.meta{color:#6b7280;margin-top:0}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{color:#4b5563;font-size:12px}
svg{border:1px solid #e5e7eb;border-radius:6px;max-width:100%;height:auto}
.legend span{margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.legend i.dash{height:0;border-top:2px dashed #6b7280;border-radius:0}
.ok{color:#15803d}.fail{color:#b91c1c;font-weight:600}
ul{padding-left:18px}table{border-collapse:collapse;font-size:12px;margin-top:6px}
td,th{border:1px solid #e5e7eb;padding:2px 6px;text-align:right}td:nth-child(2),td:last-child,th:nth-child(2),th:last-child{text-align:left}
`;

/** The whole report page. */
export function renderReport(options: {
  title: string;
  generatedAt: string;
  description: string;
  scenarios: readonly ScenarioTimeline[];
}): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(options.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeXml(options.title)}</h1>`,
    `<p class="meta">${escapeXml(options.generatedAt)} · ${escapeXml(options.description)}</p>`,
    ...options.scenarios.map(scenarioSection),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
