/** The pure pieces of the command's output: tables, colours, numbers, the progress bar. */
import { describe, expect, it } from 'vitest';
import { formatAge, formatBytes, formatMs, formatPercent, styles, table, useColor, visibleLength } from '../../src/cli/output.js';
import { progressLine } from '../../src/cli/progress.js';
import { parseLineage } from '../../src/cli/registry-commands.js';
import { plain } from './cli-helpers.js';

describe('output', () => {
  it('aligns table columns by what shows on screen, colour codes aside', () => {
    const s = styles(true);
    const coloured = table(['A', 'BB'], [[s.green('x'), '1'], ['long-cell', '22']], s);
    expect(plain(coloured)).toBe(table(['A', 'BB'], [['x', '1'], ['long-cell', '22']], styles(false)));
    expect(plain(coloured)).toBe('A          BB\nx          1\nlong-cell  22\n');
    expect(visibleLength(s.red('abc'))).toBe(3);
    expect(table(['X'], [], styles(false))).toBe('X\n(none)\n');
  });

  it('colours only a terminal, and never with a non-empty NO_COLOR', () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({}, {})).toBe(false);
  });

  it('formats sizes, shares, latencies and ages', () => {
    expect([formatBytes(999), formatBytes(1234), formatBytes(12_345_678), formatBytes(2e12)]).toEqual(['999 B', '1.2 kB', '12 MB', '2.0 TB']);
    expect([formatPercent(0.0125), formatPercent(1), formatPercent(1 / 3)]).toEqual(['1.25 %', '100 %', '33.33 %']);
    expect([formatMs(0.04213), formatMs(12.345), formatMs(1234.5)]).toEqual(['0.0421 ms', '12.3 ms', '1230 ms']);
    expect([formatAge(4_400), formatAge(192_000), formatAge(7_500_000)]).toEqual(['4s', '3m12s', '2h05m']);
  });

  it('draws the progress bar', () => {
    expect(progressLine(0, 2_000_000)).toBe(`[${'.'.repeat(30)}]   0 %  0 B / 2.0 MB`);
    expect(progressLine(1_000_000, 2_000_000)).toBe(`[${'#'.repeat(15)}${'.'.repeat(15)}]  50 %  1.0 MB / 2.0 MB`);
    expect(progressLine(2_000_000, 2_000_000)).toBe(`[${'#'.repeat(30)}] 100 %  2.0 MB / 2.0 MB`);
  });

  it('reads --lineage pairs into a lineage record', () => {
    expect(parseLineage([['data', 's3://b/iris.csv'], ['params.C', '1'], ['params.solver', 'lbfgs'], ['params.fit', 'true'], ['parent', 'iris@3'], ['environment.sklearn', '1.5.2']])).toEqual({
      data: 's3://b/iris.csv',
      params: { C: 1, solver: 'lbfgs', fit: true },
      parent: { name: 'iris', version: 3 },
      environment: { sklearn: '1.5.2' },
    });
    expect(() => parseLineage([['parent', 'iris']])).toThrow(/--lineage parent must be <model>:<version>/);
    expect(() => parseLineage([['params.', 'x']])).toThrow(/--lineage key must be/);
  });
});
