import { describe, expect, it } from 'vitest';
import { AbortedError, FunctionPredictor, InvalidStateError, ValidationError } from '../../src/index.js';

describe('FunctionPredictor', () => {
  it('passes the input as given and the call options to the function', async () => {
    const seen: unknown[] = [];
    const controller = new AbortController();
    const rules = new FunctionPredictor(async (input: { amount: number }, options) => {
      seen.push(options?.signal);
      return { flagged: input.amount > 10_000 };
    });
    await expect(rules.predict({ amount: 12_000 }, { signal: controller.signal })).resolves.toEqual({ flagged: true });
    await expect(rules.predict({ amount: 5 })).resolves.toEqual({ flagged: false });
    expect(seen).toEqual([controller.signal, undefined]);
    expect(rules.signature).toBeUndefined();
  });

  it("lets the function's own errors through unchanged", async () => {
    const boom = new RangeError('boom');
    const failing = new FunctionPredictor((_input: number) => {
      throw boom;
    });
    await expect(failing.predict(1)).rejects.toBe(boom);
  });

  it('refuses an aborted signal and calls after dispose; runs the dispose option once', async () => {
    let disposed = 0;
    const p = new FunctionPredictor((x: number) => x * 2, {
      signature: { inputs: [], outputs: [] },
      dispose: () => {
        disposed++;
      },
    });
    const controller = new AbortController();
    controller.abort();
    await expect(p.predict(1, { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    await expect(p.predict(2)).resolves.toBe(4);
    await Promise.all([p.dispose(), p.dispose()]);
    expect(disposed).toBe(1);
    await expect(p.predict(2)).rejects.toBeInstanceOf(InvalidStateError);
  });

  it('checks its arguments, naming them', () => {
    expect(() => new FunctionPredictor(42 as never)).toThrow(/fn must be a function, got number 42/);
    expect(() => new FunctionPredictor(() => 1, { signature: {} as never })).toThrow(/signature must be \{ inputs, outputs \}, got object Object/);
    expect(() => new FunctionPredictor(() => 1, { dispose: 'no' as never })).toThrow(ValidationError);
  });
});
