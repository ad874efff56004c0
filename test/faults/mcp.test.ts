/**
 * Fault suite, MCP tools and approvals (docs/API.md "Tools from MCP servers", "Approving
 * tool calls"): a tools worker SIGKILLed mid-call (a read-only call runs again elsewhere
 * and its progress goes on; an acting call is not run twice: `interrupted`, the server
 * called exactly once), and a call waiting for approval across a restart of the API and
 * of Temporal, approved afterwards. The MCP server is the embedded one over Streamable
 * HTTP, served by this test process so its counters survive the kills. Real processes
 * on this file's own stack; every case asserts the invariants of ./invariants.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { startLocalMcpHttp, type LocalMcpHttp } from '../../local-mcp/server';
import { eventually } from '../../testkit/poll';
import type { Frame, TestClient } from '../../testkit/ws-client';
import { assertStored, assertStream, chat, toolWorkerPid, useFaultStack } from './invariants';
import type { Proc } from './stack';

const configFile = path.join(tmpdir(), `mcp-faults-${randomUUID()}.json`);
let web: LocalMcpHttp;
// Before the stack starts (hooks run in order): its workers read this config.
before(async () => {
  web = await startLocalMcpHttp();
  writeFileSync(configFile, JSON.stringify({ mcpServers: { web: { url: web.url } } }));
});
const env = useFaultStack({ MCP_CONFIG: configFile });
let temporal: Client;
let tools: Proc[] = [];

/** Tools run only on two tools-only workers, so a kill never takes the chat with it. */
async function splitWorkers(): Promise<void> {
  await env.stack.procs.worker!.kill();
  await env.stack.startWorker('chatWorker', 'chat,billing,summaries');
  tools = [await env.stack.startWorker('toolsA', 'tools'), await env.stack.startWorker('toolsB', 'tools')];
  temporal = new Client({ connection: await Connection.connect({ address: env.stack.temporalAddress }) });
}
after(async () => {
  await temporal?.connection.close();
  await web?.close();
});

function ofType(frames: Frame[], type: string): Frame[] {
  return frames.filter((f) => f.type === type);
}

async function http(token: string, method: string, url: string, body?: unknown, apiIndex = 0) {
  const res = await fetch(`http://127.0.0.1:${env.stack.apiPorts[apiIndex]}${url}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
}

/** Kills the tools worker that runs task `taskId` now; the other one takes over. */
async function killToolWorker(taskId: string): Promise<void> {
  const pid = await eventually('the worker running the tool', () => toolWorkerPid(temporal, taskId), 20_000);
  const victim = tools.find((p) => p.child.pid === pid);
  assert.ok(victim, `the call runs on a tools worker (pid ${pid})`);
  await victim.kill();
  tools = tools.filter((p) => p !== victim);
  tools.push(await env.stack.startWorker(`tools-${randomUUID().slice(0, 6)}`, 'tools'));
}

async function approvalFrame(client: TestClient, requestId: string): Promise<Frame> {
  return client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'approval_required'), 60_000);
}

describe('fault suite: MCP tools', () => {
  // Inside the suite: runs once the file's stack (a root hook) is up.
  before(splitWorkers);
  it('tools worker SIGKILL mid-call of a read-only tool: the call runs again elsewhere, progress goes on', async () => {
    const { userId, sessionId, client } = await env.stack.newChat();
    const calls = web.state.count('slow_count');
    const requestId = chat(client, sessionId, '[[tool:web__slow_count {"seconds":6}]]');
    const call = await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'tool_call'), 60_000);
    await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'tool_progress' && Number(f.progress) > 0), 30_000);
    await killToolWorker(String(call.taskId));
    const killedAt = client.frames.length;
    await client.end(requestId, 120_000);
    const frames = client.of(requestId);
    assertStream(frames, 'read-only MCP call, worker killed');
    await assertStored(env, userId, sessionId, requestId, 'read-only MCP call, worker killed');
    const result = ofType(frames, 'tool_result')[0]!;
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(web.state.count('slow_count') - calls, 2, 'run again after the kill');
    const after = client.frames.slice(killedAt).filter((f) => f.requestId === requestId && f.type === 'tool_progress');
    assert.ok(after.some((f) => /^counted \d+ of \d+$/.test(String(f.message))), 'the server\'s progress goes on after the kill');
    await client.close();
  });

  it('tools worker SIGKILL mid-call of an acting tool: interrupted, the server was called exactly once', async () => {
    const { userId, token, sessionId, client } = await env.stack.newChat();
    const to = `kill-${randomUUID()}`;
    const requestId = chat(client, sessionId, `[[tool:web__send_note {"to":"${to}","text":"x","delayMs":30000}]]`);
    const asked = await approvalFrame(client, requestId);
    const yes = await http(token, 'POST', `/v1/approvals/${requestId}/${String(asked.toolCallId)}`, { decision: 'approve' });
    assert.equal(yes.status, 200);
    const call = await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'tool_call'), 60_000);
    await eventually('the call reached the server', () => web.state.noted(to) === 1, 30_000);
    await killToolWorker(String(call.taskId));
    await client.end(requestId, 120_000);
    const frames = client.of(requestId);
    assertStream(frames, 'acting MCP call, worker killed');
    await assertStored(env, userId, sessionId, requestId, 'acting MCP call, worker killed');
    const result = ofType(frames, 'tool_result')[0]!;
    assert.deepEqual([result.ok, result.error], [false, 'interrupted']);
    assert.match(String(result.detail), /may or may not have acted/);
    assert.equal(web.state.noted(to), 1, 'never called twice');
    await client.close();
  });

  it('a call waiting for approval survives an API restart and a Temporal restart, then runs once approved', async () => {
    const { userId, token, sessionId, client } = await env.stack.newChat();
    const to = `wait-${randomUUID()}`;
    const requestId = chat(client, sessionId, `[[tool:web__send_note {"to":"${to}","text":"x"}]]`);
    const asked = await approvalFrame(client, requestId);
    await client.close();

    await env.stack.procs.api0!.kill();
    await env.stack.startApi('api0', env.stack.apiPorts[0]!);
    await env.stack.procs.temporal!.kill();
    await env.stack.startTemporal();

    // The user comes back: the pending call is listed, and resuming the request shows it again.
    const pending = await eventually('the pending call listed', async () => {
      const res = await http(token, 'GET', '/v1/approvals');
      return res.status === 200 && (res.body.approvals as unknown[]).length === 1 ? res.body : undefined;
    }, 60_000);
    assert.equal((pending.approvals as Array<{ requestId: string }>)[0]!.requestId, requestId);
    const back = await env.stack.connect(token);
    back.send({ type: 'resume', requestId });
    const again = await approvalFrame(back, requestId);
    assert.equal(again.toolCallId, asked.toolCallId);
    const yes = await eventually('the decision accepted', async () => {
      const res = await http(token, 'POST', `/v1/approvals/${requestId}/${String(asked.toolCallId)}`, { decision: 'approve' });
      return res.status === 200 ? res : undefined;
    }, 60_000);
    assert.equal(yes.body.decision, 'approve');
    await back.end(requestId, 120_000);
    const frames = back.of(requestId);
    assertStream(frames, 'approval across restarts');
    await assertStored(env, userId, sessionId, requestId, 'approval across restarts');
    assert.equal(ofType(frames, 'tool_result').at(-1)!.ok, true);
    assert.equal(web.state.noted(to), 1);
    await back.close();
  });
});
