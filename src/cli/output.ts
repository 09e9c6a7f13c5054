/**
 * How the command writes: JSON for scripts, aligned tables for people, colours only on a terminal
 * and never with NO_COLOR (https://no-color.org: present and not empty).
 */
import type { Writable } from 'node:stream';

/** Where a command writes and how. */
export interface Output {
  readonly json: boolean;
  readonly color: boolean;
  /** Whether it is a terminal (a `--watch` view is then redrawn in place). */
  readonly tty: boolean;
  /** Writes text as given (callers end their lines). */
  write(text: string): void;
  /** Writes a value as one JSON document (pretty) or, while watching, one line per document. */
  writeJson(value: unknown, compact?: boolean): void;
}

type Style = (text: string) => string;

/** The styles a table cell or a line may use; identity functions when colours are off. */
export interface Styles {
  bold: Style;
  dim: Style;
  green: Style;
  red: Style;
  yellow: Style;
  cyan: Style;
}

const ESC = '\u001b[';
const paint = (open: number, close: number): Style => (text) => `${ESC}${open}m${text}${ESC}${close}m`;
const plain: Style = (text) => text;
const PLAIN_STYLES: Styles = { bold: plain, dim: plain, green: plain, red: plain, yellow: plain, cyan: plain };
const ANSI_STYLES: Styles = { bold: paint(1, 22), dim: paint(2, 22), green: paint(32, 39), red: paint(31, 39), yellow: paint(33, 39), cyan: paint(36, 39) };

/** Whether to colour a stream: a terminal, and NO_COLOR absent or empty. */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

export function styles(color: boolean): Styles {
  return color ? ANSI_STYLES : PLAIN_STYLES;
}

export function createOutput(stream: Writable & { isTTY?: boolean }, options: { json: boolean; env: NodeJS.ProcessEnv }): Output {
  const color = !options.json && useColor(stream, options.env);
  return {
    json: options.json,
    color,
    tty: stream.isTTY === true,
    write: (text) => {
      stream.write(text);
    },
    writeJson: (value, compact = false) => {
      stream.write(`${JSON.stringify(value, null, compact ? undefined : 2)}\n`);
    },
  };
}

// Colour codes take no room on screen (built from ESC: a control character in a literal regex is a lint error).
const ANSI = new RegExp(`${ESC.replace('[', '\\[')}[0-9;?]*[A-Za-z]`, 'g');
export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/**
 * An aligned table: a bold header row, then the rows, columns separated by two spaces; the last
 * column is not padded. A table without rows prints `(none)` under the header.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], style: Styles): string {
  const widths = headers.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: readonly string[], s: Style = plain) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? s(cell) : s(cell) + ' '.repeat((widths[i] as number) - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  const body = rows.length === 0 ? [style.dim('(none)')] : rows.map((r) => line(r));
  return `${[line(headers, style.bold), ...body].join('\n')}\n`;
}

/** `key  value` lines with the keys aligned, for one record. */
export function fields(entries: ReadonlyArray<readonly [string, string]>, style: Styles): string {
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${style.bold(k.padEnd(width))}  ${v}`).join('\n') + '\n';
}

/** 1234567 → `1.2 MB`: bytes in SI units, as `ls -h --si` prints them. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A share in [0, 1] as a percentage with at most two decimals: 0.0123 → `1.23 %`. */
export function formatPercent(share: number): string {
  return `${Number((share * 100).toFixed(2))} %`;
}

/** Milliseconds with a precision that suits their size: 0.042 → `0.042 ms`, 12.345 → `12.3 ms`. */
export function formatMs(ms: number): string {
  return `${Number(ms.toPrecision(3))} ms`;
}

/** An age in ms as `4s`, `3m12s`, `2h05m`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `{ a: 'x', b: 'y' }` → `a=x b=y`; `-` when empty. */
export function formatPairs(record: Record<string, unknown> | null | undefined): string {
  const entries = Object.entries(record ?? {});
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
}
