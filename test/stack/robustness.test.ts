/**
 * Regression tests of issue 11 ("every request ends, whatever the input"), on the real
 * stack: content Postgres cannot store (refused at the door, and ended at once when it
 * reaches a step anyway), huge Unicode stored faithfully, two users sending the same
 * requestId at the same time, invalid UTF-8 (1007), and the event log's guarantees when
 * Redis loses a request's keys (eventIds never reused, `restart` with the full text).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { chatSettings } from '../../api/chat';
import { chatWorkflowId, type ChatWorkflowInput } from '../../contracts/chat';
import type { RequestEvent } from '../../contracts/protocol';
import {
  decodeEntry,
  EventLog,
  lostTextRecovery,
  requestKeys,
  seqOfStreamId,
} from '../../store/event-log';
import { startSystem, type TestSystem } from '../../testkit/system';
import { ledgerRows, waitForRows } from '../../testkit/usage';
import { reassemble, type Frame } from '../../testkit/ws-client';

let sys: TestSystem;

before(async () => {
  sys = await startSystem();
});
after(async () => {
  await sys?.stop();
});

/** The request's events as stored in Redis, with their seqs. */
async function storedEvents(
  userId: string,
  requestId: string,
): Promise<Array<[number, RequestEvent]>> {
  const entries = await sys.api.deps.redis.xrange(requestKeys(userId, requestId).stream, '-', '+');
  return entries.map(([id, fields]) => [seqOfStreamId(id), decodeEntry(fields)!]);
}

async function workflowExists(userId: string, requestId: string): Promise<boolean> {
  try {
    await sys.temporal.workflow.getHandle(chatWorkflowId(userId, requestId)).describe();
    return true;
  } catch {
    return false;
  }
}

describe('content Postgres cannot store', () => {
  it('NUL and lone surrogates are refused with bad_request naming the problem; nothing starts', async () => {
    const { userId, sessionId, client } = await sys.newChat();
    const cases = [
      { content: 'a \u0000 b', problem: /NUL character \(U\+0000\)/ },
      { content: 'x \ud800 y', problem: /lone UTF-16 surrogate/ },
      { content: 'end \udfff', problem: /lone UTF-16 surrogate/ },
    ];
    for (const c of cases) {
      const requestId = randomUUID();
      client.send({ type: 'chat', requestId, sessionId, content: c.content });
      const err = await client.waitFor((fs) =>
        fs.find((f) => f.requestId === requestId && f.type === 'error'),
      );
      assert.equal(err.code, 'bad_request');
      assert.match(String(err.message), /^content: /);
      assert.match(String(err.message), c.problem);
      assert.equal(await workflowExists(userId, requestId), false, 'no workflow was started');
    }
    // The connection stays usable.
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: 'still here' });
    assert.equal((await client.end(requestId)).type, 'done');
    await client.close();
  });

  it('unstorable content that reaches a step anyway ends the request at once with bad_request', async () => {
    const { userId, sessionId, client } = await sys.newChat();
    const requestId = randomUUID();
    const input: ChatWorkflowInput = {
      requestId,
      userId,
      sessionId,
      content: 'a \u0000 b',
      model: sys.config.llm.model,
      plan: 'free',
      taskQueues: sys.config.taskQueues,
      settings: chatSettings(sys.config),
    };
    // Past the API (as another door might be): Postgres refuses the text.
    const result = await sys.temporal.workflow.execute('chatWorkflow', {
      taskQueue: sys.config.taskQueues.chat,
      workflowId: chatWorkflowId(userId, requestId),
      args: [input],
      workflowExecutionTimeout: '2m',
    });
    assert.equal(result.status, 'error');
    assert.equal(result.code, 'bad_request');
    const events = (await storedEvents(userId, requestId)).map(([, e]) => e);
    assert.equal(events.filter((e) => e.type === 'error').length, 1, 'one terminal event');
    assert.equal(
      events.filter((e) => e.type === 'status' && e.state === 'pruning').length,
      1,
      'pruning once',
    );
    assert.equal((await ledgerRows(sys.api.deps.db, userId)).length, 0, 'nothing billed');
    await client.close();
  });

  it('huge Unicode (astral, combining, CJK, RTL) is stored and echoed faithfully', async () => {
    const { token, sessionId, client } = await sys.newChat();
    const content = `${'😀👩‍👩‍👧‍👦𝄞'.repeat(600)} ${'漢字かなカナ한글'.repeat(400)} ${'e\u0301ñ\u200dשלום'.repeat(300)}`;
    assert.ok(Buffer.byteLength(content) > 20_000);
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content });
    const done = await client.end(requestId);
    assert.equal(done.type, 'done', JSON.stringify(done));
    assert.equal(reassemble(client.of(requestId)), done.content);
    const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
    assert.equal(res.status, 200);
    assert.equal(res.body.messages[0].content, content, 'stored exactly as sent');
    await client.close();
  });
});

