/**
 * Models and providers on the real stack (docs/API.md "Models and providers"): two
 * embedded LLM instances are two providers of one model's route, and play the outages
 * for real: the first refuses, hangs, cuts its stream, or both are down. Also the model
 * per request (unknown ones refused, the context budget of the chosen one), cost in the
 * ledger and the usage report, and the shared circuit breaker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import OpenAI, { NotFoundError } from 'openai';
import { chatWorkflowId } from '../../contracts/chat';
import { llmFirstTokenSeconds, llmRequestsTotal } from '../../lib/metrics';
import { startLocalLlm, type LocalLlm } from '../../local-llm/server';
import { freePort } from '../../testkit/free-port';
import { eventually } from '../../testkit/poll';
import { contentOf, postSse } from '../../testkit/sse';
import { startSystem, type TestSystem } from '../../testkit/system';
import { counterValue, ledgerRows, waitForRows } from '../../testkit/usage';
import { reassemble } from '../../testkit/ws-client';

let sys: TestSystem;
let a: LocalLlm;
let b: LocalLlm;
let dir: string;
/** Provider names unique to this run: breaker keys in Redis are per provider name. */
const A = `a-${randomUUID().slice(0, 6)}`;
const B = `b-${randomUUID().slice(0, 6)}`;
/** A provider whose port nothing listens on: every connection is refused. */
const GONE = `gone-${randomUUID().slice(0, 6)}`;
const B_PRICE = { inputPerMTok: 2, outputPerMTok: 8 };
const DUO_PRICE = { inputPerMTok: 1, outputPerMTok: 4 };
const BREAKER_FAILURES = 3;
const ATTEMPTS = 2;

before(async () => {
  a = await startLocalLlm({ port: 0, name: 'a' });
  b = await startLocalLlm({ port: 0, name: 'b' });
  dir = mkdtempSync(path.join(os.tmpdir(), 'llm-config-'));
  const file = path.join(dir, 'llm.json');
  writeFileSync(
    file,
    JSON.stringify({
      providers: {
        [A]: { baseUrl: a.url },
        [B]: { baseUrl: b.url, prices: { 'gpt-4o-mini': B_PRICE } },
        [GONE]: { baseUrl: `http://127.0.0.1:${await freePort()}/v1` },
      },
      models: {
        duo: { route: [`${A}/gpt-4o-mini`, `${B}/gpt-4o-mini`], price: DUO_PRICE },
        tiny: { route: [`${B}/gpt-4o-mini`], contextWindow: 1500 },
        fallback: { route: [`${GONE}/gpt-4o-mini`, `${B}/gpt-4o-mini`] },
      },
      defaultModel: 'duo',
    }),
  );
  sys = await startSystem({
    env: {
      LLM_CONFIG: file,
      LLM_FIRST_TOKEN_TIMEOUT_MS: '1000',
      LLM_BREAKER_FAILURES: String(BREAKER_FAILURES),
      LLM_BREAKER_COOLDOWN_MS: '600000',
      LLM_MAX_ATTEMPTS: String(ATTEMPTS),
    },
  });
});

after(async () => {
  await sys?.stop();
  await a?.close();
  await b?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  a.setFaults({});
  b.setFaults({});
  const keys = [A, B].flatMap((p) => ['open', 'failures', 'tripped'].map((k) => `breaker:{llm-provider:${p}}:${k}`));
  await sys.api.deps.redis.del(...keys);
});

/** Calls the instance saw for messages containing `marker`. */
const callsOf = (llm: LocalLlm, marker: string) => llm.stats.calls.filter((c) => c.lastUserMessage.includes(marker));

/** A WebSocket chat on `model`; resolves with the terminal frame and the request's frames. */
async function chat(content: string, model?: string) {
  const { client, sessionId, userId, token } = await sys.newChat();
  const requestId = randomUUID();
  client.send({ type: 'chat', requestId, sessionId, content, ...(model ? { model } : {}) });
  const end = await client.end(requestId, 30_000);
  const frames = client.of(requestId);
  await client.close();
  return { end, frames, userId, token, requestId };
}

