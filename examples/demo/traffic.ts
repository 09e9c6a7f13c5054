/**
 * The demo's users: a fixed population of sticky unit ids sending iris measurements through a
 * `ModelRouter`, spread evenly over the scenario's (fake) time so the monitor's windows and the
 * analysis intervals see traffic as they would in production.
 */
import { isRoutedError, type ModelRouter, type RandomSource, type RouterPrediction } from '../../src/index.js';
import type { FakeClock } from '../../src/testing/index.js';
import type { IrisRow } from './iris.js';
import type { StepTally } from './timeline.js';

/** What one request was, and how it ended. */
export interface RequestOutcome {
  row: IrisRow;
  unitId: string;
  /** The router's answer, or `undefined` when the prediction failed. */
  result: RouterPrediction | undefined;
  /** Version that served (or failed) the request. */
  version: number;
  variant: string;
  error?: unknown;
}

/** Options of {@link sendTraffic}. */
export interface TrafficOptions {
  router: ModelRouter;
  clock: FakeClock;
  random: RandomSource;
  /** Rows the users send (the whole data set, or the held-out rows when the outcome is scored). */
  rows: readonly IrisRow[];
  /** Size of the user population; each request comes from one user drawn at random. */
  users: number;
  requests: number;
  /** Fake time the requests are spread over, in ms. */
  durationMs: number;
  tally: StepTally;
  onOutcome?: (outcome: RequestOutcome) => void;
}

/**
 * Sends `requests` real predictions, one after another, advancing the fake clock between them
 * (`tickAsync`, so analysis timers due in between run and finish in order). A failed prediction
 * is counted against the version the router names on the error; any other error is rethrown.
 */
export async function sendTraffic(options: TrafficOptions): Promise<void> {
  const { router, clock, random, rows, users, requests, durationMs, tally, onOutcome } = options;
  const gapMs = durationMs / requests;
  for (let i = 0; i < requests; i++) {
    const row = rows[Math.floor(random() * rows.length)]!;
    const unitId = `user-${Math.floor(random() * users)}`;
    let outcome: RequestOutcome;
    try {
      const result = await router.predict(row.features, { unitId });
      outcome = { row, unitId, result, version: result.version, variant: result.variant };
      tally.record(result.version, true);
    } catch (error) {
      if (!isRoutedError(error)) throw error;
      outcome = { row, unitId, result: undefined, version: error.version, variant: error.variant, error };
      tally.record(error.version, false);
    }
    onOutcome?.(outcome);
    await clock.tickAsync(gapMs);
  }
}
