/**
 * The Responses API (docs/API.md "Responses API") on the real stack, through the official
 * `openai` client with an API key: background runs polled to the end, streams dropped and
 * re-attached by sequence number, cancel, chains that are sessions, client tools, and
 * every bad input the contract names.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI, { BadRequestError, NotFoundError, RateLimitError } from 'openai';
import type {
  Response as OpenAIResponse,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses';
import { chatWorkflowId } from '../../contracts/chat';
import { requestKeys } from '../../store/event-log';
import { requestIdOfResponse } from '../../store/responses';
import { startSystem, type TestSystem } from '../../testkit/system';
import { eventually } from '../../testkit/poll';
import { ledgerRows, waitForRows } from '../../testkit/usage';

let sys: TestSystem;

before(async () => {
  sys = await startSystem();
});
after(async () => {
  await sys?.stop();
});

/** A new user with an API key and an `openai` client using it. */
async function newKeyUser() {
  const user = sys.newUser('pro');
  const res = await sys.http(user.token, 'POST', '/v1/me/api-keys', { name: 'sdk' });
  assert.equal(res.status, 201);
  const client = new OpenAI({
    apiKey: res.body.key as string,
    baseURL: `${sys.baseUrl}/v1`,
    maxRetries: 0,
  });
  return { ...user, client };
}

const FINAL = new Set(['completed', 'failed', 'cancelled', 'incomplete']);

/** Polls until the response has ended. */
function pollToEnd(client: OpenAI, id: string): Promise<OpenAIResponse> {
  return eventually(
    `response ${id} to end`,
    async () => {
      const r = await client.responses.retrieve(id);
      return FINAL.has(r.status ?? '') && r;
    },
    60_000,
  );
}

const textOf = (events: readonly ResponseStreamEvent[]) =>
  events.map((e) => (e.type === 'response.output_text.delta' ? e.delta : '')).join('');

const model = () => sys.config.llm.model;

