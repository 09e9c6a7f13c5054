import { describe, expect, it } from 'vitest';
import { BanditPolicy, ValidationError } from '../../src/index.js';
import { sampleBeta, sampleGamma, sampleStandardNormal } from '../../src/routing/sampling.js';

const ARMS = [
  { variant: 'a', version: 1 },
  { variant: 'b', version: 2 },
];

/**
 * A random source that gives up after `limit` calls, so a sampler that would loop for ever on a
 * broken source fails this test instead of hanging the runner.
 */
function bounded(random: () => number, limit = 200_000): () => number {
  let calls = 0;
  return () => {
    if (++calls > limit) throw new Error(`random called more than ${limit} times: an unbounded sampling loop`);
    return random();
  };
}

describe('sampling with a broken random source', () => {
  const broken: Array<[string, () => number]> = [
    ['constant 0.5', () => 0.5],
    ['constant 0.999', () => 0.999],
    ['constant 0', () => 0],
    ['NaN', () => Number.NaN],
    ['1', () => 1],
    ['-0.1', () => -0.1],
    ['a string', () => '0.3' as unknown as number],
  ];

  it.each(broken)('random returning %s is a ValidationError from every sampler and from Thompson routing, never a hang', (_label, source) => {
    expect(() => sampleStandardNormal(bounded(source))).toThrow(ValidationError);
    expect(() => sampleGamma(2.5, bounded(source))).toThrow(ValidationError);
    expect(() => sampleGamma(0.3, bounded(source))).toThrow(ValidationError);
    expect(() => sampleBeta(3, 4, bounded(source))).toThrow(ValidationError);
    const bandit = new BanditPolicy({ arms: ARMS, random: bounded(source), replicaId: 'r1' });
    // A constant 0 is a legal draw that lands in the exploration floor, so routing never samples.
    if (_label === 'constant 0') expect(bandit.route().variant).toBe('a');
    else expect(() => bandit.route()).toThrow(/random (must return a number in \[0, 1\)|produced no accepted)/);
    const greedy = new BanditPolicy({ arms: ARMS, algorithm: 'epsilon-greedy', random: bounded(source), replicaId: 'r1' });
    if (['NaN', '1', '-0.1', 'a string'].includes(_label)) expect(() => greedy.route()).toThrow(ValidationError);
  });
});

describe('BanditPolicy.merge and restore refuse counts that overflow', () => {
  const other = (replicaId: string, successes: number) => {
    const bandit = new BanditPolicy({ arms: ARMS, replicaId });
    const snapshot = bandit.snapshot();
    snapshot.counts[replicaId] = { a: [successes, 0], b: [1, 1] };
    return snapshot;
  };

  it('two replicas each reporting 1.7e308 successes: the second merge is refused, state unchanged, routing keeps working', () => {
    const bandit = new BanditPolicy({ arms: ARMS, replicaId: 'me' });
    expect(() => bandit.merge(other('r1', 1.7e308))).toThrow(ValidationError); // one alone is past 2^53 already
    bandit.merge(other('r1', 2 ** 52));
    const before = bandit.snapshot();
    expect(() => bandit.merge(other('r2', 2 ** 52 + 2))).toThrow(/more than 2\^53; nothing was changed/);
    expect(bandit.snapshot()).toEqual(before);
    for (let i = 0; i < 1000; i++) expect(['a', 'b']).toContain(bandit.route().variant);
    bandit.reward('a', true); // its own row is still the one it counts in
    expect(bandit.snapshot().counts.me!.a).toEqual([1, 0]);
  });

  it('restore refuses the same, and counts of an arm named like an Object.prototype member are its own', () => {
    const bandit = new BanditPolicy({ arms: ARMS, replicaId: 'me' });
    const snapshot = other('r1', 2 ** 52);
    snapshot.counts.r2 = { a: [2 ** 52 + 2, 0] };
    expect(() => bandit.restore(snapshot)).toThrow(ValidationError);
    const named = new BanditPolicy({ arms: [{ variant: 'constructor', version: 1 }, { variant: 'b', version: 2 }], replicaId: 'me' });
    const state = named.snapshot();
    state.counts.r1 = { b: [3, 1] };
    named.restore(state);
    expect(named.snapshot().counts.r1).toEqual({ constructor: [0, 0], b: [3, 1] });
  });
});