describe('failover between providers', () => {
  it('the first refuses: the second answers, one ledger row at its price, costUsd in the usage report', async () => {
    a.setFaults({ failStatus: 503 });
    const marker = randomUUID();
    const failedBefore = await counterValue(llmRequestsTotal, { provider: A, outcome: 'failed' });
    const { end, frames, userId, token } = await chat(`refused ${marker} [[tokens:20]]`);
    assert.equal(end.type, 'done', JSON.stringify(frames.slice(-3)));
    assert.match(String(end.content), /^\[b\] /);
    assert.equal(frames.filter((f) => f.type === 'restart').length, 0, 'nothing to take back');
    assert.deepEqual(callsOf(a, marker).map((c) => c.status), [503]);
    assert.deepEqual(callsOf(b, marker).map((c) => c.status), [200]);
    assert.equal(await counterValue(llmRequestsTotal, { provider: A, outcome: 'failed' }), failedBefore + 1);

    const [row] = await waitForRows(sys.api.deps.db, userId, 1);
    assert.equal(row?.model, 'duo');
    assert.ok(row);
    const expected = (row.prompt_tokens * B_PRICE.inputPerMTok + row.completion_tokens * B_PRICE.outputPerMTok) / 1e6;
    const { rows } = await sys.api.deps.db.query<{ n: number; cost: string }>(
      'SELECT count(*)::int AS n, sum(cost_usd)::text AS cost FROM usage_records WHERE user_id = $1',
      [userId],
    );
    assert.equal(rows[0]?.n, 1, 'one ledger row');
    assert.ok(Math.abs(Number(rows[0]?.cost) - expected) < 1e-9, `cost ${rows[0]?.cost} = ${expected}`);

    const usage = await sys.http(token, 'GET', '/v1/me/usage?days=2');
    assert.equal(usage.status, 200);
    const report = usage.body as { daily: Array<{ costUsd: number }>; month: { costUsd: number } };
    assert.ok(Math.abs((report.daily[1]?.costUsd ?? NaN) - expected) < 1e-9, JSON.stringify(report));
    assert.equal(report.daily[0]?.costUsd, 0, 'yesterday cost nothing');
    assert.ok(Math.abs(report.month.costUsd - expected) < 1e-9);
  });

  it('the first refuses the connection: the second answers at once', async () => {
    const refused = await counterValue(llmRequestsTotal, { provider: GONE, outcome: 'failed' });
    const { end, frames } = await chat(`connect ${randomUUID()}`, 'fallback');
    assert.equal(end.type, 'done', JSON.stringify(frames.slice(-3)));
    assert.match(String(end.content), /^\[b\] /);
    assert.equal(await counterValue(llmRequestsTotal, { provider: GONE, outcome: 'failed' }), refused + 1);
  });

  it('the first hangs: the second answers after the first-token timeout', async () => {
    a.setFaults({ hang: true });
    const marker = randomUUID();
    const timedOut = await counterValue(llmRequestsTotal, { provider: A, outcome: 'timeout' });
    const observed = async () =>
      (await llmFirstTokenSeconds.get()).values.filter((v) => v.labels.provider === B && v.metricName?.endsWith('_count')).reduce((n, v) => n + v.value, 0);
    const firstTokensBefore = await observed();
    const { end } = await chat(`hang ${marker}`);
    assert.equal(end.type, 'done');
    assert.match(String(end.content), /^\[b\] /);
    assert.equal(callsOf(a, marker).length, 1, 'the first was asked once, and never answered');
    assert.equal(await counterValue(llmRequestsTotal, { provider: A, outcome: 'timeout' }), timedOut + 1);
    assert.equal(await observed(), firstTokensBefore + 1, "the second's first token is timed");
  });

  it('the first cuts mid-reply: the WebSocket sees restart, then the full text of the second', async () => {
    a.setFaults({ cutAfter: 5 });
    const { end, frames } = await chat(`cut ${randomUUID()} [[tokens:30]]`);
    assert.equal(end.type, 'done');
    const restartAt = frames.findIndex((f) => f.type === 'restart');
    assert.ok(restartAt > 0, 'a restart frame');
    assert.equal(frames[restartAt]?.reason, 'llm_failover');
    const before = frames.slice(0, restartAt).filter((f) => f.type === 'delta').map((f) => String(f.content)).join('');
    assert.match(before, /^\[a\] /, "the first's partial text came first");
    assert.match(String(end.content), /^\[b\] /);
    assert.equal(reassemble(frames), end.content, 'after restart: exactly the final text');
    assert.equal(frames.filter((f) => f.type === 'done' || f.type === 'error').length, 1);
  });

  it('the first cuts mid-reply: SSE never mixes the two texts; the same key then gives the full reply', async () => {
    a.setFaults({ cutAfter: 5 });
    const { token } = sys.newUser();
    const body = { model: 'duo', messages: [{ role: 'user', content: `sse cut ${randomUUID()} [[tokens:30]]` }], stream: true };
    const headers = { 'Idempotency-Key': randomUUID() };
    const got = await postSse(`${sys.baseUrl}/v1/chat/completions`, token, body, { headers });
    assert.equal(got.status, 200);
    const text = contentOf(got.events.filter((e) => !e.data.includes('"error"')));
    assert.match(text, /^\[a\] /);
    assert.ok(!text.includes('[b]'), `no text of the second: ${text}`);
    const last = JSON.parse(got.events.at(-1)!.data) as { error?: { code: string } };
    assert.equal(last.error?.code, 'llm_unavailable', 'the stream ends rather than mix texts');

    const res = await fetch(`${sys.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ ...body, stream: false }),
    });
    const completion = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    assert.match(completion.choices[0]!.message.content, /^\[b\] /);
  });

  it('both down: llm_unavailable after the retries, nothing billed', async () => {
    a.setFaults({ failStatus: 503 });
    b.setFaults({ failStatus: 500 });
    const marker = randomUUID();
    const { end, userId, requestId } = await chat(`down ${marker}`);
    assert.equal(end.type, 'error');
    assert.equal(end.code, 'llm_unavailable');
    assert.equal(callsOf(a, marker).length, ATTEMPTS, 'each attempt tried the first');
    assert.equal(callsOf(b, marker).length, ATTEMPTS, 'and then the second');
    // The workflow has closed (its failure path bills before it ends): nothing was billed.
    await assert.rejects(sys.temporal.workflow.getHandle(chatWorkflowId(userId, requestId)).result(), WorkflowFailedError);
    assert.deepEqual(await ledgerRows(sys.api.deps.db, userId), []);
  });
});

describe('the model of a request', () => {
  it('GET /v1/models lists the configured models; the openai client sees model_not_found', async () => {
    const { token } = sys.newUser();
    const openai = new OpenAI({ baseURL: `${sys.baseUrl}/v1`, apiKey: token, maxRetries: 0 });
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['duo', 'tiny', 'fallback']);
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      (e: unknown) => e instanceof NotFoundError && e.code === 'model_not_found' && e.param === 'model',
    );
    const answer = await openai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(answer.model, 'tiny');
    assert.match(answer.choices[0]?.message.content ?? '', /^\[b\] /);
  });

  it('an unknown model: WebSocket bad_request, OpenAI doors 404 model_not_found', async () => {
    const { client, sessionId } = await sys.newChat();
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: 'hello', model: 'no-such-model' });
    // Refused at the door: an error frame without eventId, and no request started.
    const refusal = await client.waitFor((fs) => fs.find((f) => f.requestId === requestId && f.type === 'error'));
    assert.equal(refusal.code, 'bad_request');
    assert.match(String(refusal.message), /no-such-model/);
    assert.ok(!client.of(requestId).some((f) => f.type === 'accepted'));
    await client.close();
    const { token } = sys.newUser();
    const res = await sys.http(token, 'POST', '/v1/chat/completions', {
      model: 'no-such-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'model_not_found');
    assert.equal(res.body.error.param, 'model');
    const responses = await sys.http(token, 'POST', '/v1/responses', { model: 'no-such-model', input: 'hi' });
    assert.equal(responses.status, 404, JSON.stringify(responses.body));
    assert.equal(responses.body.error.code, 'model_not_found');
    assert.equal(responses.body.error.param, 'model');
  });

  it("runs on the chosen model's route, within its context window", async () => {
    const marker = randomUUID();
    const small = await chat(`tiny ${marker}`, 'tiny');
    assert.equal(small.end.type, 'done');
    assert.equal(callsOf(a, marker).length, 0, "tiny's route has only the second");
    assert.equal(callsOf(b, marker).length, 1);
    const [row] = await waitForRows(sys.api.deps.db, small.userId, 1);
    assert.equal(row?.model, 'tiny');
    // 1500 tokens - 1024 for the reply - 128 margin: this message does not fit tiny, but duo.
    const long = `long ${'word '.repeat(600)}`;
    const refused = await chat(long, 'tiny');
    assert.equal(refused.end.code, 'context_too_large');
    const fits = await chat(long, 'duo');
    assert.equal(fits.end.type, 'done');
  });
});

describe('tools on a configured model', () => {
  it("summarize_document calls the model's primary under the name it knows, and is priced", async () => {
    const from = a.stats.calls.length;
    const text = `${randomUUID()} ${'The quick brown fox jumps over the lazy dog. '.repeat(12)}`;
    const { end, userId } = await chat(`[[tool:summarize_document ${JSON.stringify({ text, chunkTokens: 50 })}]]`, 'duo');
    assert.equal(end.type, 'done', JSON.stringify(end));
    const toolCalls = a.stats.calls.slice(from).filter((c) => !c.stream);
    assert.ok(toolCalls.length >= 2, `the tool's calls reached the primary (${toolCalls.length})`);
    assert.deepEqual([...new Set(toolCalls.map((c) => c.model))], ['gpt-4o-mini'], 'the upstream name, not "duo"');
    const [row] = await waitForRows(sys.api.deps.db, userId, 1);
    assert.ok(row);
    const { rows } = await sys.api.deps.db.query<{ cost: string }>('SELECT cost_usd::text AS cost FROM usage_records WHERE user_id = $1', [userId]);
    const expected = (row.prompt_tokens * DUO_PRICE.inputPerMTok + row.completion_tokens * DUO_PRICE.outputPerMTok) / 1e6;
    assert.ok(Math.abs(Number(rows[0]?.cost) - expected) < 1e-8, `every token priced, the tool's too: ${rows[0]?.cost} vs ${expected}`);
  });
});

describe('the circuit breaker', () => {
  it('after the first hangs a few times, requests skip it until the cool-down ends', async () => {
    a.setFaults({ hang: true });
    const marker = randomUUID();
    for (let i = 0; i < BREAKER_FAILURES; i++) {
      const { end } = await chat(`breaker ${marker} ${i}`);
      assert.equal(end.type, 'done');
    }
    assert.equal(callsOf(a, marker).length, BREAKER_FAILURES);
    assert.equal(await sys.api.deps.redis.exists(`breaker:{llm-provider:${A}}:open`), 1, 'the breaker is open');
    const skipped = await counterValue(llmRequestsTotal, { provider: A, outcome: 'skipped' });
    const after = 5;
    for (let i = 0; i < after; i++) {
      const { end } = await chat(`breaker ${marker} after ${i}`);
      assert.equal(end.type, 'done');
      assert.match(String(end.content), /^\[b\] /);
    }
    assert.equal(callsOf(a, marker).length, BREAKER_FAILURES, 'the first was not asked again');
    assert.equal(await counterValue(llmRequestsTotal, { provider: A, outcome: 'skipped' }), skipped + after);
    // The cool-down over (its key gone), the next request probes the first: still hanging,
    // one failed probe opens the breaker again at once.
    const open = `breaker:{llm-provider:${A}}:open`;
    await sys.api.deps.redis.del(open);
    const probe = await chat(`breaker ${marker} probe`);
    assert.match(String(probe.end.content), /^\[b\] /);
    assert.equal(callsOf(a, marker).length, BREAKER_FAILURES + 1, 'one probe');
    assert.equal(await sys.api.deps.redis.exists(open), 1, 'open again after one failed probe');
    // Healthy again: the next probe answers and closes the breaker.
    a.setFaults({});
    await sys.api.deps.redis.del(open);
    const healed = await chat(`breaker ${marker} healed`);
    assert.match(String(healed.end.content), /^\[a\] /);
    await eventually('the probe closed the breaker', async () => (await sys.api.deps.redis.exists(`breaker:{llm-provider:${A}}:tripped`)) === 0);
  });
});
