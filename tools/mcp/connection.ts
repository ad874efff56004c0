/**
 * One MCP server as a tools worker holds it: an SDK `Client` over stdio (the server a
 * child process of this worker) or Streamable HTTP, kept connected: a server that is
 * down at start, dies, hangs or stops answering is marked down and reconnected with
 * backoff (a stdio server is started again), and nothing about it can throw into the
 * worker. Its tools are listed on connect and again when it says its list changed.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../lib/logger';
import { mcpToolName, type McpServerConfig } from '../../lib/mcp-config';
import type { McpServerStatus, McpToolEntry } from './catalog';

/** A connect (initialize + tools/list) slower than this counts as a failure. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Reconnect backoff: 0.5 s doubling to 15 s. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 15_000;
/** A live server is pinged this often; no answer within the timeout marks it down. */
export const PING_INTERVAL_MS = 10_000;
const PING_TIMEOUT_MS = 5_000;

/** The error of a call to a server that is not connected. */
export class McpServerDown extends Error {}

function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.slice(0, 300);
}

/** Keeps one server connected and answers its calls. */
export class McpConnection {
  private client: Client | undefined;
  private tools: McpToolEntry[] = [];
  private error = 'connecting';
  private stopped = false;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    readonly config: McpServerConfig,
    private readonly onChange: (status: McpServerStatus) => void,
    private readonly logger: Logger,
  ) {}

  get status(): McpServerStatus {
    return {
      name: this.config.name,
      status: this.client ? 'up' : 'down',
      ...(this.client ? {} : { error: this.error }),
      tools: this.tools,
    };
  }

  /** Connects in the background; never throws. */
  start(): void {
    void this.connect();
  }

  private transport(): Transport {
    const t = this.config.transport;
    if (t.kind === 'http') {
      return new StreamableHTTPClientTransport(new URL(t.url), { requestInit: { headers: { ...t.headers } } });
    }
    return new StdioClientTransport({
      command: t.command,
      args: [...t.args],
      env: { ...getDefaultEnvironment(), ...t.env },
      ...(t.cwd ? { cwd: t.cwd } : {}),
      // The server's stderr is its own log: not mixed into this worker's.
      stderr: 'ignore',
    });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client(
      { name: 'durable-chat', version: '1.2.0' },
      {
        listChanged: {
          tools: {
            onChanged: (err, tools) => {
              if (this.client !== client) return;
              if (err) this.logger.warn('MCP tools re-list failed', { server: this.config.name, err: messageOf(err) });
              else if (tools) this.setTools(tools);
            },
          },
        },
      },
    );
    client.onerror = (err) => this.logger.debug('MCP transport error', { server: this.config.name, err: messageOf(err) });
    client.onclose = () => {
      if (this.client === client) this.down('the connection closed');
    };
    try {
      await client.connect(this.transport(), { timeout: CONNECT_TIMEOUT_MS });
      const listed = await client.listTools(undefined, { timeout: CONNECT_TIMEOUT_MS });
      if (this.stopped) return void (await client.close());
      this.client = client;
      this.failures = 0;
      this.logger.info('MCP server connected', { server: this.config.name, tools: listed.tools.length });
      this.setTools(listed.tools);
    } catch (err) {
      await client.close().catch(() => undefined);
      this.down(messageOf(err));
    }
  }

  private setTools(tools: readonly Tool[]): void {
    const only = this.config.tools;
    this.tools = tools
      .filter((t) => !only || only.includes(t.name))
      .map((t) => ({
        name: mcpToolName(this.config.name, t.name),
        tool: t.name,
        description: (t.description ?? t.title ?? t.name).slice(0, 2000),
        inputSchema: t.inputSchema,
        readOnly: t.annotations?.readOnlyHint === true,
        idempotent: t.annotations?.idempotentHint === true,
      }));
    this.onChange(this.status);
  }

  /** Marks the server down and schedules a reconnect. */
  private down(reason: string): void {
    const client = this.client;
    this.client = undefined;
    this.error = reason;
    if (client) void client.close().catch(() => undefined);
    this.onChange(this.status);
    if (this.stopped || this.retry) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.failures++);
    this.logger.warn('MCP server down', { server: this.config.name, reason, retryInMs: delay });
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, delay);
  }

  /** Pings a connected server; one that does not answer is marked down (and reconnected). */
  async ping(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      await client.ping({ timeout: PING_TIMEOUT_MS });
    } catch (err) {
      if (this.client === client) this.down(`no answer to ping (${messageOf(err)})`);
    }
  }

  /**
   * Calls one of the server's tools. Throws {@link McpServerDown} when it is not
   * connected (nothing was sent); other errors come from the SDK (timeout, cancelled,
   * the connection lost mid-call: then the server is marked down too).
   */
  async call(tool: string, args: Record<string, unknown>, options: RequestOptions): Promise<CallToolResult> {
    const client = this.client;
    if (!client) throw new McpServerDown(`the MCP server "${this.config.name}" is unavailable: ${this.error}`);
    try {
      return (await client.callTool({ name: tool, arguments: args }, undefined, options)) as CallToolResult;
    } catch (err) {
      // A transport failure (not an answer of the server): check the connection at once.
      if (!options.signal?.aborted && !(err instanceof Error && 'code' in err)) void this.ping();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => undefined);
  }
}
