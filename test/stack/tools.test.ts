/**
 * Tools end to end (docs/SPEC.md "P2", docs/API.md "Tools"), on the real stack: the LLM tool
 * loop, the calculator, `summarize_document` as a long-running task with progress at
 * least every 5 s, cancellation from the socket and over HTTP, the task endpoints,
 * resume after a disconnect, and a tools worker killed mid-tool (a child process) whose
 * task resumes elsewhere from its checkpoint.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { metricsRegistry } from '../../lib/metrics';
import { decodeEntry, requestKeys } from '../../store/event-log';
import { findStuckTools } from '../../scripts/ops/tools';
import { checkpointedChunks, slowDocument } from '../../testkit/documents';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import { waitForRows } from '../../testkit/usage';
import {
  ensureBundle,
  startToolWorker,
  type ToolWorkerProcess,
} from '../../testkit/tool-worker-process';
import type { Frame, TestClient } from '../../testkit/ws-client';

let sys: TestSystem;
let toolWorker: ToolWorkerProcess;
const workers: ToolWorkerProcess[] = [];

before(async () => {
  const bundle = await ensureBundle();
  // The tools queue is served only by a child process, so a test can kill it.
  sys = await startSystem({
    serve: ['chat', 'billing', 'summaries'],
    env: { WORKFLOW_BUNDLE_PATH: bundle, WS_PING_INTERVAL_MS: '1000' },
  });
  toolWorker = await startToolWorker(sys);
  workers.push(toolWorker);
});
after(async () => {
  for (const w of workers) w.kill();
  await sys?.stop();
});

/** Receive time of every frame, by index into `client.frames`. */
const receivedAt = new WeakMap<TestClient, number[]>();

async function newChat() {
  const user = sys.newUser();
  const sessionId = await sys.createSession(user.token);
  const client = await sys.connect(user.token);
  const times: number[] = [];
  client.ws.on('message', () => (times[client.frames.length - 1] = Date.now()));
  receivedAt.set(client, times);
  return { ...user, sessionId, client };
}

function send(client: TestClient, sessionId: string, content: string): string {
  const requestId = randomUUID();
  client.send({ type: 'chat', requestId, sessionId, content });
  return requestId;
}

function tool(name: string, args: unknown): string {
  return `[[tool:${name} ${JSON.stringify(args)}]]`;
}

/** LLM calls that summarised chunk `i` (its prompt holds the chunk's text). */
function chunkCalls(chunks: string[], i: number): number {
  const n = chunks.length;
  return sys.llm.stats.calls.filter(
    (c) =>
      c.lastUserMessage.startsWith(`Summarize part ${i + 1} of ${n} `) &&
      c.lastUserMessage.includes(chunks[i]!),
  ).length;
}

/** Roles of a `GET /v1/sessions/:id/messages` answer, oldest first. */
function roles(body: { messages: Array<{ role: string }> }): string[] {
  return body.messages.map((m) => m.role);
}

/** A `tool_progress` from the running tool (after the `queued` one sent with the call). */
function running(f: Frame): boolean {
  return f.type === 'tool_progress' && f.message !== 'queued';
}

function ofType(frames: Frame[], type: string): Frame[] {
  return frames.filter((f) => f.type === type);
}

/** Largest gap (ms, receive times) from the tool_call to the tool_result through every tool_progress. */
function largestProgressGap(
  client: TestClient,
  requestId: string,
): { gap: number; span: number; count: number } {
  const times = receivedAt.get(client)!;
  const marks = client.frames
    .map((f, i) => ({ f, t: times[i]! }))
    .filter(
      ({ f }) =>
        f.requestId === requestId && ['tool_call', 'tool_progress', 'tool_result'].includes(f.type),
    );
  let gap = 0;
  for (let i = 1; i < marks.length; i++) gap = Math.max(gap, marks[i]!.t - marks[i - 1]!.t);
  const span = marks.at(-1)!.t - marks[0]!.t;
  return { gap, span, count: marks.filter(({ f }) => f.type === 'tool_progress').length };
}

