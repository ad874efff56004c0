/**
 * The MCP servers of one tools worker process (docs/ARCHITECTURE.md "MCP clients live in
 * the tools worker"): one {@link McpConnection} per configured server, each publishing
 * its status and tools to the catalog on every change and every 10 s (so the catalog
 * forgets a worker that died), and pinging its server as often.
 */
import type { Logger } from '../../lib/logger';
import type { McpCatalog } from './catalog';
import { McpConnection, PING_INTERVAL_MS } from './connection';

export class McpHub {
  private readonly connections = new Map<string, McpConnection>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly catalog: McpCatalog,
    private readonly logger: Logger,
  ) {
    for (const server of catalog.servers) {
      this.connections.set(server.name, new McpConnection(server, (s) => this.publish(s), logger));
    }
  }

  private publish(status: Parameters<McpCatalog['publish']>[0]): void {
    this.catalog.publish(status).catch((err: unknown) =>
      this.logger.warn('could not publish MCP server status', { server: status.name, err }),
    );
  }

  /** Connects every server in the background. */
  start(): this {
    for (const c of this.connections.values()) c.start();
    this.timer = setInterval(() => {
      for (const c of this.connections.values()) {
        this.publish(c.status);
        void c.ping();
      }
    }, PING_INTERVAL_MS);
    return this;
  }

  /** The connection of a configured server. */
  connection(server: string): McpConnection | undefined {
    return this.connections.get(server);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.connections.values()].map((c) => c.close()));
  }
}
