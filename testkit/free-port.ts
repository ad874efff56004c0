/** Ports for the processes a test starts on its own (Prometheus, Redis, Temporal, Postgres...). */
import net from 'node:net';

/** A TCP port nothing listens on right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
