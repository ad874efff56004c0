/**
 * Tools from MCP servers and approving tool calls, end to end (docs/API.md "Tools from
 * MCP servers", "Approving tool calls"): the embedded MCP server reached through the
 * real SDK over stdio (a child of the tools worker) and over Streamable HTTP (served by
 * this test process, so its counters are readable), the real stack, the WebSocket and
 * HTTP contract. Every case checks that the request ends with exactly one terminal frame.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startLocalMcpHttp, type LocalMcpHttp } from '../../local-mcp/server';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import { assertOneEnd, ofType, send, tool } from '../../testkit/tool-chat';
import type { Frame, TestClient } from '../../testkit/ws-client';

const ROOT = path.resolve(__dirname, '../..');
let sys: TestSystem;
let web: LocalMcpHttp;

before(async () => {
  web = await startLocalMcpHttp();
  const config = path.join(tmpdir(), `mcp-${randomUUID()}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        local: { command: process.execPath, args: ['--import', 'tsx', path.join(ROOT, 'local-mcp/main.ts')], cwd: ROOT },
        web: { url: web.url, timeoutS: 20 },
        // The same server with a 1 s limit per call.
        short: { url: web.url, timeoutS: 1, tools: ['slow_count'] },
        // Nothing listens there: a server that is down from the start.
        gone: { url: 'http://127.0.0.1:9/mcp' },
        // A process that writes garbage instead of MCP, and one that never answers.
        garbage: { command: process.execPath, args: ['-e', 'setInterval(() => console.log("garbage {"), 50)'] },
        silent: { command: process.execPath, args: ['-e', 'setInterval(() => undefined, 1000)'] },
      },
    }),
  );
  sys = await startSystem({ env: { MCP_CONFIG: config } });
  await eventually(
    'both live servers listed',
    async () => {
      const res = await sys.http(sys.newUser().token, 'GET', '/v1/tools');
      const up = (res.body.servers as Array<{ name: string; status: string }>).filter((s) => s.status === 'up');
      return up.length === 3;
    },
    60_000,
  );
});
after(async () => {
  await sys?.stop();
  await web?.close();
});

async function approvalFrames(client: TestClient, requestId: string, n: number): Promise<Frame[]> {
  return client.waitFor((fs) => {
    const found = fs.filter((f) => f.requestId === requestId && f.type === 'approval_required');
    return found.length >= n ? found : undefined;
  }, 30_000);
}

describe('tools from MCP servers', () => {
  it('GET /v1/tools lists built-in and MCP tools with their approval, and every server', async () => {
    const res = await sys.http(sys.newUser().token, 'GET', '/v1/tools');
    assert.equal(res.status, 200);
    const byName = new Map((res.body.tools as Array<Record<string, unknown>>).map((t) => [t.name, t]));
    assert.equal(byName.get('calculator')?.source, 'builtin');
    for (const server of ['local', 'web']) {
      const note = byName.get(`${server}__send_note`);
      assert.deepEqual([note?.source, note?.server, note?.approval], ['mcp', server, 'required']);
      assert.equal(byName.get(`${server}__lookup`)?.approval, 'none', 'read-only: no approval');
      assert.equal((note?.inputSchema as { type?: string }).type, 'object');
    }
    const servers = Object.fromEntries((res.body.servers as Array<{ name: string; status: string }>).map((s) => [s.name, s.status]));
    assert.deepEqual(servers, { local: 'up', web: 'up', short: 'up', gone: 'down', garbage: 'down', silent: 'down' });
    const short = (res.body.servers as Array<{ name: string; tools: string[] }>).find((s) => s.name === 'short');
    assert.deepEqual(short?.tools, ['short__slow_count'], 'only the tools the config names');
    assert.equal((await sys.http(undefined, 'GET', '/v1/tools')).status, 401);
  });

  for (const server of ['local', 'web'] as const) {
    it(`a read-only tool over ${server === 'local' ? 'stdio' : 'HTTP'} is a task with the server's progress, no approval`, async () => {
      const { client, sessionId, token } = await sys.newChat();
      const requestId = send(client, sessionId, tool(`${server}__slow_count`, { seconds: 1.5 }));
      const done = await client.end(requestId, 60_000);
      const frames = client.of(requestId);
      assertOneEnd(frames);
      assert.equal(done.type, 'done', JSON.stringify(frames.slice(-3)));
      assert.equal(ofType(frames, 'approval_required').length, 0);
      const call = ofType(frames, 'tool_call')[0]!;
      const taskId = String(call.taskId);
      assert.match(taskId, /^tool-/);
      const progress = ofType(frames, 'tool_progress').filter((f) => /^counted \d+ of 6$/.test(String(f.message)));
      assert.ok(progress.length >= 3, `server progress relayed: ${JSON.stringify(ofType(frames, 'tool_progress'))}`);
      assert.ok(progress.some((p) => p.progress === 50 && p.message === 'counted 3 of 6'), 'progress = 100 x progress / total');
      const result = ofType(frames, 'tool_result')[0]!;
      assert.equal(result.ok, true);
      assert.equal(result.taskId, taskId);
      assert.deepEqual(result.result, { content: [{ type: 'text', text: 'counted for 1.5 s' }] });
      const task = await sys.http(token, 'GET', `/v1/tasks/${taskId}`);
      assert.deepEqual([task.status, task.body.status, task.body.tool], [200, 'completed', `${server}__slow_count`]);
      await client.close();
    });
  }

  it('an acting tool waits for approval: listed, approved over HTTP (200, 200 again, 409), runs exactly once', async () => {
    const { client, sessionId, token } = await sys.newChat();
    const to = `ann-${randomUUID()}`;
    const requestId = send(client, sessionId, `Send it. ${tool('web__send_note', { to, text: 'hello' })}`);
    const [asked] = await approvalFrames(client, requestId, 1);
    assert.equal(asked!.name, 'web__send_note');
    assert.deepEqual(asked!.arguments, { to, text: 'hello' });
    assert.ok(Date.parse(String(asked!.expiresAt)) > Date.now() + 3600_000, 'expires in a day');
    await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'status' && f.state === 'awaiting_approval'));
    assert.equal(web.state.noted(to), 0, 'nothing ran before the decision');
    assert.equal(ofType(client.of(requestId), 'tool_call').length, 0);

    const pending = await sys.http(token, 'GET', '/v1/approvals');
    assert.equal(pending.status, 200);
    assert.deepEqual(
      (pending.body.approvals as Array<Record<string, unknown>>).map((a) => [a.requestId, a.sessionId, a.toolCallId, a.name]),
      [[requestId, sessionId, asked!.toolCallId, 'web__send_note']],
    );
    // Another user sees nothing of it, and cannot decide it.
    const other = sys.newUser();
    assert.deepEqual((await sys.http(other.token, 'GET', '/v1/approvals')).body, { approvals: [] });
    const url = `/v1/approvals/${requestId}/${String(asked!.toolCallId)}`;
    assert.equal((await sys.http(other.token, 'POST', url, { decision: 'approve' })).status, 404);
    assert.equal((await sys.http(token, 'POST', url, { decision: 'maybe' })).status, 400);

    const yes = await sys.http(token, 'POST', url, { decision: 'approve' });
    assert.deepEqual([yes.status, yes.body], [200, { requestId, toolCallId: asked!.toolCallId, decision: 'approve' }]);
    assert.equal((await sys.http(token, 'POST', url, { decision: 'approve' })).status, 200, 'the same again');
    const no = await sys.http(token, 'POST', url, { decision: 'deny' });
    assert.deepEqual([no.status, no.body.error.code], [409, 'conflict']);

    const done = await client.end(requestId, 60_000);
    const frames = client.of(requestId);
    assertOneEnd(frames);
    assert.equal(done.type, 'done');
    const call = ofType(frames, 'tool_call')[0]!;
    const result = ofType(frames, 'tool_result')[0]!;
    assert.ok(frames.indexOf(asked!) < frames.indexOf(call) && frames.indexOf(call) < frames.indexOf(result));
    assert.equal(result.ok, true);
    assert.equal(web.state.noted(to), 1, 'called exactly once');
    assert.deepEqual((await sys.http(token, 'GET', '/v1/approvals')).body, { approvals: [] });
    assert.equal((await sys.http(token, 'POST', url, { decision: 'approve' })).status, 200, 'still the same');
    assert.equal((await sys.http(token, 'POST', `/v1/approvals/${requestId}/nope`, { decision: 'approve' })).status, 404);
    await client.close();
  });

  it('the CLI asks "approve? [y/N]": y runs the call once, anything else denies it', async () => {
    for (const [answer, runs] of [['y', 1], ['n', 0]] as const) {
      const to = `cli-${answer}-${randomUUID()}`;
      const { token } = sys.newUser();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'scripts/chat-client.ts', '--url', sys.baseUrl, '--token', token, tool('web__send_note', { to, text: 'x' })],
        { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CHAT_TOKEN: '' } },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('approve? [y/N]') && child.stdin.writable) child.stdin.end(`${answer}\n`);
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, stderr);
      assert.match(stderr, /\[tool web__send_note .* wants to run\] approve\? \[y\/N\]/);
      assert.match(stderr, answer === 'y' ? /\[approved\]/ : /\[denied\]/);
      assert.equal(web.state.noted(to), runs);
    }
  });

  it('deny: tool_result "denied" with the reason, the tool never runs, the LLM answers', async () => {
    const { client, sessionId, token } = await sys.newChat();
    const to = `bob-${randomUUID()}`;
    const requestId = send(client, sessionId, tool('local__send_note', { to, text: 'x' }));
    const [asked] = await approvalFrames(client, requestId, 1);
    const res = await sys.http(token, 'POST', `/v1/approvals/${requestId}/${String(asked!.toolCallId)}`, {
      decision: 'deny',
      reason: 'wrong person',
    });
    assert.equal(res.status, 200);
    const done = await client.end(requestId, 60_000);
    const frames = client.of(requestId);
    assertOneEnd(frames);
    const result = ofType(frames, 'tool_result')[0]!;
    assert.deepEqual([result.ok, result.error], [false, 'denied']);
    assert.match(String(result.detail), /wrong person/);
    assert.equal(ofType(frames, 'tool_call').length, 0);
    assert.match(String(done.content), /denied/);
    await client.close();
  });

  it('several calls in one reply: each its own approval; a client that resumes gets the frames again', async () => {
    const { client, sessionId, token } = await sys.newChat();
    const a = `a-${randomUUID()}`;
    const b = `b-${randomUUID()}`;
    const requestId = send(
      client,
      sessionId,
      `${tool('web__send_note', { to: a, text: '1' })} ${tool('web__send_note', { to: b, text: '2' })} ${tool('web__lookup', { key: 'k' })}`,
    );
    const asked = await approvalFrames(client, requestId, 2);
    assert.equal(asked.length, 2);
    // The read-only call did not wait.
    await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'tool_result'));
    // A second client (a reload, another device) resumes the request from the start.
    const again = await sys.connect(token);
    again.send({ type: 'resume', requestId });
    await approvalFrames(again, requestId, 2);
    for (const frame of asked) {
      const res = await sys.http(token, 'POST', `/v1/approvals/${requestId}/${String(frame.toolCallId)}`, { decision: 'approve' });
      assert.equal(res.status, 200);
    }
    const done = await client.end(requestId, 60_000);
    assert.equal(done.type, 'done');
    const results = ofType(client.of(requestId), 'tool_result');
    assert.equal(results.length, 3);
    assert.ok(results.every((r) => r.ok === true));
    assert.deepEqual([web.state.noted(a), web.state.noted(b)], [1, 1]);
    await again.end(requestId, 30_000);
    await client.close();
    await again.close();
  });

  it('cancel while a call waits ends the request cancelled; the approval is gone (404)', async () => {
    const { client, sessionId, token } = await sys.newChat();
    const requestId = send(client, sessionId, tool('web__send_note', { to: 'c', text: 'x' }));
    const [asked] = await approvalFrames(client, requestId, 1);
    client.send({ type: 'cancel', requestId });
    const end = await client.end(requestId, 30_000);
    assert.deepEqual([end.type, end.code], ['error', 'cancelled']);
    assertOneEnd(client.of(requestId));
    const res = await sys.http(token, 'POST', `/v1/approvals/${requestId}/${String(asked!.toolCallId)}`, { decision: 'approve' });
    assert.equal(res.status, 404);
    await client.close();
  });

  it('cancel during a running MCP call cancels it on the server and ends the task cancelled', async () => {
    const { client, sessionId, token } = await sys.newChat();
    const before = web.state.cancelled;
    const requestId = send(client, sessionId, tool('web__slow_count', { seconds: 30 }));
    const call = await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'tool_call'));
    await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'tool_progress' && f.progress !== 0));
    const res = await sys.http(token, 'POST', `/v1/tasks/${String(call.taskId)}/cancel`);
    assert.equal(res.status, 202);
    const end = await client.end(requestId, 30_000);
    assert.deepEqual([end.type, end.code], ['error', 'cancelled']);
    await eventually('the server saw the cancellation', () => web.state.cancelled > before);
    const task = await sys.http(token, 'GET', `/v1/tasks/${String(call.taskId)}`);
    assert.equal(task.body.status, 'cancelled');
    await client.close();
  });

  it('bad calls answer a clear ok:false tool_result and the request ends once', async () => {
    const { client, sessionId } = await sys.newChat();
    const cases: Array<[string, RegExp]> = [
      [tool('web__lookup', { key: 5 }), /invalid arguments for web__lookup/],
      [tool('web__nope', {}), /unknown tool "web__nope"/],
      [tool('gone__anything', {}), /unknown tool "gone__anything"/],
      [tool('web__fail', { message: 'boom' }), /the tool reported an error/],
      [tool('web__big', { bytes: 10 * 1024 * 1024 }), /too large/],
      [tool('short__slow_count', { seconds: 5 }), /no answer within 1 s/],
    ];
    for (const [content, error] of cases) {
      const requestId = send(client, sessionId, content);
      const done = await client.end(requestId, 60_000);
      const frames = client.of(requestId);
      assertOneEnd(frames);
      assert.equal(done.type, 'done', JSON.stringify(frames.slice(-3)));
      const results = ofType(frames, 'tool_result');
      assert.equal(results.length, 1);
      assert.equal(results[0]!.ok, false);
      assert.match(String(results[0]!.error), error);
      assert.equal(ofType(frames, 'usage').length, 1, 'billed once');
    }
    await client.close();
  });
});
