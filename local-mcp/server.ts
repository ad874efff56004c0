/**
 * The embedded MCP server: a small MCP server that ships with the project, like the
 * embedded LLM (local-llm/), so the MCP client, approvals and durable tool calls can be
 * used and tested with no other server. Built on the official SDK's `McpServer`, spoken
 * to over stdio (`local-mcp/main.ts --stdio`, a child of the tools worker) or Streamable
 * HTTP ({@link startLocalMcpHttp}).
 *
 * Its tools cover the cases a real server brings:
 * - `slow_count {seconds}`: read-only and slow; reports progress every 250 ms (with a
 *   total), honours MCP cancellation.
 * - `lookup {key}`: read-only and fast.
 * - `send_note {to, text, delayMs?}`: acts on the world (not read-only, not
 *   idempotent); counts its calls per `to`, so tests can see "exactly once".
 * - `fail {message}`: answers `isError: true`.
 * - `big {bytes}`: a text result of that many bytes (a result too large to keep).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** What the server's acting tool has done: calls per recipient (tests read it). */
export class LocalMcpState {
  readonly notes = new Map<string, number>();
  /** Every tool call received, by tool name (cancelled and failed ones included). */
  readonly calls = new Map<string, number>();
  /** Calls the client cancelled (MCP `notifications/cancelled`) while they ran. */
  cancelled = 0;

  count(tool: string): number {
    return this.calls.get(tool) ?? 0;
  }

  noted(to: string): number {
    return this.notes.get(to) ?? 0;
  }
}

const PROGRESS_INTERVAL_MS = 250;
/** Largest `big` result (bytes): past the client's own limit, to test it. */
const MAX_BIG_BYTES = 20 * 1024 * 1024;

function text(t: string) {
  return { content: [{ type: 'text' as const, text: t }] };
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('cancelled'));
    // The listener goes when the sleep ends: `slow_count` sleeps many times on one signal.
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('cancelled'));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Builds the server with its tools over `state` (one per connection, shared state). */
export function createLocalMcpServer(state: LocalMcpState): McpServer {
  const server = new McpServer(
    { name: 'durable-chat-local-mcp', version: '1.0.0' },
    { capabilities: { tools: { listChanged: true } } },
  );
  const counted = (tool: string) => state.calls.set(tool, state.count(tool) + 1);

  server.registerTool(
    'slow_count',
    {
      description: 'Counts slowly for the given number of seconds, reporting progress. Read-only.',
      inputSchema: { seconds: z.number().min(0).max(600) },
      annotations: { readOnlyHint: true },
    },
    async ({ seconds }, extra) => {
      counted('slow_count');
      const token = extra._meta?.progressToken;
      const steps = Math.max(1, Math.round((seconds * 1000) / PROGRESS_INTERVAL_MS));
      for (let i = 1; i <= steps; i++) {
        try {
          await sleep((seconds * 1000) / steps, extra.signal);
        } catch (err) {
          state.cancelled++;
          throw err;
        }
        if (token !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: steps, message: `counted ${i} of ${steps}` },
          });
        }
      }
      return text(`counted for ${seconds} s`);
    },
  );

  server.registerTool(
    'lookup',
    {
      description: 'Looks a key up in a small fixed table. Read-only.',
      inputSchema: { key: z.string().min(1).max(100) },
      annotations: { readOnlyHint: true },
    },
    ({ key }) => {
      counted('lookup');
      return { ...text(`value of ${key}`), structuredContent: { key, value: `value of ${key}` } };
    },
  );

  server.registerTool(
    'send_note',
    {
      description: 'Sends a note to someone. Acts on the world: needs the user\'s approval.',
      inputSchema: {
        to: z.string().min(1).max(100),
        text: z.string().max(10_000),
        delayMs: z.number().int().min(0).max(600_000).optional(),
      },
      annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false },
    },
    async ({ to, delayMs }, extra) => {
      counted('send_note');
      state.notes.set(to, state.noted(to) + 1);
      if (delayMs) await sleep(delayMs, extra.signal);
      return text(`note sent to ${to} (${state.noted(to)} so far)`);
    },
  );

  server.registerTool(
    'fail',
    {
      description: 'Always fails with the given message. Read-only.',
      inputSchema: { message: z.string().max(1000).optional() },
      annotations: { readOnlyHint: true },
    },
    ({ message }) => {
      counted('fail');
      return { ...text(message ?? 'failed on purpose'), isError: true };
    },
  );

  server.registerTool(
    'big',
    {
      description: 'Answers a text of the given size in bytes. Read-only.',
      inputSchema: { bytes: z.number().int().min(0).max(MAX_BIG_BYTES) },
      annotations: { readOnlyHint: true },
    },
    ({ bytes }) => {
      counted('big');
      return text('x'.repeat(bytes));
    },
  );

  return server;
}

export interface LocalMcpHttp {
  url: string;
  state: LocalMcpState;
  close(): Promise<void>;
}

/**
 * Serves the embedded MCP server over Streamable HTTP at `http://host:port/mcp`, one
 * session (server + transport) per client, as the SDK's examples do.
 */
export async function startLocalMcpHttp(
  opts: { port?: number; host?: string; state?: LocalMcpState } = {},
): Promise<LocalMcpHttp> {
  const state = opts.state ?? new LocalMcpState();
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!req.url?.startsWith('/mcp')) {
      res.writeHead(404).end();
      return;
    }
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (typeof id === 'string') {
        // An unknown session (e.g. this server restarted): the client must start over.
        res.writeHead(404, { 'Content-Type': 'application/json' }).end(
          JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }),
        );
        return;
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => void sessions.set(sid, created),
      });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await createLocalMcpServer(state).connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    state,
    async close() {
      for (const t of sessions.values()) await t.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
