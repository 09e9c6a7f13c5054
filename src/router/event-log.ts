import type { Logger, LogLevel } from '../logger.js';

/**
 * Subscribes to a named event of an emitter whose event map this module does not import (the
 * router's would be a cycle; a policy's is its own): each listener below types the fields it reads.
 */
function listen<T>(source: object, event: string, listener: (payload: T) => void): void {
  (source as { on(event: string, listener: (payload: T) => void): unknown }).on(event, listener);
}

/** One log line: its level, its structured fields, its message. */
interface LogLine {
  level: LogLevel;
  fields: Record<string, unknown>;
  message: string;
}

/**
 * Policy transitions and the level each is logged at: the ones a rollout makes, on its own or by
 * hand, at `info`; the ones someone must look at at `warn`. An analysis run is logged by its
 * outcome (`failed` and `error` at `warn`).
 */
const POLICY_EVENTS: Readonly<Record<string, LogLevel>> = {
  started: 'info',
  stepped: 'info',
  resumed: 'info',
  promoted: 'info',
  deployed: 'info',
  switched: 'info',
  mirrorChanged: 'info',
  pinned: 'info',
  promotionVerified: 'info',
  paused: 'warn',
  rolledBack: 'warn',
  aborted: 'warn',
  needsAttention: 'warn',
  promotionAborted: 'warn',
  analysisStopped: 'error',
};

interface AnalysisRun {
  outcome: string;
  decision: string;
  reason: string;
  phase: string;
  at: number;
  percentage: number;
  candidate: { version: number | string };
  baseline: { version: number | string } | undefined;
}

/** What the router hands {@link logEvents}: where events come from and what to name them by. */
export interface LoggedParts {
  deployment: string;
  model: string;
  /** The `ModelRouter`: `fallback`, `shadowFailed`, `shadowDropped`. */
  router: object;
  /** Its `PredictorPool`: `loaded`, `loadFailed`, `evicted` (of this model only; a pool can be shared). */
  pool: object;
  /** The policy and the analyses composed around it, when they emit events: transitions and analysis runs. */
  sources: readonly object[];
}

/**
 * Sends the rollout's decisions, the router's fallbacks and dropped or failed mirrors, and the
 * pool's loads and load failures to `logger` as structured lines. Events that can repeat per
 * request are kept to a trickle: a fallback is a `warn` once per failed load and `debug` for the
 * requests that follow it; failed and dropped mirrors are logged at their 1st, 2nd, 4th, 8th … time,
 * with the count. @internal
 */
export function logEvents(logger: Logger, parts: LoggedParts): void {
  const { deployment, model } = parts;
  const write = ({ level, fields, message }: LogLine) => logger[level]({ deployment, model, ...fields }, message);

  for (const policy of parts.sources) {
    if (typeof (policy as { on?: unknown }).on !== 'function') continue;
    for (const [event, level] of Object.entries(POLICY_EVENTS)) {
      listen(policy, event, (payload: Record<string, unknown>) => write({ level, fields: { event, ...eventFields(payload) }, message: `${deployment}: ${event}` }));
    }
    listen(policy, 'analysis', (report: AnalysisRun) => {
      const level = report.outcome === 'failed' || report.outcome === 'error' ? 'warn' : 'info';
      write({
        level,
        fields: {
          event: 'analysis',
          outcome: report.outcome,
          decision: report.decision,
          phase: report.phase,
          candidate: report.candidate.version,
          baseline: report.baseline?.version,
          percentage: report.percentage,
          at: report.at,
          reason: report.reason,
        },
        message: `${deployment}: analysis ${report.outcome}, ${report.decision}: ${report.reason}`,
      });
    });
  }

  const lastLoadError = new Map<number, unknown>();
  listen(parts.router, 'fallback', (event: { routed: { version: number }; fallback: { version: number }; error: unknown }) => {
    const first = lastLoadError.get(event.routed.version) !== event.error;
    lastLoadError.set(event.routed.version, event.error);
    write({
      level: first ? 'warn' : 'debug',
      fields: { event: 'fallback', version: event.routed.version, fallbackVersion: event.fallback.version, err: event.error },
      message: `${deployment}: version ${event.routed.version} cannot be served, answering from version ${event.fallback.version}`,
    });
  });
  let shadowFailures = 0;
  listen(parts.router, 'shadowFailed', (event: { version: number; stage: string; error: unknown }) => {
    shadowFailures++;
    if (isPowerOfTwo(shadowFailures)) {
      write({
        level: 'warn',
        fields: { event: 'shadowFailed', version: event.version, stage: event.stage, count: shadowFailures, err: event.error },
        message: `${deployment}: shadow version ${event.version} failed (${event.stage}), ${shadowFailures} so far`,
      });
    }
  });
  listen(parts.router, 'shadowDropped', (event: { version: number; dropped: number }) => {
    if (isPowerOfTwo(event.dropped)) {
      write({
        level: 'warn',
        fields: { event: 'shadowDropped', version: event.version, count: event.dropped },
        message: `${deployment}: mirror to shadow version ${event.version} dropped (too many in flight), ${event.dropped} so far`,
      });
    }
  });

  listen(parts.pool, 'loaded', (event: { name: string; version: number; loadMs: number; warmUpMs: number }) => {
    if (event.name !== model) return;
    write({
      level: 'info',
      fields: { event: 'loaded', version: event.version, loadMs: event.loadMs, warmUpMs: event.warmUpMs },
      message: `${deployment}: version ${event.version} loaded`,
    });
  });
  listen(parts.pool, 'loadFailed', (event: { name: string; ref: unknown; error: unknown }) => {
    if (event.name !== model) return;
    write({ level: 'error', fields: { event: 'loadFailed', version: event.ref, err: event.error }, message: `${deployment}: version ${String(event.ref)} failed to load` });
  });
  listen(parts.pool, 'evicted', (event: { name: string; version: number; reason: string }) => {
    if (event.name !== model) return;
    write({ level: 'debug', fields: { event: 'evicted', version: event.version, reason: event.reason }, message: `${deployment}: version ${event.version} unloaded (${event.reason})` });
  });
}

/** A payload's fields that a log line can carry as they are: primitives and arrays of primitives. */
function eventFields(payload: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload ?? {})) {
    if (value === undefined) continue;
    if (value instanceof Error) fields.err = value;
    else if (typeof value !== 'object' || value === null || (Array.isArray(value) && value.every((v) => typeof v !== 'object'))) fields[key] = value;
  }
  return fields;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}
