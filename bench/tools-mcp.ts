/**
 * Benchmark of tools from MCP servers (issue #17): what the durable path costs over
 * calling the server directly, how steadily a slow tool's progress reaches the client,
 * and what an idle tools worker pays in memory per connected stdio server.
 *
 * - Overhead: the embedded MCP server's read-only `lookup`, called through the chat
 *   (`[[tool:web__lookup ...]]` makes the embedded LLM send the call; timed from the
 *   `tool_call` frame to the `tool_result` frame at the WebSocket client) and directly
 *   with the SDK client, alternately, against the same server (Streamable HTTP, served
 *   by this process so its call counter is readable).
 * - Progress gap: `slow_count` (progress every 250 ms at the server), the largest
 *   silence between the client's `tool_call` / `tool_progress` frames.
 * - RSS: a tools worker process (testkit/tool-worker.ts) started idle with no MCP
 *   server and with N stdio servers (local-mcp/main.ts), VmRSS from /proc once every
 *   server is up in the catalog.
 *
 * `npx tsx bench/tools-mcp.ts` prints a table and the JSON result (the real local
 * stack: Temporal, Postgres, Redis; the embedded LLM and MCP server).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Redis } from 'ioredis';
import { startLocalMcpHttp } from '../local-mcp/server';
import { McpCatalog } from '../tools/mcp/catalog';
import { readMcpConfig } from '../lib/mcp-config';
import { eventually } from '../testkit/poll';
import { startSystem, uniqueTaskQueues, type TestSystem } from '../testkit/system';
import { ensureBundle, startToolWorker } from '../testkit/tool-worker-process';
import type { TestClient } from '../testkit/ws-client';
import { BENCH_ENV } from './bench-env';
import { percentile, round, runStandalone, type BenchResult } from './result';

const ROOT = path.resolve(__dirname, '..');
/** Calls per arm (through the chat, direct), alternated so load drift hits both. */
const CALLS = 40;
const SLOW_TASKS = 3;
const SLOW_SECONDS = 6;
/** Stdio servers of the RSS arm's second worker. */
const STDIO_SERVERS = 4;

/** Writes an MCP_CONFIG file; removed when the process exits. */
function mcpConfig(servers: Record<string, unknown>): string {
  const file = path.join(tmpdir(), `mcp-bench-${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  process.once('exit', () => rmSync(file, { force: true }));
  return file;
}

const stdioServer = {
  command: process.execPath,
  args: ['--import', 'tsx', path.join(ROOT, 'local-mcp/main.ts')],
  cwd: ROOT,
};

interface ToolRun {
  /** tool_call frame -> tool_result frame at the client, ms. */
  toolMs: number;
  /** Largest gap between tool_call / tool_progress frames, ms. */
  largestGap: number;
  progressFrames: number;
  ok: boolean;
}

/** Sends one tool directive and times its frames at the client, until the request ends. */
function runTool(client: TestClient, sessionId: string, directive: string): Promise<ToolRun> {
  const requestId = randomUUID();
  let called: number | undefined;
  let last: number | undefined;
  let largestGap = 0;
  let progressFrames = 0;
  let toolMs = NaN;
  let ok = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${directive} timed out`)), 120_000);
    const onMessage = (data: unknown) => {
      const now = performance.now();
      const f = JSON.parse(Buffer.from(data as ArrayBuffer).toString('utf8')) as Record<string, unknown>;
      if (f.requestId !== requestId) return;
      if (f.type === 'tool_call') called = now;
      if (f.type === 'tool_progress') progressFrames++;
      if (f.type === 'tool_call' || f.type === 'tool_progress') {
        if (last !== undefined) largestGap = Math.max(largestGap, now - last);
        last = now;
      }
      if (f.type === 'tool_result' && called !== undefined) {
        toolMs = now - called;
        ok = f.ok === true;
      }
      if (f.type === 'done' || f.type === 'error') {
        clearTimeout(timer);
        client.ws.off('message', onMessage);
        resolve({ toolMs, largestGap, progressFrames, ok: ok && f.type === 'done' });
      }
    };
    client.ws.on('message', onMessage);
    client.send({ type: 'chat', requestId, sessionId, content: directive });
  });
}

