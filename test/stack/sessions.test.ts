/**
 * Sessions you can manage (docs/API.md "Sessions") through the public API on the real
 * stack: the list (title, activity order, counts, billed tokens, cursor pagination),
 * rename, delete (messages, summary and its cache gone; usage kept; requests in flight
 * cancelled), and tenancy: another user's session answers 404 exactly like a missing one.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { chatWorkflowId } from '../../contracts/chat';
import { summaryCacheKey } from '../../store/summaries';
import { slowDocument } from '../../testkit/documents';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import type { TestClient } from '../../testkit/ws-client';

let sys: TestSystem;

before(async () => {
  sys = await startSystem();
});
after(async () => {
  await sys?.stop();
});

/** Sends one chat and waits for its `done`; returns the request id. */
async function chatDone(client: TestClient, sessionId: string, content: string): Promise<string> {
  const requestId = randomUUID();
  client.send({ type: 'chat', requestId, sessionId, content });
  const end = await client.end(requestId);
  assert.equal(end.type, 'done', JSON.stringify(end));
  return requestId;
}

/** The session ids of a list answer, in order. */
function ids(body: { sessions: Array<{ sessionId: string }> }): string[] {
  return body.sessions.map((s) => s.sessionId);
}

describe('GET /v1/sessions', () => {
  it('lists the sessions, most recent activity first, with title, counts and billed tokens', async () => {
    const { token, sessionId: first, client } = await sys.newChat();
    try {
      const empty = await sys.http(token, 'GET', '/v1/sessions');
      assert.equal(empty.status, 200);
      assert.equal(empty.body.sessions.length, 1);
      assert.equal(empty.body.sessions[0].title, null, 'no title before a first message');
      assert.equal(empty.body.sessions[0].messageCount, 0);
      assert.equal(empty.body.nextCursor, undefined);

      const long = `Plan   a trip\nto Lisbon ${'with many stops '.repeat(10)}`;
      const requestId = await chatDone(client, first, long);
      const second = await sys.createSession(token);

      let list = await sys.http(token, 'GET', '/v1/sessions');
      assert.deepEqual(ids(list.body), [second, first], 'the newer session is more recent');
      await chatDone(client, first, 'and back');
      list = await eventually('billed tokens', async () => {
        const r = await sys.http(token, 'GET', '/v1/sessions');
        return r.body.sessions[0]?.tokens > 0 && r;
      });
      const [a, b] = list.body.sessions;
      assert.equal(a.sessionId, first, 'a new message moves the session to the top');
      assert.equal(b.sessionId, second);
      assert.deepEqual(Object.keys(a).sort(), [
        'createdAt',
        'lastMessageAt',
        'messageCount',
        'sessionId',
        'title',
        'tokens',
      ]);
      assert.equal(
        a.title,
        'Plan a trip to Lisbon with many stops with many stops with many stops with many',
      );
      assert.ok(a.title.length <= 80);
      assert.equal(a.messageCount, 4);
      assert.ok(Date.parse(a.lastMessageAt) >= Date.parse(a.createdAt));
      const { rows } = await sys.api.deps.db.query<{ total: string }>(
        'SELECT sum(total_tokens) AS total FROM usage_records WHERE session_id = $1',
        [first],
      );
      const billed = await eventually('tokens equal to the ledger', async () => {
        const tokens = (await sys.http(token, 'GET', '/v1/sessions')).body.sessions[0]
          .tokens as number;
        return tokens === Number(rows[0]?.total) && tokens;
      });
      assert.ok(billed > 0);
      assert.ok(requestId);
      assert.equal(b.title, null);
      assert.equal(b.messageCount, 0);
      assert.equal(b.tokens, 0);
    } finally {
      await client.close();
    }
  });

  it('pages with a cursor, each session once, and validates limit and cursor', async () => {
    const { token } = sys.newUser();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push(await sys.createSession(token));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await sys.http(
        token,
        'GET',
        `/v1/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(res.status, 200);
      assert.ok(res.body.sessions.length <= 2);
      seen.push(...ids(res.body));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...created].reverse(), 'newest first, none twice, none missed');

    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'limit=2.5', 'cursor=nope', 'cursor=']) {
      const res = await sys.http(token, 'GET', `/v1/sessions?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error.code, 'bad_request', q);
    }
    assert.equal((await sys.http(undefined, 'GET', '/v1/sessions')).status, 401);
  });

  it('never lists another user’s sessions', async () => {
    const alice = sys.newUser();
    const bob = sys.newUser();
    await sys.createSession(alice.token);
    const res = await sys.http(bob.token, 'GET', '/v1/sessions');
    assert.deepEqual(res.body, { sessions: [] });
  });
});

