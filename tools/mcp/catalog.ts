/**
 * The MCP tool catalog in Redis: what each configured server offers and whether it is
 * up, as the tools workers (which hold the connections, tools/mcp/hub.ts) last saw it.
 * The chat side reads it to offer tools to the LLM and to check a call before it runs
 * (activities/llm.ts, activities/tools.ts), the API for `GET /v1/tools`: none of them
 * connects to a server itself.
 *
 * One key per server, scoped by the tools task queue (one deployment, or one test
 * system), written with a TTL that the workers keep renewing: when no tools worker is
 * left, its servers read as down.
 */
import type { Redis } from 'ioredis';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import type { JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { mayRetry, needsApproval, type McpServerConfig, type ToolHints } from '../../lib/mcp-config';

/** One tool of a server, as the catalog keeps it. */
export interface McpToolEntry extends ToolHints {
  /** The name the LLM sees (`<server>__<tool>`). */
  name: string;
  /** The server's own name for it. */
  tool: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface McpServerStatus {
  name: string;
  status: 'up' | 'down';
  /** Why it is down (no secrets: the connection's error message). */
  error?: string;
  /** Its tools when last listed (kept while down, so calls get a clear answer). */
  tools: McpToolEntry[];
}

/** How long a published status lives without being renewed (workers renew every 10 s). */
export const CATALOG_TTL_S = 30;

/** A call of an MCP tool, resolved against the catalog. */
export interface McpToolRef {
  server: McpServerConfig;
  status: McpServerStatus;
  tool: McpToolEntry;
}

/** The catalog of one deployment's servers. */
export class McpCatalog {
  private readonly validator = new AjvJsonSchemaValidator();
  private readonly compiled = new Map<string, JsonSchemaValidator<unknown>>();

  constructor(
    private readonly redis: Redis,
    /** The tools task queue: two systems on one Redis never see each other's servers. */
    private readonly scope: string,
    readonly servers: readonly McpServerConfig[],
  ) {}

  private key(server: string): string {
    return `mcp:{${this.scope}}:server:${server}`;
  }

  /** Records a server's status (a tools worker, on every change and every 10 s). */
  async publish(status: McpServerStatus): Promise<void> {
    await this.redis.set(this.key(status.name), JSON.stringify(status), 'EX', CATALOG_TTL_S);
  }

  /** Every configured server's last status; one nobody published reads as down. */
  async statuses(): Promise<McpServerStatus[]> {
    if (this.servers.length === 0) return [];
    const raw = await this.redis.mget(...this.servers.map((s) => this.key(s.name)));
    return this.servers.map((s, i) => {
      const text = raw[i];
      if (!text) return { name: s.name, status: 'down', error: 'no tools worker has reached it', tools: [] };
      return JSON.parse(text) as McpServerStatus;
    });
  }

  /** The tools the LLM may call now: those of servers that are up. */
  async liveTools(): Promise<McpToolEntry[]> {
    return (await this.statuses()).filter((s) => s.status === 'up').flatMap((s) => s.tools);
  }

  /** Resolves an LLM tool name (`<server>__<tool>`); undefined when no server has it. */
  async find(name: string): Promise<McpToolRef | undefined> {
    const cut = name.indexOf('__');
    if (cut <= 0) return undefined;
    const server = this.servers.find((s) => s.name === name.slice(0, cut));
    if (!server) return undefined;
    const text = await this.redis.get(this.key(server.name));
    if (!text) return undefined;
    const status = JSON.parse(text) as McpServerStatus;
    const tool = status.tools.find((t) => t.name === name);
    return tool ? { server, status, tool } : undefined;
  }

  /** Whether the call needs the user's yes, and whether a killed call may run again. */
  policy(ref: McpToolRef): { approval: boolean; retryable: boolean } {
    return { approval: needsApproval(ref.server, ref.tool), retryable: mayRetry(ref.server, ref.tool) };
  }

  /** Checks arguments against the tool's input schema: undefined when they fit, else why not. */
  check(ref: McpToolRef, args: unknown): string | undefined {
    const key = `${ref.tool.name}\n${JSON.stringify(ref.tool.inputSchema)}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      try {
        validate = this.validator.getValidator<unknown>(ref.tool.inputSchema);
      } catch {
        return `the server's input schema for ${ref.tool.name} is not valid JSON Schema`;
      }
      if (this.compiled.size > 500) this.compiled.clear();
      this.compiled.set(key, validate);
    }
    const verdict = validate(args);
    return verdict.valid ? undefined : verdict.errorMessage;
  }
}
