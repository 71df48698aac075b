import { createServer } from 'node:net';

/** A TCP port free on loopback right now. (Used by the specs and the benchmarks; test/global-setup.ts keeps its own copy, as it runs outside Jest's module system.) */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
