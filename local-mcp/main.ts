/**
 * The embedded MCP server as a process: `node --import tsx local-mcp/main.ts` speaks
 * MCP over stdio (what `MCP_CONFIG`'s `command` starts); `--http PORT` serves Streamable
 * HTTP on 127.0.0.1:PORT/mcp instead.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createLocalMcpServer, LocalMcpState, startLocalMcpHttp } from './server';

async function main(): Promise<void> {
  const i = process.argv.indexOf('--http');
  if (i >= 0) {
    const http = await startLocalMcpHttp({ port: Number(process.argv[i + 1] ?? 0) });
    process.stdout.write(`${http.url}\n`);
    const stop = () => void http.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return;
  }
  const server = createLocalMcpServer(new LocalMcpState());
  // The client closing stdin (its worker stopped or died) ends this process.
  process.stdin.once('end', () => process.exit(0));
  await server.connect(new StdioServerTransport());
}

main().catch((err: unknown) => {
  process.stderr.write(`local MCP server failed: ${String(err)}\n`);
  process.exit(1);
});