describe('fast tools and the tool loop', () => {
  it('calculator runs inside the request; the result goes back to the LLM; history replays', async () => {
    const { client, sessionId, token } = await newChat();
    const requestId = send(
      client,
      sessionId,
      `What is it? ${tool('calculator', { expression: '(2+3)*4 - 2^3 / 4' })}`,
    );
    const done = await client.end(requestId);
    assert.equal(done.type, 'done', JSON.stringify(client.of(requestId).slice(-3)));
    const frames = client.of(requestId);
    const call = ofType(frames, 'tool_call')[0]!;
    assert.equal(call.name, 'calculator');
    assert.deepEqual(call.arguments, { expression: '(2+3)*4 - 2^3 / 4' });
    assert.equal(call.taskId, undefined, 'a fast tool has no task');
    const result = ofType(frames, 'tool_result')[0]!;
    assert.equal(result.toolCallId, call.toolCallId);
    assert.equal(result.ok, true);
    assert.equal(result.result, 18);
    assert.match(String(done.content), /Tool calculator returned: 18/);
    assert.ok(
      frames.indexOf(call) < frames.indexOf(result) &&
        frames.indexOf(result) < frames.indexOf(done),
    );

    const llmCalls = sys.llm.stats.calls.filter((c) =>
      c.lastUserMessage.includes('(2+3)*4 - 2^3 / 4'),
    );
    assert.equal(llmCalls.length, 2, 'one call that asks for the tool, one that answers');
    assert.ok(
      llmCalls.every((c) => c.tools),
      'the LLM is offered the tools',
    );

    const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
    assert.deepEqual(roles(res.body), ['user', 'assistant', 'tool', 'assistant']);
    assert.equal(res.body.messages[2].content, '18');

    // The next request's prompt replays the tool exchange (an invalid one would be refused).
    const next = send(client, sessionId, 'and now?');
    const nextDone = await client.end(next);
    assert.equal(nextDone.type, 'done');
    assert.match(
      String(nextDone.content),
      /^\(messages: 6\)/,
      'system + 4 stored + this user message',
    );

    const metrics = await metricsRegistry.metrics();
    assert.match(metrics, /tool_executions_total\{tool_name="calculator",status="ok"\} [1-9]/);
    await client.close();
  });

  it('calculator errors (division by zero, garbage) are ok:false results, and the reply goes on', async () => {
    const { client, sessionId } = await newChat();
    for (const [expression, error] of [
      ['1/(2-2)', /division by zero/],
      ['2 + * 3', /unexpected '\*'/],
    ] as const) {
      const requestId = send(client, sessionId, tool('calculator', { expression }));
      const done = await client.end(requestId);
      assert.equal(done.type, 'done');
      const result = ofType(client.of(requestId), 'tool_result')[0]!;
      assert.equal(result.ok, false);
      assert.match(String(result.error), error);
      assert.match(String(done.content), /Tool calculator returned: \{"error"/);
    }
    await client.close();
  });

  it('invalid arguments and unknown tools answer ok:false to the LLM once, never a crash or a retry loop', async () => {
    const { client, sessionId } = await newChat();
    const cases = [
      {
        content: tool('calculator', { expr: '1+1' }),
        error: /invalid arguments for calculator: expression/,
      },
      { content: tool('summarize_document', { text: 'x', chunkTokens: 5 }), error: /chunkTokens/ },
      { content: tool('weather', { city: 'Paris' }), error: /unknown tool "weather"/ },
    ];
    for (const c of cases) {
      const requestId = send(client, sessionId, c.content);
      const done = await client.end(requestId);
      assert.equal(done.type, 'done', JSON.stringify(client.of(requestId).slice(-2)));
      const frames = client.of(requestId);
      const call = ofType(frames, 'tool_call')[0]!;
      assert.equal(call.taskId, undefined, 'an invalid call starts no task');
      const results = ofType(frames, 'tool_result');
      assert.equal(results.length, 1);
      assert.equal(results[0]!.ok, false);
      assert.match(String(results[0]!.error), c.error);
      assert.equal(sys.llm.stats.calls.filter((x) => x.lastUserMessage === c.content).length, 2);
    }
    await client.close();
  });
});

describe('summarize_document: a long-running task', () => {
  it('progress at least every 5 s while a chunk is slow; result, task endpoint, 404 for others', async () => {
    const { client, sessionId, token } = await newChat();
    const doc = slowDocument(36, 40, 1, 250);
    const requestId = send(
      client,
      sessionId,
      `Please ${tool('summarize_document', { text: doc.text, chunkTokens: 40 })}`,
    );
    const call = await client.waitFor((fs) =>
      fs.find((f) => f.requestId === requestId && f.type === 'tool_call'),
    );
    const taskId = String(call.taskId);
    assert.match(
      taskId,
      new RegExp(`^tool-[0-9a-f-]{36}-${requestId}-`),
      'the task id holds the user',
    );

    await client.waitFor((fs) => fs.some((f) => f.requestId === requestId && running(f)));
    // The server holds the activity's heartbeat a moment after the event is out.
    const live = await eventually(
      'task progress from the last heartbeat',
      async () => {
        const r = await sys.http(token, 'GET', `/v1/tasks/${taskId}`);
        return /starting|chunk/.test(String(r.body.message)) && r;
      },
      5000,
    );
    assert.equal(live.status, 200);
    assert.equal(live.body.status, 'running');
    assert.equal(live.body.tool, 'summarize_document');
    assert.ok(live.body.progress >= 0 && live.body.progress < 100);

    const other = sys.newUser();
    assert.equal((await sys.http(other.token, 'GET', `/v1/tasks/${taskId}`)).status, 404);
    assert.equal((await sys.http(other.token, 'POST', `/v1/tasks/${taskId}/cancel`)).status, 404);
    assert.equal((await sys.http(token, 'GET', `/v1/tasks/tool-${randomUUID()}-nope`)).status, 404);
    assert.equal((await sys.http(token, 'GET', '/v1/tasks/not-a-task')).status, 404);

    const done = await client.end(requestId, 60_000);
    assert.equal(done.type, 'done', JSON.stringify(client.of(requestId).slice(-3)));
    const frames = client.of(requestId);
    const progress = ofType(frames, 'tool_progress');
    assert.ok(progress.every((p) => p.taskId === taskId && typeof p.emittedAt === 'string'));
    const { gap, span, count } = largestProgressGap(client, requestId);
    assert.ok(span > 6000, `the slow chunk made the tool run past 5 s (${span} ms)`);
    assert.ok(gap <= 5000, `largest gap between tool frames ${gap} ms (${count} progress frames)`);
    assert.ok(
      client.closeCode === undefined,
      'the socket stayed open through the tool (pinged every second)',
    );

    const result = ofType(frames, 'tool_result')[0]!;
    assert.equal(result.ok, true);
    assert.equal(result.taskId, taskId);
    assert.equal((result.result as any).chunks, doc.chunks.length);
    assert.match((result.result as any).summary, /^Summary: /);
    assert.match(String(done.content), /Tool summarize_document returned: \{"summary":"Summary: /);
    assert.equal(progress.at(-1)?.progress, 100);

    const finished = await sys.http(token, 'GET', `/v1/tasks/${taskId}`);
    assert.equal(finished.status, 200);
    assert.deepEqual(
      {
        status: finished.body.status,
        progress: finished.body.progress,
        result: finished.body.result,
      },
      { status: 'completed', progress: 100, result: result.result },
    );

    const desc = await sys.temporal.workflow.getHandle(taskId).describe();
    assert.equal(desc.type, 'toolWorkflow');
    assert.equal(desc.taskQueue, sys.config.taskQueues.tools);
    const attrs = Object.fromEntries(
      desc.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value]),
    );
    assert.equal(attrs.ToolName, 'summarize_document');
    assert.equal(attrs.SessionId, sessionId);

    const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
    assert.deepEqual(roles(res.body), ['user', 'assistant', 'tool', 'assistant']);
    await client.close();
  });

  it('cancel from the socket reaches the tool; the task ends cancelled, the request with error cancelled', async () => {
    const { client, sessionId, token, userId } = await newChat();
    const doc = slowDocument(20, 40, 0, 2000);
    const requestId = send(
      client,
      sessionId,
      tool('summarize_document', { text: doc.text, chunkTokens: 40 }),
    );
    const progress = await client.waitFor((fs) =>
      fs.find((f) => f.requestId === requestId && running(f)),
    );
    client.send({ type: 'cancel', requestId });
    const end = await client.end(requestId, 30_000);
    assert.equal(end.type, 'error');
    assert.equal(end.code, 'cancelled');
    const frames = client.of(requestId);
    const result = ofType(frames, 'tool_result')[0]!;
    assert.deepEqual({ ok: result.ok, error: result.error }, { ok: false, error: 'cancelled' });
    // The activity itself saw the cancellation (through its heartbeat) and cleaned up.
    const last = ofType(frames, 'tool_progress').at(-1)!;
    assert.match(String(last.message), /^cancelled/);
    assert.ok(frames.indexOf(last) < frames.indexOf(result));

    const taskId = String(progress.taskId);
    const desc = await sys.temporal.workflow.getHandle(taskId).describe();
    assert.equal(desc.status.name, 'CANCELLED');
    const task = await sys.http(token, 'GET', `/v1/tasks/${taskId}`);
    assert.equal(task.body.status, 'cancelled');
    assert.match(task.body.message, /^cancelled at \d+%/);
    // The LLM call that asked for the tool is billed although the request was cancelled.
    const usage = ofType(frames, 'usage')[0];
    assert.ok(usage && Number(usage.totalTokens) > 0, 'usage of the completed LLM call');
    assert.ok(frames.indexOf(usage) < frames.indexOf(end));
    const [row] = await waitForRows(sys.api.deps.db, userId, 1);
    assert.equal(row?.total_tokens, usage.totalTokens);
    // The history holds the call's answer, so the next request's prompt stays valid.
    const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
    assert.deepEqual(roles(res.body), ['user', 'assistant', 'tool']);
    const next = send(client, sessionId, 'still there?');
    assert.equal((await client.end(next)).type, 'done');
    await client.close();
  });

  it('POST /v1/tasks/:taskId/cancel cancels the task and ends the request as cancelled', async () => {
    const { client, sessionId, token } = await newChat();
    const doc = slowDocument(20, 40, 0, 2000);
    const requestId = send(
      client,
      sessionId,
      tool('summarize_document', { text: doc.text, chunkTokens: 40 }),
    );
    const call = await client.waitFor((fs) =>
      fs.find((f) => f.requestId === requestId && f.type === 'tool_call'),
    );
    const atOnce = await sys.http(token, 'GET', `/v1/tasks/${String(call.taskId)}`);
    assert.equal(atOnce.status, 200, 'the taskId works as soon as the client has it');
    await client.waitFor((fs) => fs.some((f) => f.requestId === requestId && running(f)));
    const res = await sys.http(token, 'POST', `/v1/tasks/${String(call.taskId)}/cancel`);
    assert.equal(res.status, 202);
    const end = await client.end(requestId, 30_000);
    assert.equal(end.type, 'error');
    assert.equal(end.code, 'cancelled');
    const task = await sys.http(token, 'GET', `/v1/tasks/${String(call.taskId)}`);
    assert.equal(task.body.status, 'cancelled');
    await client.close();
  });

  it('a client that disconnects during a tool resumes: the progress so far, then live, then done', async () => {
    const { client, sessionId, token, userId } = await newChat();
    const doc = slowDocument(30, 40, 0, 250);
    const requestId = send(
      client,
      sessionId,
      tool('summarize_document', { text: doc.text, chunkTokens: 40 }),
    );
    await client.waitFor((fs) =>
      fs.some((f) => f.requestId === requestId && f.type === 'tool_progress'),
    );
    const heard = client.of(requestId).filter((f) => f.type === 'tool_progress').length;
    await client.close();
    // The tool goes on while nobody listens: wait until it has written progress meanwhile.
    await eventually('tool progress written while away', async () => {
      const stream = requestKeys(userId, requestId).stream;
      const entries = await sys.api.deps.redis.xrange(stream, '-', '+');
      const progress = entries.filter(([, f]) => decodeEntry(f)?.type === 'tool_progress');
      return progress.length >= Math.max(3, heard + 2);
    });

    const again = await sys.connect(token);
    again.send({ type: 'resume', requestId });
    const done = await again.end(requestId, 60_000);
    assert.equal(done.type, 'done');
    const frames = again.of(requestId);
    const ids = frames.map((f) => String(f.eventId));
    assert.deepEqual([...ids].sort(), ids, 'in order');
    assert.equal(new Set(ids).size, ids.length, 'each once');
    assert.ok(ofType(frames, 'tool_call').length === 1);
    assert.ok(
      ofType(frames, 'tool_progress').length >= 3,
      'progress written while away is replayed',
    );
    assert.equal(ofType(frames, 'tool_result')[0]?.ok, true);
    await again.close();
  });

  it('a tools worker killed mid-tool: the task resumes elsewhere from its checkpoint', async () => {
    const { client, sessionId } = await newChat();
    const slowAt = 2;
    // Long enough that the kill below lands while the slow chunk is in flight.
    const doc = slowDocument(60, 40, slowAt, 3000);
    const requestId = send(
      client,
      sessionId,
      tool('summarize_document', { text: doc.text, chunkTokens: 40 }),
    );
    const call = await client.waitFor((fs) =>
      fs.find((f) => f.requestId === requestId && f.type === 'tool_call'),
    );
    const taskId = String(call.taskId);
    const handle = sys.temporal.workflow.getHandle(taskId);

    // Wait until the server holds the checkpoint of every chunk before the slow one.
    await eventually(
      'checkpoint before the slow chunk',
      async () => (await checkpointedChunks(handle)) >= slowAt,
      20_000,
    );
    toolWorker.kill();

    // Operators see it: its heartbeat goes stale.
    const stuck = await eventually(
      'tools:stuck to list the task',
      async () => {
        const found = await findStuckTools(sys.temporal, {
          olderThanMs: 2500,
          taskQueue: sys.config.taskQueues.tools,
        });
        return found.find((s) => s.taskId === taskId);
      },
      9000,
    );
    assert.equal(stuck.tool, 'summarize_document');
    assert.equal(stuck.reason, 'heartbeat_stale');

    const replacement = await startToolWorker(sys);
    workers.push(replacement);
    toolWorker = replacement;
    const done = await client.end(requestId, 90_000);
    assert.equal(done.type, 'done', JSON.stringify(client.of(requestId).slice(-3)));
    assert.equal(ofType(client.of(requestId), 'tool_result')[0]?.ok, true);

    for (let i = 0; i < doc.chunks.length; i++) {
      const n = chunkCalls(doc.chunks, i);
      if (i < slowAt) assert.equal(n, 1, `chunk ${i} finished before the kill: summarised once`);
      else if (i === slowAt) assert.ok(n >= 1, 'the chunk in flight is done again');
      else assert.equal(n, 1, `chunk ${i} summarised once`);
    }
    const desc = await handle.describe();
    assert.equal(desc.status.name, 'COMPLETED');
    const progress = ofType(client.of(requestId), 'tool_progress');
    assert.ok(
      progress.some((p) => /resumed after chunk 2/.test(String(p.message))),
      'the retry resumed from chunk 2',
    );
    await client.close();
  });
});