describe('Responses API through the openai client', () => {
  it('a background response answers queued at once, runs with nobody connected and polls to completed, billed once', async () => {
    const { client, userId, token } = await newKeyUser();
    const created = await client.responses.create({
      model: model(),
      input: 'Work on it [[tokens:30]] [[delay_ms:10]]',
      background: true,
      metadata: { job: 'nightly' },
    });
    assert.match(created.id, /^resp_[0-9a-f]{32}$/);
    assert.equal(created.object, 'response');
    assert.ok(created.status === 'queued' || created.status === 'in_progress', created.status);
    assert.equal(created.background, true);
    const done = await pollToEnd(client, created.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.metadata, { job: 'nightly' });
    assert.equal(done.usage?.output_tokens, 30);
    assert.ok(done.output_text.length > 0);
    const message = done.output[0];
    assert.ok(message?.type === 'message' && message.status === 'completed');
    const rows = await waitForRows(sys.api.deps.db, userId, 1);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.total_tokens, done.usage?.total_tokens);
    // The response is a session with its exchange in it.
    const sessions = await sys.http(token, 'GET', '/v1/sessions');
    assert.equal(sessions.body.sessions.length, 1);
    assert.equal(sessions.body.sessions[0].messageCount, 2);
    assert.equal(
      (await client.responses.retrieve(created.id)).output_text,
      done.output_text,
      'stable once ended',
    );
    const metrics = await fetch(`${sys.baseUrl}/metrics`).then((r) => r.text());
    assert.match(metrics, /chat_requests_total\{method="responses",status="done"\} [1-9]/);
  });

  it('a stream dropped mid-reply re-attaches with starting_after: each event exactly once, in order', async () => {
    const { client } = await newKeyUser();
    const stream = await client.responses.create({
      model: model(),
      input: 'Long answer [[tokens:40]] [[delay_ms:40]]',
      background: true,
      stream: true,
    });
    const seen: ResponseStreamEvent[] = [];
    for await (const e of stream) {
      seen.push(e);
      if (seen.filter((x) => x.type === 'response.output_text.delta').length >= 3) break; // drops the connection
    }
    const created = seen[0];
    assert.ok(created?.type === 'response.created');
    const id = created.response.id;
    const last = seen.at(-1)!.sequence_number;
    const rest: ResponseStreamEvent[] = [];
    const again = await client.responses.retrieve(id, { stream: true, starting_after: last });
    for await (const e of again) rest.push(e);
    const all = [...seen, ...rest];
    assert.deepEqual(
      all.map((e) => e.sequence_number),
      all.map((_, i) => i),
      'consecutive from 0, none twice',
    );
    assert.equal(all.filter((e) => e.type === 'response.completed').length, 1);
    assert.equal(all.at(-1)?.type, 'response.completed');
    const final = await client.responses.retrieve(id);
    assert.equal(textOf(all), final.output_text);
    assert.equal(final.usage?.output_tokens, 40);

    // After the end, the same re-attach answers the same events again; past the end is refused.
    const replay: ResponseStreamEvent[] = [];
    for await (const e of await client.responses.retrieve(id, {
      stream: true,
      starting_after: last,
    }))
      replay.push(e);
    assert.deepEqual(replay, rest);
    for (const bad of [all.length, all.length + 100, -1]) {
      await assert.rejects(
        client.responses.retrieve(id, { stream: true, starting_after: bad }),
        (err: unknown) => {
          assert.ok(err instanceof BadRequestError, String(err));
          assert.equal(err.param, 'starting_after');
          return true;
        },
      );
    }
  });

  it('re-attaches while the run goes on and gets the live events to the end', async () => {
    const { client } = await newKeyUser();
    const created = await client.responses.create({
      model: model(),
      input: 'Go on [[tokens:30]] [[delay_ms:40]]',
      background: true,
    });
    await eventually(
      'some text',
      async () => (await client.responses.retrieve(created.id)).output_text.length > 0,
    );
    const events: ResponseStreamEvent[] = [];
    for await (const e of await client.responses.retrieve(created.id, { stream: true }))
      events.push(e);
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    assert.equal(events.at(-1)?.type, 'response.completed');
    assert.equal(textOf(events), (await client.responses.retrieve(created.id)).output_text);
  });

  it('the responses.stream helper works unchanged and its final response is the stored one', async () => {
    const { client } = await newKeyUser();
    const stream = client.responses.stream({ model: model(), input: 'Stream me [[tokens:12]]' });
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    const stored = await client.responses.retrieve(final.id);
    assert.equal(stored.output_text, final.output_text);
    assert.equal(stored.usage?.output_tokens, 12);
  });

  it('cancel mid-run ends the response cancelled; cancelling again answers its final state', async () => {
    const { client, userId } = await newKeyUser();
    const created = await client.responses.create({
      model: model(),
      input: 'Slow [[tokens:300]] [[delay_ms:50]]',
      background: true,
    });
    await eventually(
      'some text',
      async () => (await client.responses.retrieve(created.id)).output_text.length > 0,
    );
    const cancelled = await client.responses.cancel(created.id);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal((await client.responses.retrieve(created.id)).status, 'cancelled');
    assert.equal((await client.responses.cancel(created.id)).status, 'cancelled');
    // A finished response: cancel answers it as it ended.
    const plain = await client.responses.create({ model: model(), input: 'quick' });
    assert.equal(plain.status, 'completed');
    assert.equal((await client.responses.cancel(plain.id)).status, 'completed');
    const rows = await ledgerRows(sys.api.deps.db, userId);
    assert.ok(
      rows.filter((r) => r.request_id === requestIdOfResponse(created.id)).length <= 1,
      'billed at most once',
    );
  });

  it('chains three responses into one session whose history reaches the LLM; instructions reach it too', async () => {
    const { client, token } = await newKeyUser();
    const r1 = await client.responses.create({ model: model(), input: 'My name is Ada.' });
    const r2 = await client.responses.create({
      model: model(),
      input: 'I like tea.',
      previous_response_id: r1.id,
    });
    const r3 = await client.responses.create({
      model: model(),
      input: 'What do you know?',
      previous_response_id: r2.id,
      instructions: 'Answer like a pirate',
    });
    assert.equal(r3.previous_response_id, r2.id);
    const call = sys.llm.stats.calls
      .filter((c) => c.lastUserMessage === 'What do you know?')
      .at(-1);
    // system prompt + three user messages + two replies
    assert.equal(call?.messageCount, 6);
    assert.match(r3.output_text, /\(messages: 6\)/);
    assert.match(call?.system ?? '', /Answer like a pirate/);
    const sessions = await sys.http(token, 'GET', '/v1/sessions');
    assert.equal(sessions.body.sessions.length, 1, 'one chain, one session');
    assert.equal(sessions.body.sessions[0].messageCount, 6);
    assert.equal(sessions.body.sessions[0].title, 'My name is Ada.');
    // Deleting the session deletes its responses.
    const deleted = await sys.http(
      token,
      'DELETE',
      `/v1/sessions/${sessions.body.sessions[0].sessionId}`,
    );
    assert.equal(deleted.status, 204);
    await assert.rejects(client.responses.retrieve(r3.id), NotFoundError);
    await assert.rejects(
      client.responses.create({ model: model(), input: 'more', previous_response_id: r3.id }),
      NotFoundError,
    );
  });

  it('client tools round trip: a function_call item, then function_call_output continues', async () => {
    const { client } = await newKeyUser();
    const tools: OpenAI.Responses.Tool[] = [
      {
        type: 'function',
        name: 'get_weather',
        description: 'Weather in a city',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string' } },
          required: ['city'],
        },
        strict: false,
      },
    ];
    const first = await client.responses.create({
      model: model(),
      input: 'Weather in Paris? [[tool:get_weather {"city":"Paris"}]]',
      tools,
    });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call && call.type === 'function_call', JSON.stringify(first.output));
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
    const second = await client.responses.create({
      model: model(),
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"tempC":21}' }],
      tools,
    });
    assert.equal(second.status, 'completed');
    assert.match(second.output_text, /get_weather returned: \{"tempC":21\}/);
  });

  it('over quota: a plain create is the SDK RateLimitError, a background one ends failed with quota_exceeded', async () => {
    const { client, userId } = await newKeyUser();
    await client.models.list(); // the user exists
    await sys.api.deps.db.query(
      'INSERT INTO user_quota_overrides (user_id, daily_tokens) VALUES ($1, 10)',
      [userId],
    );
    await assert.rejects(
      client.responses.create({ model: model(), input: 'too much' }),
      (err: unknown) => {
        assert.ok(err instanceof RateLimitError, String(err));
        assert.equal(err.code, 'quota_exceeded');
        assert.ok(Number(err.headers?.get('retry-after')) > 0);
        return true;
      },
    );
    const created = await client.responses.create({
      model: model(),
      input: 'too much, later',
      background: true,
    });
    const ended = await pollToEnd(client, created.id);
    assert.equal(ended.status, 'failed');
    assert.equal(ended.error?.code, 'quota_exceeded');
    assert.equal((await ledgerRows(sys.api.deps.db, userId)).length, 0, 'nothing billed');
  });

  it('max_output_tokens cuts the reply: status incomplete', async () => {
    const { client } = await newKeyUser();
    const r = await client.responses.create({
      model: model(),
      input: 'Long [[tokens:50]]',
      max_output_tokens: 10,
    });
    assert.equal(r.status, 'incomplete');
    assert.equal(r.incomplete_details?.reason, 'max_output_tokens');
    assert.equal(r.usage?.output_tokens, 10);
  });

  it('the same Idempotency-Key answers the same response and runs (and bills) once', async () => {
    const { client, userId } = await newKeyUser();
    const headers = { 'Idempotency-Key': 'job-42' };
    const a = await client.responses.create(
      { model: model(), input: 'Once [[tokens:8]]', background: true },
      { headers },
    );
    const b = await client.responses.create(
      { model: model(), input: 'Once [[tokens:8]]', background: true },
      { headers },
    );
    assert.equal(a.id, b.id);
    await pollToEnd(client, a.id);
    const rows = await waitForRows(sys.api.deps.db, userId, 1);
    assert.equal(rows.length, 1);
    assert.equal(
      sys.llm.stats.calls.filter((c) => c.lastUserMessage === 'Once [[tokens:8]]').length,
      1,
    );
  });

  it('delete: the response is gone (404), another user never sees it', async () => {
    const { client } = await newKeyUser();
    const other = await newKeyUser();
    const r = await client.responses.create({ model: model(), input: 'to delete' });
    await assert.rejects(other.client.responses.retrieve(r.id), NotFoundError);
    await assert.rejects(other.client.responses.cancel(r.id), NotFoundError);
    await assert.rejects(other.client.responses.delete(r.id), NotFoundError);
    const res = await fetch(`${sys.baseUrl}/v1/responses/${r.id}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${client.apiKey}` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: r.id, object: 'response.deleted', deleted: true });
    await assert.rejects(client.responses.retrieve(r.id), NotFoundError);
    await assert.rejects(client.responses.delete(r.id), NotFoundError);
  });

  it('bad input answers 400/404 in OpenAI error shape and bills nothing', async () => {
    const { client, userId } = await newKeyUser();
    const other = await newKeyUser();
    const theirs = await other.client.responses.create({ model: model(), input: 'mine' });
    const deleted = await client.responses.create({ model: model(), input: 'soon gone' });
    await client.responses.delete(deleted.id);
    const before = (await ledgerRows(sys.api.deps.db, userId)).length;
    const badRequests: Array<[Record<string, unknown>, string]> = [
      [{ input: 'x', store: false, background: true }, 'store'],
      [{ input: '' }, 'input'],
      [{ input: [] }, 'input'],
      [{ input: { role: 'user' } }, 'input'],
    ];
    for (const [body, param] of badRequests) {
      await assert.rejects(
        client.responses.create({ model: model(), ...body } as never),
        (err: unknown) => {
          assert.ok(err instanceof BadRequestError, `${JSON.stringify(body)}: ${String(err)}`);
          assert.equal(err.param, param);
          assert.equal(err.code, 'bad_request');
          return true;
        },
      );
    }
    for (const previous of [
      'resp_00000000000000000000000000000000',
      'not-an-id',
      theirs.id,
      deleted.id,
    ]) {
      await assert.rejects(
        client.responses.create({ model: model(), input: 'go on', previous_response_id: previous }),
        (err: unknown) => {
          assert.ok(err instanceof NotFoundError, `${previous}: ${String(err)}`);
          assert.equal(err.param, 'previous_response_id');
          return true;
        },
      );
    }
    await assert.rejects(
      client.responses.retrieve('resp_00000000000000000000000000000000'),
      NotFoundError,
    );
    assert.equal((await ledgerRows(sys.api.deps.db, userId)).length, before, 'nothing billed');
  });

  it('a response whose workflow ended without its end in the log is never left in_progress', async () => {
    const { client, userId } = await newKeyUser();
    const created = await client.responses.create({
      model: model(),
      input: 'Stuck [[tokens:300]] [[delay_ms:50]]',
      background: true,
    });
    await eventually(
      'some text',
      async () => (await client.responses.retrieve(created.id)).output_text.length > 0,
    );
    const requestId = requestIdOfResponse(created.id)!;
    await sys.temporal.workflow.getHandle(chatWorkflowId(userId, requestId)).terminate('operator');
    const r = await eventually('the response to end', async () => {
      const got = await client.responses.retrieve(created.id);
      return got.status !== 'in_progress' && got;
    });
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.code, 'internal');
  });

  it('once the event log has expired, the response is rebuilt from the session and the ledger', async () => {
    const { client, userId } = await newKeyUser();
    const done = await client.responses.create({ model: model(), input: 'Keep me [[tokens:9]]' });
    await eventually('its final status recorded', async () => {
      const { rows } = await sys.api.deps.db.query('SELECT status FROM responses WHERE id = $1', [
        done.id,
      ]);
      return rows[0]?.status === 'completed';
    });
    const k = requestKeys(userId, requestIdOfResponse(done.id)!);
    await sys.api.deps.redis.del(k.stream, k.seq, k.end, k.once, k.fence);
    const rebuilt = await client.responses.retrieve(done.id);
    assert.equal(rebuilt.status, 'completed');
    assert.equal(rebuilt.output_text, done.output_text);
    assert.deepEqual(rebuilt.usage, done.usage);
    const events: ResponseStreamEvent[] = [];
    for await (const e of await client.responses.retrieve(done.id, { stream: true }))
      events.push(e);
    assert.equal(textOf(events), done.output_text);
    assert.equal(events.at(-1)?.type, 'response.completed');
  });

  it('a log lost before anyone saw the end is written again from the workflow, usage from the ledger', async () => {
    const { client, userId } = await newKeyUser();
    const created = await client.responses.create({
      model: model(),
      input: 'Lost log [[tokens:7]]',
      background: true,
    });
    const requestId = requestIdOfResponse(created.id)!;
    await sys.temporal.workflow.getHandle(chatWorkflowId(userId, requestId)).result();
    const k = requestKeys(userId, requestId);
    await sys.api.deps.redis.del(k.stream, k.seq, k.end, k.once, k.fence);
    const r = await client.responses.retrieve(created.id);
    assert.equal(r.status, 'completed');
    assert.equal(r.usage?.output_tokens, 7);
    assert.ok(r.output_text.length > 0);
  });

  it('a response past RESPONSE_TTL_DAYS is gone', async () => {
    const { client } = await newKeyUser();
    const r = await client.responses.create({ model: model(), input: 'old news' });
    await sys.api.deps.db.query(
      "UPDATE responses SET expires_at = now() - interval '1 second' WHERE id = $1",
      [r.id],
    );
    await assert.rejects(client.responses.retrieve(r.id), NotFoundError);
    await assert.rejects(
      client.responses.create({ model: model(), input: 'more', previous_response_id: r.id }),
      NotFoundError,
    );
  });

  it('store:false answers once and leaves nothing to retrieve', async () => {
    const { client, token } = await newKeyUser();
    const r = await client.responses.create({
      model: model(),
      input: 'ephemeral [[tokens:5]]',
      store: false,
    });
    assert.equal(r.status, 'completed');
    await assert.rejects(client.responses.retrieve(r.id), NotFoundError);
    const sessions = await sys.http(token, 'GET', '/v1/sessions');
    assert.equal(sessions.body.sessions.length, 0);
  });
});