describe('PATCH /v1/sessions/:sessionId', () => {
  it('renames (trimmed) and the list shows the new title', async () => {
    const { token } = sys.newUser();
    const sessionId = await sys.createSession(token);
    const res = await sys.http(token, 'PATCH', `/v1/sessions/${sessionId}`, {
      title: '  Trip ideas  ',
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.sessionId, sessionId);
    assert.equal(res.body.title, 'Trip ideas');
    const list = await sys.http(token, 'GET', '/v1/sessions');
    assert.equal(list.body.sessions[0].title, 'Trip ideas');
    const max = 'é'.repeat(200);
    assert.equal(
      (await sys.http(token, 'PATCH', `/v1/sessions/${sessionId}`, { title: max })).body.title,
      max,
    );
  });

  it('refuses bad titles with bad_request and changes nothing', async () => {
    const { token } = sys.newUser();
    const sessionId = await sys.createSession(token);
    await sys.http(token, 'PATCH', `/v1/sessions/${sessionId}`, { title: 'Kept' });
    const unstorable = [{ title: 'a\u0000b' }, { title: 'x \udfff' }];
    for (const body of [
      { title: '' },
      { title: '   ' },
      { title: 'x'.repeat(201) },
      { title: 7 },
      {},
      'null',
      ...unstorable,
    ]) {
      const res = await sys.http(token, 'PATCH', `/v1/sessions/${sessionId}`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'bad_request');
    }
    assert.equal((await sys.http(token, 'GET', '/v1/sessions')).body.sessions[0].title, 'Kept');
  });

  it('answers another user’s session exactly like a missing one', async () => {
    const alice = sys.newUser();
    const bob = sys.newUser();
    const sessionId = await sys.createSession(alice.token);
    const foreign = await sys.http(bob.token, 'PATCH', `/v1/sessions/${sessionId}`, {
      title: 'mine now',
    });
    const missing = await sys.http(bob.token, 'PATCH', `/v1/sessions/${randomUUID()}`, {
      title: 'mine now',
    });
    const malformed = await sys.http(bob.token, 'PATCH', '/v1/sessions/not-a-uuid', { title: 'x' });
    assert.equal(foreign.status, 404);
    assert.deepEqual(foreign.body, missing.body);
    assert.deepEqual(malformed.body, missing.body);
    assert.equal((await sys.http(alice.token, 'GET', '/v1/sessions')).body.sessions[0].title, null);
  });
});

describe('DELETE /v1/sessions/:sessionId', () => {
  it('deletes messages and summary (and its cache), keeps usage records', async () => {
    const { token, userId, sessionId, client } = await sys.newChat();
    try {
      const requestId = await chatDone(client, sessionId, 'remember me');
      const { db, redis } = sys.api.deps;
      await eventually(
        'the ledger row',
        async () =>
          (await db.query('SELECT 1 FROM usage_records WHERE user_id = $1', [userId])).rowCount ===
          1,
      );
      await db.query(
        `INSERT INTO chat_summaries (session_id, summary, watermark_message_id, tokens, model)
         VALUES ($1, 'old talk', 1, 3, 'm')`,
        [sessionId],
      );
      await redis.set(summaryCacheKey(sessionId), '{"text":"old talk"}', 'EX', 60);

      const del = await sys.http(token, 'DELETE', `/v1/sessions/${sessionId}`);
      assert.equal(del.status, 204);
      assert.equal(del.body, '');
      assert.equal(
        (await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`)).status,
        404,
      );
      assert.deepEqual((await sys.http(token, 'GET', '/v1/sessions')).body, { sessions: [] });
      const counts = await db.query<{ messages: string; summaries: string; usage: string }>(
        `SELECT (SELECT count(*) FROM chat_messages WHERE session_id = $1) AS messages,
                (SELECT count(*) FROM chat_summaries WHERE session_id = $1) AS summaries,
                (SELECT count(*) FROM usage_records WHERE request_id = $2) AS usage`,
        [sessionId, requestId],
      );
      assert.deepEqual(counts.rows[0], { messages: '0', summaries: '0', usage: '1' });
      assert.equal(await redis.exists(summaryCacheKey(sessionId)), 0);
      assert.equal((await sys.http(token, 'DELETE', `/v1/sessions/${sessionId}`)).status, 404);
      // A chat in the deleted session is refused.
      const again = randomUUID();
      client.send({ type: 'chat', requestId: again, sessionId, content: 'hello?' });
      const refused = await client.waitFor((fs) =>
        fs.find((f) => f.requestId === again && f.type === 'error'),
      );
      assert.equal(refused.code, 'not_found');
    } finally {
      await client.close();
    }
  });

  it('answers another user’s session exactly like a missing one, and keeps it', async () => {
    const alice = sys.newUser();
    const bob = sys.newUser();
    const sessionId = await sys.createSession(alice.token);
    const foreign = await sys.http(bob.token, 'DELETE', `/v1/sessions/${sessionId}`);
    const missing = await sys.http(bob.token, 'DELETE', `/v1/sessions/${randomUUID()}`);
    assert.equal(foreign.status, 404);
    assert.deepEqual(foreign.body, missing.body);
    assert.equal((await sys.http(alice.token, 'GET', '/v1/sessions')).body.sessions.length, 1);
  });

  it('cancels a request in flight: it ends with exactly one terminal frame, `cancelled`', async () => {
    const { token, userId, sessionId, client } = await sys.newChat();
    try {
      const requestId = randomUUID();
      client.send({
        type: 'chat',
        requestId,
        sessionId,
        content: '[[tokens:400]] [[delay_ms:40]] long story',
      });
      await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'delta'));
      assert.equal((await sys.http(token, 'DELETE', `/v1/sessions/${sessionId}`)).status, 204);
      const end = await client.end(requestId);
      assert.equal(end.type, 'error');
      assert.equal(end.code, 'cancelled');
      const result = await sys.temporal.workflow
        .getHandle(chatWorkflowId(userId, requestId))
        .result();
      assert.deepEqual(
        { status: result.status, code: 'code' in result ? result.code : undefined },
        {
          status: 'error',
          code: 'cancelled',
        },
      );
      const terminals = client.of(requestId).filter((f) => f.type === 'done' || f.type === 'error');
      assert.equal(terminals.length, 1);
    } finally {
      await client.close();
    }
  });

  it('a request whose session vanishes under it (no cancel signal) ends `cancelled`, not retrying forever', async () => {
    const { userId, sessionId, client } = await sys.newChat();
    try {
      const requestId = randomUUID();
      client.send({
        type: 'chat',
        requestId,
        sessionId,
        content: '[[tokens:60]] [[delay_ms:20]] go',
      });
      await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'delta'));
      // Behind the API's back: the reply's insert then meets the foreign key.
      await sys.api.deps.db.query('DELETE FROM chat_sessions WHERE id = $1', [sessionId]);
      const end = await client.end(requestId);
      assert.equal(end.type, 'error', JSON.stringify(end));
      assert.equal(end.code, 'cancelled');
      const result = await sys.temporal.workflow
        .getHandle(chatWorkflowId(userId, requestId))
        .result();
      assert.equal(result.status, 'error');
      assert.equal(
        client.of(requestId).filter((f) => f.type === 'done' || f.type === 'error').length,
        1,
      );
    } finally {
      await client.close();
    }
  });

  it('a long tool whose session vanishes under it ends `cancelled` when its result is stored, not `internal`', async () => {
    const { userId, sessionId, client } = await sys.newChat();
    try {
      const requestId = randomUUID();
      // The second chunk keeps the tool busy while the session goes.
      const doc = slowDocument(36, 40, 1, 1500);
      const args = JSON.stringify({ text: doc.text, chunkTokens: 40 });
      client.send({
        type: 'chat',
        requestId,
        sessionId,
        content: `[[tool:summarize_document ${args}]]`,
      });
      await client.waitFor((fs) =>
        fs.find((f) => f.requestId === requestId && f.type === 'tool_call'),
      );
      // Behind the API's back: the tool message's insert then meets the foreign key.
      await sys.api.deps.db.query('DELETE FROM chat_sessions WHERE id = $1', [sessionId]);
      const end = await client.end(requestId, 60_000);
      assert.equal(end.type, 'error', JSON.stringify(end));
      assert.equal(end.code, 'cancelled');
      assert.ok(
        !client.of(requestId).some((f) => f.type === 'tool_result'),
        'the tool result could not be stored',
      );
      const result = await sys.temporal.workflow
        .getHandle(chatWorkflowId(userId, requestId))
        .result();
      assert.deepEqual(
        { status: result.status, code: 'code' in result ? result.code : undefined },
        {
          status: 'error',
          code: 'cancelled',
        },
      );
      assert.equal(
        client.of(requestId).filter((f) => f.type === 'done' || f.type === 'error').length,
        1,
      );
    } finally {
      await client.close();
    }
  });
});
