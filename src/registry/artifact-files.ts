/**
 * Artifacts as files: writing a path or a stream to a staging file while hashing it (one pass,
 * a chunk in memory at a time), and hashing a stored file by streaming, so models of gigabytes
 * are never held whole in memory by the registry.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { NotFoundError, ValidationError, describeValue } from '../errors.js';

/** A file written by {@link stageArtifact}: its path, sha256 (hex) and size in bytes. @internal */
export interface StagedArtifact {
  file: string;
  sha256: string;
  size: number;
}

const CHUNK = 4 * 1024 * 1024;

/** Whether `value` can be iterated with `for await` (a Node stream, a web `ReadableStream`, a generator). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * Copies `source` (a file path or an iterable, sync or async, of `Uint8Array` chunks) into a new file in
 * `dir`, hashing each chunk as it is written, and fsyncs it. The file is removed again if
 * anything fails.
 *
 * @throws NotFoundError when the source path does not exist; ValidationError when a chunk is not
 * a `Uint8Array` or the path cannot be read.
 * @internal
 */
export async function stageArtifact(source: string | AsyncIterable<unknown> | Iterable<unknown>, dir: string): Promise<StagedArtifact> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `.artifact-${randomBytes(12).toString('hex')}.partial`);
  const hash = createHash('sha256');
  let size = 0;
  const handle = await open(file, 'wx', 0o600);
  try {
    const chunks = typeof source === 'string' ? createReadStream(source, { highWaterMark: CHUNK }) : source;
    try {
      for await (const chunk of chunks) {
        if (!(chunk instanceof Uint8Array)) {
          throw new ValidationError(`artifact stream must yield Uint8Array chunks, got ${describeValue(chunk)}`);
        }
        hash.update(chunk);
        // writeFile on a handle writes the whole chunk at the current position.
        await handle.writeFile(chunk);
        size += chunk.length;
      }
    } catch (err) {
      if (typeof source !== 'string' || err instanceof ValidationError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`artifact file '${source}' does not exist`, { cause: err });
      throw new ValidationError(`artifact file '${source}' could not be read: ${(err as Error).message}`, { cause: err });
    }
    await handle.sync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(file, { force: true });
    throw err;
  }
  return { file, sha256: hash.digest('hex'), size };
}

/** The sha256 (hex) and size of a file, read by streaming. @internal */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}
