/**
 * A storage wrapper that can hold one write at a gate: `hold(match)` makes the next `put` whose key
 * matches wait until `release()`, so a test can look at every replica while a save is in flight.
 * Everything else passes straight through to the real adapter (conditional reads included).
 */
import { type ConditionalRead, hasConditionalRead, type PutCondition, type StorageAdapter } from '../../src/index.js';

export interface HeldWrite {
  /** Resolves once a matching write has reached the gate (and waits there). */
  reached: Promise<void>;
  /** Lets it through to the adapter. */
  release(): void;
}

export class HeldWrites implements StorageAdapter {
  readonly inner: StorageAdapter;
  #gate: { match: (key: string) => boolean; arrived: () => void; open: Promise<void> } | undefined;
  getIfChanged?: ConditionalRead['getIfChanged'];

  constructor(inner: StorageAdapter) {
    this.inner = inner;
    if (hasConditionalRead(inner)) this.getIfChanged = (key, etag) => inner.getIfChanged(key, etag);
  }

  /** Holds the next `put` whose key `match`es (one at a time). */
  hold(match: (key: string) => boolean): HeldWrite {
    let arrived!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const open = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#gate = { match, arrived, open };
    return { reached, release };
  }

  get: StorageAdapter['get'] = (key) => this.inner.get(key);
  delete: StorageAdapter['delete'] = (key, cond) => this.inner.delete(key, cond);
  list: StorageAdapter['list'] = (prefix) => this.inner.list(prefix);

  async put(key: string, data: Uint8Array, cond?: PutCondition): Promise<{ etag: string }> {
    const gate = this.#gate;
    if (gate?.match(key)) {
      this.#gate = undefined;
      gate.arrived();
      await gate.open;
    }
    return this.inner.put(key, data, cond);
  }
}
