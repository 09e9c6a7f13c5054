/**
 * `status`: what a deployment does now, gathered from storage (its state, the merged fleet
 * heartbeats, its audit log) into one plain object (the `--json` output) and drawn as a screen.
 */
import type { AuditRecord } from '../fleet/deployment-store.js';
import type { ReplicaHeartbeat } from '../fleet/fleet-monitors.js';
import type { PolicySummary } from './policy-summary.js';
import { fields, formatAge, formatMs, formatPercent, table, type Styles } from './output.js';

/** One version the policy sends traffic to, with its fleet-wide numbers. */
export interface VersionStatus {
  version: number;
  variant: string;
  /** Share of live traffic the policy gives it, in [0, 1]. */
  share: number;
  /** Over the merged monitors' rolling window. */
  requests: number;
  errorRate: number;
  p99LatencyMs: number;
}

/** Everything `status` shows; its `--json` output. */
export interface DeploymentStatus extends PolicySummary {
  deployment: string;
  revision: number;
  /** When and by whom the current revision was made. */
  at: string;
  by: string;
  versions: VersionStatus[];
  /** Every heartbeat found (stale ones are listed, not merged). */
  replicas: ReplicaHeartbeat[];
  /** The latest audit records that carry the numbers a decision saw, newest first. */
  analyses: Array<Omit<AuditRecord, 'state'>>;
  /** When this view was taken. */
  takenAt: string;
}

/** Audit records kept for the "last analyses" panel. */
export const ANALYSES_SHOWN = 5;

export function lastAnalyses(records: readonly AuditRecord[]): Array<Omit<AuditRecord, 'state'>> {
  return records
    .filter((r) => r.numbers !== null && Object.keys(r.numbers).length > 0)
    .slice(-ANALYSES_SHOWN)
    .reverse()
    .map(({ state: _state, ...rest }) => rest);
}

function statusColor(status: string, s: Styles): string {
  if (/rolledBack|failed|abort/i.test(status)) return s.red(status);
  if (/paused|idle/i.test(status)) return s.yellow(status);
  return s.green(status);
}

/** The screen of one deployment (the `--watch` view redraws exactly this). */
export function renderStatus(status: DeploymentStatus, s: Styles): string {
  const head = fields(
    [
      ['deployment', s.cyan(status.deployment)],
      ['policy', status.policy],
      ['status', statusColor(status.status, s)],
      ...(status.step === null ? [] : ([['step', status.step]] as const)),
      ...(status.percentage === null ? [] : ([['percentage', `${Number(status.percentage.toFixed(2))} %`]] as const)),
      ['revision', `${status.revision}  ${s.dim(`${status.at} by ${status.by}`)}`],
    ],
    s,
  );
  const versions = table(
    ['VERSION', 'VARIANT', 'SHARE', 'REQUESTS', 'ERROR RATE', 'P99'],
    status.versions.map((v) => [
      String(v.version),
      v.variant,
      formatPercent(v.share),
      String(v.requests),
      v.requests === 0 ? '-' : v.errorRate > 0 ? s.red(formatPercent(v.errorRate)) : formatPercent(v.errorRate),
      v.requests === 0 ? '-' : formatMs(v.p99LatencyMs),
    ]),
    s,
  );
  const analyses = table(
    ['REV', 'AT', 'ACTION', 'BY', 'NUMBERS', 'REASON'],
    status.analyses.map((a) => [
      String(a.revision),
      a.at,
      a.action,
      a.by,
      Object.entries(a.numbers ?? {})
        .map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`)
        .join(' '),
      a.reason ?? '-',
    ]),
    s,
  );
  const replicas = table(
    ['REPLICA', 'LAST HEARTBEAT', 'AGE', 'REQUESTS', 'FRESH'],
    status.replicas.map((r) => [r.replicaId, r.at, formatAge(r.ageMs), String(r.requests), r.fresh ? s.green('yes') : s.red('stale')]),
    s,
  );
  const fresh = status.replicas.filter((r) => r.fresh).length;
  return [
    head,
    versions,
    `${s.bold('Last analyses')}\n${analyses}`,
    `${s.bold('Replicas')} ${s.dim(`${fresh} fresh of ${status.replicas.length} seen`)}\n${replicas}`,
    s.dim(`as of ${status.takenAt}`),
    '',
  ].join('\n');
}
