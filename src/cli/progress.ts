/**
 * The progress bar of `register`: the file is read through a counting stream that redraws one
 * stderr line at each whole percent, only on a terminal and only for files large enough to take a
 * moment; the line is cleared when the read ends.
 */
import { createReadStream } from 'node:fs';
import { formatBytes } from './output.js';

/** Files below this size register in a blink: no bar. */
export const PROGRESS_MIN_BYTES = 1024 * 1024;
const WIDTH = 30;

/** One frame of the bar (pure, so its shape is tested without a terminal). */
export function progressLine(done: number, total: number): string {
  const share = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(share * WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)} %  ${formatBytes(done)} / ${formatBytes(total)}`;
}

/** The file's bytes, drawing the bar on `err` as they are read. */
export async function* readWithProgress(file: string, total: number, err: { write(text: string): void }): AsyncGenerator<Uint8Array> {
  let done = 0;
  let drawn = -1;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
      done += (chunk as Buffer).length;
      const percent = Math.floor((done / total) * 100);
      if (percent !== drawn) {
        drawn = percent;
        err.write(`\r${progressLine(done, total)}`);
      }
      yield chunk as Buffer;
    }
  } finally {
    err.write('\r\u001b[K');
  }
}
