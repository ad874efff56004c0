/**
 * `GET /v1/tools` (docs/API.md "Tools from MCP servers"): every tool the LLM may be
 * offered, built-in and from MCP servers (as the tools workers last published them to
 * the catalog), and every configured server with its status.
 */
import express from 'express';
import { builtinTools } from '../../tools/registry';
import type { ApiDeps } from '../deps';

/** The tools route, mounted on the authenticated `/v1` router. */
export function toolsRouter(deps: ApiDeps): express.Router {
  const router = express.Router();

  router.get('/tools', async (_req, res) => {
    const statuses = await deps.mcp.statuses();
    const mcpTools = statuses.flatMap((s) =>
      s.tools.map((t) => {
        const ref = { server: deps.mcp.servers.find((c) => c.name === s.name)!, status: s, tool: t };
        return {
          name: t.name,
          description: t.description,
          source: 'mcp' as const,
          server: s.name,
          approval: deps.mcp.policy(ref).approval ? ('required' as const) : ('none' as const),
          inputSchema: t.inputSchema,
        };
      }),
    );
    res.json({
      tools: [...builtinTools().map((t) => ({ ...t, source: 'builtin' as const, approval: 'none' as const })), ...mcpTools],
      servers: statuses.map((s) => ({
        name: s.name,
        status: s.status,
        tools: s.tools.map((t) => t.name),
      })),
    });
  });

  return router;
}