/** VmRSS of a process, MiB (Linux /proc). */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024;
}

/** Direct children of a process (the stdio servers a worker spawned). */
function childPids(pid: number): number[] {
  const raw = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return raw ? raw.split(/\s+/).map(Number) : [];
}

/**
 * Starts an idle tools worker with `servers` stdio servers on queues of its own, waits
 * until all are up in its catalog (and a settle), and returns its RSS and its children's.
 */
async function idleWorkerRss(sys: TestSystem, redis: Redis, servers: number): Promise<{ worker: number; children: number }> {
  const config = mcpConfig(Object.fromEntries(Array.from({ length: servers }, (_, i) => [`s${i}`, stdioServer])));
  const queues = uniqueTaskQueues();
  const own = { ...sys, config: { ...sys.config, taskQueues: queues } };
  const worker = await startToolWorker(own, 120_000, ['tools'], { MCP_CONFIG: config });
  try {
    const catalog = new McpCatalog(redis, queues.tools, readMcpConfig(config));
    await eventually(
      `${servers} stdio servers up`,
      async () => (await catalog.statuses()).every((s) => s.status === 'up'),
      120_000,
    );
    // Idle: let start-up garbage be collected and the heap settle before reading.
    await new Promise((r) => setTimeout(r, 5_000));
    const pid = worker.child.pid!;
    const kids = childPids(pid);
    if (kids.length !== servers) throw new Error(`worker has ${kids.length} children, expected ${servers}`);
    return { worker: rssMiB(pid), children: kids.reduce((sum, k) => sum + rssMiB(k), 0) };
  } finally {
    const exited = new Promise((r) => worker.child.once('exit', r));
    worker.kill();
    await exited;
  }
}

