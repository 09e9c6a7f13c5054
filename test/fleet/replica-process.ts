/**
 * A replica process of the fleet tests (test/fleet/fixtures/fleet-replica.ts, ab-replica.ts), seen
 * from the test: every JSON line it printed, and a way to wait for the next that matches.
 */
import { expect } from 'vitest';
import type { WorkerProcess } from '../fixtures/bundled-worker.js';

export interface Event {
  ev: string;
  t: number;
  [field: string]: unknown;
}

/** A replica process and every event it printed, with a way to wait for the next that matches. */
export class Replica {
  readonly events: Event[] = [];
  #waiters: Array<{ match: (e: Event) => boolean; resolve: (e: Event) => void }> = [];
  readonly ended: Promise<void>;

  constructor(
    readonly id: string,
    readonly worker: WorkerProcess,
  ) {
    this.ended = (async () => {
      for (;;) {
        let line: string;
        try {
          line = await worker.nextLine();
        } catch {
          return;
        }
        const event = JSON.parse(line) as Event;
        this.events.push(event);
        for (const w of this.#waiters.filter((x) => x.match(event))) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    })();
  }

  send(command: object): void {
    this.worker.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /** The first event from now on (or already seen, with `seen`) that matches. */
  next(match: (e: Event) => boolean, what: string, timeoutMs = 30_000, seen = false): Promise<Event> {
    const found = seen ? this.events.find(match) : undefined;
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.id}: no ${what} within ${timeoutMs} ms; stderr:\n${this.worker.stderr()}\nevents:\n${this.events.map((e) => JSON.stringify(e)).join('\n')}`)), timeoutMs);
      this.#waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  async ask(command: object, answer: string): Promise<Event> {
    const reply = this.next((e) => e.ev === answer, answer);
    this.send(command);
    return reply;
  }

  async stop(): Promise<void> {
    if (this.worker.child.exitCode !== null || this.worker.child.signalCode !== null) return;
    this.send({ cmd: 'stop' });
    expect(await this.worker.exited, this.worker.stderr()).toBe(0);
  }
}