describe('two users, one requestId', () => {
  it('both complete at once with their own reply, messages, task and ledger row', async () => {
    const a = await sys.newChat();
    const b = await sys.newChat();
    const requestId = randomUUID();
    const ask = (who: string) =>
      `${who} [[tool:summarize_document {"text":"${who} ${'one two three four five six seven eight nine ten '.repeat(6)}","chunkTokens":20}]]`;
    a.client.send({ type: 'chat', requestId, sessionId: a.sessionId, content: ask('alpha') });
    b.client.send({ type: 'chat', requestId, sessionId: b.sessionId, content: ask('bravo') });
    const [doneA, doneB] = await Promise.all([
      a.client.end(requestId, 60_000),
      b.client.end(requestId, 60_000),
    ]);
    assert.equal(doneA.type, 'done', JSON.stringify(doneA));
    assert.equal(doneB.type, 'done', JSON.stringify(doneB));
    const taskOf = (frames: Frame[]) => String(frames.find((f) => f.type === 'tool_call')?.taskId);
    assert.notEqual(
      taskOf(a.client.of(requestId)),
      taskOf(b.client.of(requestId)),
      'one task each',
    );
    assert.ok(taskOf(a.client.of(requestId)).includes(a.userId));
    for (const [who, chat] of [
      ['alpha', a],
      ['bravo', b],
    ] as const) {
      const res = await sys.http(chat.token, 'GET', `/v1/sessions/${chat.sessionId}/messages`);
      const messages = res.body.messages as Array<{ role: string; content: string }>;
      const users = messages.filter((m) => m.role === 'user');
      assert.equal(users.length, 1);
      assert.match(
        String(users[0]?.content),
        new RegExp(`^${who} `),
        'each session holds its own message',
      );
      const replies = messages.filter((m) => m.role === 'assistant');
      assert.equal(replies.at(-1)?.content, (who === 'alpha' ? doneA : doneB).content);
      assert.equal(
        reassemble(chat.client.of(requestId)),
        (who === 'alpha' ? doneA : doneB).content,
      );
      const rows = await waitForRows(sys.api.deps.db, chat.userId, 1);
      assert.equal(rows[0]?.request_id, requestId);
    }
    await a.client.close();
    await b.client.close();
  });
});

describe('WebSocket', () => {
  it('a text frame that is not valid UTF-8 closes with 1007', async () => {
    const { client } = await sys.newChat();
    client.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    await client
      .waitFor(() => client.closeCode !== undefined || undefined, 10_000, 'close')
      .catch(() => undefined);
    assert.equal(client.closeCode, 1007);
  });
});

describe('event log when Redis loses a request', () => {
  it('never reuses a seq, writes `once` events once, and re-sends the text after a loss', async () => {
    const log = new EventLog(sys.api.deps.redis, 60);
    const userId = randomUUID();
    const requestId = randomUUID();
    const keys = requestKeys(userId, requestId);
    const first = await log.write(
      userId,
      requestId,
      { type: 'status', state: 'pruning' },
      { once: 'pruning' },
    );
    assert.equal(first?.fresh, true, 'the first event starts the log');
    const again = await log.write(
      userId,
      requestId,
      { type: 'status', state: 'pruning' },
      { once: 'pruning' },
    );
    assert.deepEqual(again, { seq: first?.seq, fresh: false }, 'a repeat writes nothing');
    const d1 = await log.write(userId, requestId, { type: 'delta', content: 'Hello ' });
    assert.equal(d1?.fresh, false);

    // Redis loses the request's keys (a restart without persistence).
    await sys.api.deps.redis.del(keys.stream, keys.seq, keys.once, keys.end, keys.fence);
    const d2 = await log.write(userId, requestId, { type: 'delta', content: 'world' });
    assert.ok(d2 && d1 && d2.seq > d1.seq, `seqs never go back (${d1?.seq} then ${d2?.seq})`);
    assert.equal(d2?.fresh, true, 'the loss is reported');
    const done = await log.write(
      userId,
      requestId,
      { type: 'done', messageId: '1', content: 'Hello world' },
      { ifLost: lostTextRecovery('Hello world') },
    );
    assert.equal(done?.fresh, false);
    // A loss just before `done`: restart + the full text go first, atomically.
    const other = randomUUID();
    await log.write(userId, other, { type: 'delta', content: 'partial' });
    await sys.api.deps.redis.del(requestKeys(userId, other).seq);
    await log.write(
      userId,
      other,
      { type: 'done', messageId: '2', content: 'all of it' },
      { ifLost: lostTextRecovery('all of it') },
    );
    const tail = (await storedEvents(userId, other)).map(([, e]) => e.type);
    assert.deepEqual(tail, ['delta', 'restart', 'delta', 'done']);
    const frames = (await storedEvents(userId, other)).map(([, e]) => e as unknown as Frame);
    assert.equal(reassemble(frames), 'all of it');
  });
});
