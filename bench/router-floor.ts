/**
 * The floor of any batching router, as a call for a closed loop: what each request must do however
 * the batching is built, and nothing else. `full`: the policy's route, one clock reading, the row
 * copied into a batch buffer, the request kept (one object, its own result), one promise a batch
 * loop resolves once a turn (one clock reading a batch), one monitor record; no run, no form check,
 * no output of its own. Without `full`: the request and its promise only (the promise floor).
 * Used by `serving.bench.ts` (wall clock) and `instructions/serving-window.ts` (callgrind).
 */
import { performance } from 'node:perf_hooks';
import type { DeploymentMonitor } from '../src/monitor/deployment-monitor.js';
import type { RoutingPolicy } from '../src/routing/policy.js';

/** A request that is its own result; `resolve` is set by the promise's executor. */
class FloorRequest {
  resolve: ((value: object) => void) | undefined;
  latencyMs = 0;
  constructor(
    readonly version: number,
    readonly started: number,
  ) {
    this.resolve = undefined;
  }
}

export function routerFloorCall(
  policy: RoutingPolicy,
  monitor: DeploymentMonitor,
  rows: readonly number[][],
  unitIds: readonly string[],
  full: boolean,
): (i: number) => Promise<unknown> {
  const width = rows[0]?.length ?? 0;
  const buffer = new Float32Array(256 * width);
  const at = { at: 0 };
  let queue: FloorRequest[] = [];
  let scheduled = false;
  let capturing: FloorRequest | undefined;
  const capture = (resolve: (value: object) => void) => {
    (capturing as FloorRequest).resolve = resolve;
  };
  const flush = () => {
    scheduled = false;
    const answered = queue;
    queue = [];
    const ended = performance.now();
    at.at = performance.timeOrigin + ended;
    for (let k = 0; k < answered.length; k++) {
      const request = answered[k] as FloorRequest;
      request.latencyMs = ended - request.started;
      if (full) monitor.record(request.version, request.latencyMs, true, at);
      (request.resolve as (value: object) => void)(request);
    }
  };
  return (i) => {
    let version = 1;
    let started = 0;
    if (full) {
      version = policy.route({ unitId: unitIds[i % unitIds.length] as string }).version;
      started = performance.now();
      const values = rows[i % rows.length] as number[];
      const offset = (queue.length & 255) * width;
      for (let j = 0; j < width; j++) buffer[offset + j] = values[j] as number;
    }
    capturing = new FloorRequest(version, started);
    const promise = new Promise<object>(capture);
    queue.push(capturing);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    return promise;
  };
}
