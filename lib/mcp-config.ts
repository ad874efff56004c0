/**
 * `MCP_CONFIG` (docs/API.md "Tools from MCP servers"): a JSON file in the `mcpServers`
 * format MCP clients share, read once at boot by lib/config.ts. Each server is reached
 * over stdio (`command`) or Streamable HTTP (`url`), with this project's optional
 * `approval`, `retry`, `tools` and `timeoutS`. Headers and env values may hold secrets:
 * nothing here logs them, and errors name fields, never values.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** `auto` follows the tool's own MCP annotations; `always` / `never` override them. */
export type McpRule = 'auto' | 'always' | 'never';

export type McpTransportConfig =
  | { kind: 'stdio'; command: string; args: readonly string[]; env?: Readonly<Record<string, string>>; cwd?: string }
  | { kind: 'http'; url: string; headers: Readonly<Record<string, string>> };

export interface McpServerConfig {
  /** The key in `mcpServers`, made safe for tool names. */
  name: string;
  transport: McpTransportConfig;
  approval: McpRule;
  retry: McpRule;
  /** Only these tools of the server (their own names); absent = all. */
  tools?: readonly string[];
  /** Longest one call may take, in seconds. */
  timeoutS: number;
}

/** Default `timeoutS` of one call. */
export const DEFAULT_MCP_TIMEOUT_S = 600;

const rule = z.enum(['auto', 'always', 'never']).default('auto');
const common = {
  approval: rule,
  retry: rule,
  tools: z.array(z.string().min(1)).optional(),
  timeoutS: z.number().positive().max(86_400).default(DEFAULT_MCP_TIMEOUT_S),
};
const serverSchema = z.union([
  z.object({
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
    ...common,
  }),
  z.object({
    url: z.string().url(),
    headers: z.record(z.string(), z.string()).default({}),
    ...common,
  }),
]);
const fileSchema = z.object({ mcpServers: z.record(z.string().min(1), serverSchema) });

/** Characters outside `[A-Za-z0-9_-]` become `_` (the LLM's tool-name alphabet). */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** The name the LLM sees for `tool` of `server`: `<server>__<tool>`. */
export function mcpToolName(server: string, tool: string): string {
  return `${safeName(server)}__${safeName(tool)}`;
}

/** Parses an `mcpServers` document; throws an Error naming the bad field (never a value). */
export function parseMcpConfig(doc: unknown): McpServerConfig[] {
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`MCP_CONFIG: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return Object.entries(parsed.data.mcpServers).map(([name, s]) => {
    const transport: McpTransportConfig =
      'command' in s
        ? { kind: 'stdio', command: s.command, args: s.args, ...(s.env ? { env: s.env } : {}), ...(s.cwd ? { cwd: s.cwd } : {}) }
        : { kind: 'http', url: s.url, headers: s.headers };
    return {
      name: safeName(name),
      transport,
      approval: s.approval,
      retry: s.retry,
      ...(s.tools ? { tools: s.tools } : {}),
      timeoutS: s.timeoutS,
    };
  });
}

/** Reads `MCP_CONFIG`'s file (none configured: no servers). */
export function readMcpConfig(file: string | undefined): readonly McpServerConfig[] {
  if (!file) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`MCP_CONFIG: cannot read ${file} as JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return Object.freeze(parseMcpConfig(doc));
}

/** What a tool says about itself (MCP annotations), as the rules need it. */
export interface ToolHints {
  readOnly: boolean;
  idempotent: boolean;
}

/** Whether a call of this tool waits for the user's approval. */
export function needsApproval(server: Pick<McpServerConfig, 'approval'>, hints: ToolHints): boolean {
  if (server.approval === 'always') return true;
  if (server.approval === 'never') return false;
  return !hints.readOnly;
}

/** Whether a call interrupted by a worker's death may run again. */
export function mayRetry(server: Pick<McpServerConfig, 'retry'>, hints: ToolHints): boolean {
  if (server.retry === 'always') return true;
  if (server.retry === 'never') return false;
  return hints.readOnly || hints.idempotent;
}
