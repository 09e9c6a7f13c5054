/**
 * The rollout gauges a monitor's scrapes report beside its request metrics: each deployment's
 * status, step, share of traffic per version, and its last analysis outcome and time. The monitor
 * holds readers of plain data, not policies (the monitor never imports routing); a `ModelRouter`
 * registers one for its policy.
 *
 * @module
 */
import type { PrometheusFamily } from './prometheus.js';

/** How an analysis run ended, as the gauges report it. */
export type RolloutAnalysisOutcome = 'successful' | 'failed' | 'inconclusive' | 'error';

const OUTCOMES: readonly RolloutAnalysisOutcome[] = ['successful', 'failed', 'inconclusive', 'error'];

/** What a deployment reports at each scrape, read afresh every time. */
export interface RolloutGauges {
  /**
   * The current status and every status the policy can have, reported as a state set (1 for the
   * current one, 0 for the others, so a dashboard sees a status end); absent when the policy has no
   * status (a blue-green switch, a shadow, a bandit, a static policy).
   */
  status?: { current: string; all: readonly string[] };
  /** Index of the current step (a canary's `stepIndex`, −1 below the first step); absent without steps. */
  step?: number;
  /**
   * Share of live traffic of each version, in percent; a bandit's arms, chosen per request, are
   * left out. A (version, variant) reported once and absent later is reported as 0 from then on,
   * so its series ends at 0 rather than going stale at its last share.
   */
  traffic: ReadonlyArray<{ version: number; variant: string; percentage: number }>;
  /** The latest analysis run, once one has run: its outcome and clock time in ms. */
  lastAnalysis?: { outcome: RolloutAnalysisOutcome; at: number };
}

/** The deployments one monitor reports, by name. @internal */
export class RolloutGaugeSet {
  readonly #readers = new Map<string, () => RolloutGauges>();
  /** Every (version, variant) each deployment has reported, by `version\0variant`. */
  readonly #routed = new Map<string, Map<string, { version: number; variant: string }>>();

  /** Reports `read()` under `deployment` (replacing an earlier reader of that name) until the returned function is called. */
  track(deployment: string, read: () => RolloutGauges): () => void {
    this.#readers.set(deployment, read);
    this.#routed.delete(deployment);
    return () => {
      if (this.#readers.get(deployment) !== read) return;
      this.#readers.delete(deployment);
      this.#routed.delete(deployment);
    };
  }

  families(prefix: string, labels: Readonly<Record<string, string>>): PrometheusFamily[] {
    const family = (name: string, help: string): PrometheusFamily => ({ name: `${prefix}${name}`, help, type: 'gauge', samples: [] });
    const status = family('deployment_status', 'Status of each deployment: 1 for the current status, 0 for the others.');
    const step = family('deployment_step', 'Index of the current step of each deployment (-1 below the first step).');
    const percentage = family('deployment_percentage', 'Share of live traffic of each version of each deployment, in percent.');
    const outcome = family('deployment_last_analysis', 'Outcome of the latest analysis run of each deployment: 1 for it, 0 for the others.');
    const analysedAt = family('deployment_last_analysis_timestamp_seconds', 'Clock time of the latest analysis run of each deployment, in seconds.');
    for (const [deployment, read] of this.#readers) {
      const gauges = read();
      const base = { ...labels, deployment };
      if (gauges.status !== undefined) {
        for (const name of gauges.status.all) {
          status.samples.push({ name: status.name, labels: { ...base, status: name }, value: name === gauges.status.current ? 1 : 0 });
        }
      }
      if (gauges.step !== undefined) step.samples.push({ name: step.name, labels: base, value: gauges.step });
      let routed = this.#routed.get(deployment);
      if (routed === undefined) this.#routed.set(deployment, (routed = new Map()));
      const shares = new Map<string, number>();
      for (const { version, variant, percentage: value } of gauges.traffic) {
        const series = `${version}\0${variant}`;
        if (!routed.has(series)) routed.set(series, { version, variant });
        shares.set(series, value);
      }
      for (const [series, { version, variant }] of routed) {
        percentage.samples.push({ name: percentage.name, labels: { ...base, version: String(version), variant }, value: shares.get(series) ?? 0 });
      }
      if (gauges.lastAnalysis !== undefined) {
        for (const name of OUTCOMES) {
          outcome.samples.push({ name: outcome.name, labels: { ...base, outcome: name }, value: name === gauges.lastAnalysis.outcome ? 1 : 0 });
        }
        analysedAt.samples.push({ name: analysedAt.name, labels: base, value: gauges.lastAnalysis.at / 1000 });
      }
    }
    return [status, step, percentage, outcome, analysedAt];
  }
}
