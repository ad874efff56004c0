/**
 * A TCP proxy in front of the API for tests of network trouble: `drop()` cuts every
 * open connection (what a server restart or a flaky network does to a WebSocket),
 * `setOffline(true)` also refuses new ones until `setOffline(false)`, and `retarget()`
 * points new connections at another API process (a restarted one).
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Connections that opened through the proxy so far. */
  readonly accepted: number;
  drop(): void;
  setOffline(offline: boolean): void;
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let offline = false;
  let accepted = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (offline) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = net.connect(target, '127.0.0.1');
    const pair = [client, upstream];
    for (const s of pair) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        open.delete(s);
        for (const other of pair) other.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const drop = () => {
    for (const s of open) s.destroy();
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    drop,
    setOffline(value) {
      offline = value;
      if (value) drop();
    },
    retarget(port) {
      target = port;
    },
    async close() {
      drop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
