/**
 * What the demo records about each rollout, and how it prints it: one line per step while it runs,
 * one summary at the end.
 */

/** One version's traffic during one step. */
export interface VersionStep {
  requests: number;
  errors: number;
  /** `errors / requests`, 0 when there were no requests. */
  errorRate: number;
  /** 99th percentile latency of the step in ms, `undefined` when the version saw no traffic. */
  p99Ms: number | undefined;
}

/** One step of a scenario: a slice of traffic and what the controller decided after it. */
export interface TimelineStep {
  /** Scenario time in ms at the end of the step (the library's clock, not wall time). */
  atMs: number;
  /** What the policy was doing during the step, e.g. `canary 25%`, `blue-green active v2`. */
  phase: string;
  /** Share of traffic (0–100) the policy meant to send to the candidate during the step. */
  percentage: number;
  /** Per version number. */
  versions: Map<number, VersionStep>;
  /** The controller's decision after the step (`successful → 50%`, `rolled back` …), if any. */
  decision?: string;
  /** Canary scenarios: what the evidence method, run beside the threshold analysis on the same traffic, concluded. */
  evidence?: string;
}

/** One expectation the demo checks; any failed one makes the demo exit non-zero. */
export interface Expectation {
  description: string;
  passed: boolean;
  /** What was actually seen, printed beside a failure. */
  actual?: string;
}

/** The story of one scenario. */
export interface ScenarioTimeline {
  id: string;
  title: string;
  /** The candidate (and stable) versions, in legend order. */
  versions: number[];
  steps: TimelineStep[];
  /** Plain sentences printed after the timeline (significance, final state …). */
  notes: string[];
  expectations: Expectation[];
}

const pad = (text: string, width: number): string => text.padStart(width);

/** Formats a latency in ms with a sensible number of digits. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 100) return `${ms.toFixed(1)}ms`;
  return `${Math.round(ms)}ms`;
}

/** Formats a share in [0, 1] as a percentage. */
export function formatPercent(share: number, digits = 1): string {
  return `${(share * 100).toFixed(digits)}%`;
}

/**
 * One readable line for a step, e.g.
 * `  t=  30s canary 25%      │ v1  743 req  0.0% err p99 0.31ms │ v2  257 req  0.0% err p99 0.29ms │ successful → 50%`.
 */
export function formatStep(step: TimelineStep): string {
  const seconds = `${pad((step.atMs / 1000).toFixed(0), 4)}s`;
  const parts = [`  t=${seconds} ${step.phase.padEnd(22)}`];
  for (const [version, stats] of step.versions) {
    parts.push(
      `v${version} ${pad(String(stats.requests), 5)} req ${pad(formatPercent(stats.errorRate), 6)} err p99 ${pad(formatMs(stats.p99Ms), 7)}`,
    );
  }
  if (step.decision) parts.push(step.decision);
  if (step.evidence) parts.push(step.evidence);
  return parts.join(' │ ');
}

/** The heading printed before a scenario's steps. */
export function formatScenarioHeading(scenario: Pick<ScenarioTimeline, 'title'>): string {
  return `\n▶ ${scenario.title}`;
}

/** The lines printed after a scenario's steps: its notes and each expectation with ✔ or ✘. */
export function formatScenarioEnd(scenario: ScenarioTimeline): string[] {
  return [
    ...scenario.notes.map((note) => `  ${note}`),
    ...scenario.expectations.map(
      (e) => `  ${e.passed ? '✔' : '✘'} ${e.description}${e.passed || !e.actual ? '' : ` (got ${e.actual})`}`,
    ),
  ];
}

/** The final summary: one line per scenario and the overall verdict. */
export function formatSummary(scenarios: readonly ScenarioTimeline[], wallMs: number, reportPath: string): string[] {
  const failed = scenarios.flatMap((s) => s.expectations.filter((e) => !e.passed).map((e) => `${s.title}: ${e.description}`));
  const requests = scenarios.reduce(
    (sum, s) => sum + s.steps.reduce((n, step) => n + [...step.versions.values()].reduce((m, v) => m + v.requests, 0), 0),
    0,
  );
  const lines = ['', '═ Summary'];
  for (const s of scenarios) {
    const passed = s.expectations.filter((e) => e.passed).length;
    const verdict = passed === s.expectations.length ? 'ok  ' : 'FAIL';
    lines.push(`  ${verdict} ${s.title} (${passed}/${s.expectations.length} expectations)`);
  }
  lines.push(
    `  ${requests} real ONNX predictions in ${(wallMs / 1000).toFixed(1)} s wall time`,
    `  report: ${reportPath}`,
    failed.length === 0 ? '  all expectations met' : `  ${failed.length} expectation(s) failed:`,
    ...failed.map((f) => `    ✘ ${f}`),
  );
  return lines;
}