export async function run(): Promise<BenchResult> {
  const bundle = await ensureBundle();
  const web = await startLocalMcpHttp();
  const config = mcpConfig({ web: { url: web.url, timeoutS: 60 } });
  const sys = await startSystem({ env: { ...BENCH_ENV, WORKFLOW_BUNDLE_PATH: bundle, MCP_CONFIG: config } });
  const redis = new Redis(sys.config.redisUrl);
  const direct = new Client({ name: 'bench-direct', version: '1.0.0' });
  let client: TestClient | undefined;
  try {
    await eventually(
      'web MCP server up',
      async () => {
        const res = await sys.http(sys.newUser().token, 'GET', '/v1/tools');
        return (res.body.servers as Array<{ status: string }>).every((s) => s.status === 'up');
      },
      60_000,
    );
    await direct.connect(new StreamableHTTPClientTransport(new URL(web.url)));
    const chat = await sys.newChat('pro');
    client = chat.client;

    // Warm-up (first workflow, first connection), not measured.
    await runTool(client, chat.sessionId, `[[tool:web__lookup {"key":"warm"}]]`);
    await direct.callTool({ name: 'lookup', arguments: { key: 'warm' } });
    const lookupsBefore = web.state.count('lookup');

    const viaChat: ToolRun[] = [];
    const directMs: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      viaChat.push(await runTool(client, chat.sessionId, `[[tool:web__lookup {"key":"k${i}"}]]`));
      const t0 = performance.now();
      const res = await direct.callTool({ name: 'lookup', arguments: { key: `k${i}` } });
      if (res.isError) throw new Error('direct lookup failed');
      directMs.push(performance.now() - t0);
    }
    const executions = web.state.count('lookup') - lookupsBefore;

    const slow: ToolRun[] = [];
    const slowBefore = web.state.count('slow_count');
    for (let i = 0; i < SLOW_TASKS; i++) {
      slow.push(await runTool(client, chat.sessionId, `[[tool:web__slow_count {"seconds":${SLOW_SECONDS}}]]`));
    }
    const slowExecutions = web.state.count('slow_count') - slowBefore;

    const idle0 = await idleWorkerRss(sys, redis, 0);
    const idleN = await idleWorkerRss(sys, redis, STDIO_SERVERS);

    const okChat = viaChat.filter((r) => r.ok).map((r) => r.toolMs);
    const chatP50 = percentile(okChat, 50);
    const chatP99 = percentile(okChat, 99);
    const directP50 = percentile(directMs, 50);
    const directP99 = percentile(directMs, 99);
    return {
      name: 'tools-mcp',
      command: 'npx tsx bench/tools-mcp.ts',
      metrics: {
        chat_calls: CALLS,
        chat_calls_ok: okChat.length,
        direct_calls: directMs.length,
        server_executions: executions,
        chat_tool_p50_ms: round(chatP50, 1),
        chat_tool_p99_ms: round(chatP99, 1),
        direct_p50_ms: round(directP50, 1),
        direct_p99_ms: round(directP99, 1),
        overhead_p50_ms: round(chatP50 - directP50, 1),
        overhead_p99_ms: round(chatP99 - directP99, 1),
        slow_tasks: SLOW_TASKS,
        slow_tasks_ok: slow.filter((r) => r.ok).length,
        slow_executions: slowExecutions,
        slow_progress_frames: slow.reduce((n, r) => n + r.progressFrames, 0),
        progress_gap_max_ms: round(Math.max(...slow.map((r) => r.largestGap)), 0),
        stdio_servers: STDIO_SERVERS,
        worker_rss_0_mib: round(idle0.worker, 1),
        worker_rss_n_mib: round(idleN.worker, 1),
        rss_growth_per_server_mib: round((idleN.worker - idle0.worker) / STDIO_SERVERS, 1),
        server_process_rss_mib: round(idleN.children / STDIO_SERVERS, 1),
      },
      goals: [
        { metric: 'chat_calls_ok', op: '>=', target: CALLS },
        { metric: 'server_executions', op: '<=', target: 2 * CALLS },
        { metric: 'overhead_p50_ms', op: '<=', target: 30 },
        { metric: 'overhead_p99_ms', op: '<=', target: 100 },
        { metric: 'progress_gap_max_ms', op: '<=', target: 5000 },
        { metric: 'rss_growth_per_server_mib', op: '<=', target: 30 },
      ],
      notes: [
        `${CALLS} calls of the embedded MCP server's read-only \`lookup\` through the chat (one WebSocket client, one after the other) alternated with ${CALLS} direct SDK calls (Client + StreamableHTTPClientTransport) of the same tool on the same server (Streamable HTTP, in the bench process); server_executions counts both arms at the server (${2 * CALLS} expected: each call ran exactly once).`,
        'chat tool time = client receive of `tool_call` (the embedded LLM sent the call and the workflow started the task) -> client receive of `tool_result`; overhead = chat percentile - direct percentile (same percentile of each arm; the arms are not paired).',
        'The LLM turns before and after the tool (the embedded LLM streaming the call, then the reply after the result) are not in the chat tool time.',
        `progress gap: ${SLOW_TASKS} x \`slow_count {seconds: ${SLOW_SECONDS}}\` (the server reports every 250 ms), largest silence between tool_call / tool_progress frames at the client (contract: <= 5000 ms).`,
        `RSS: VmRSS of an idle tools worker process (testkit/tool-worker.ts, its own task queues) with no MCP server, then with ${STDIO_SERVERS} stdio servers (local-mcp/main.ts), read 5 s after every server is up in the catalog; growth per server = difference / ${STDIO_SERVERS}. The server processes themselves are separate (server_process_rss_mib each, not in the worker's RSS).`,
      ],
    };
  } finally {
    await client?.close();
    await direct.close().catch(() => undefined);
    redis.disconnect();
    await sys.stop();
    await web.close();
  }
}

if (require.main === module) runStandalone(run);
