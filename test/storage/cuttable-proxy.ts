/** A TCP forwarder to a server (the S3 gateway) that a test can cut, as if the server had stopped, without touching the shared server. */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface CuttableProxy {
  endpoint: string;
  /** Destroys every open connection now. */
  cut(): void;
  /**
   * Cuts as soon as a request starting with `PUT ` and naming `match` arrives: half of that chunk
   * reaches the server (mid-upload), every connection is destroyed, and new ones are refused
   * until `heal()`. Resolves once it has cut.
   */
  cutOnPut(match: string): Promise<void>;
  /** Forwards new connections again. */
  heal(): void;
  close(): Promise<void>;
}

export async function startCuttableProxy(target: URL): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  let match: string | undefined;
  let refusing = false;
  let onCut: (() => void) | undefined;
  const cut = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  const server: Server = createServer((downstream) => {
    if (refusing) return void downstream.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(downstream).add(upstream);
    downstream.on('data', (chunk: Buffer) => {
      const head = match === undefined ? '' : chunk.toString('latin1', 0, Math.min(chunk.length, 2048));
      if (match !== undefined && head.startsWith('PUT ') && head.includes(match)) {
        upstream.write(chunk.subarray(0, chunk.length >> 1));
        refusing = true;
        match = undefined;
        cut();
        onCut?.();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(downstream);
    const drop = () => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut,
    cutOnPut(m) {
      match = m;
      return new Promise((resolve) => (onCut = resolve));
    },
    heal() {
      refusing = false;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
