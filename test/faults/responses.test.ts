/**
 * Fault suite (helpers in ./invariants.ts and ./stack.ts): background responses
 * (docs/API.md "Responses API") outlive the processes that started and ran them. The API
 * that took the create is SIGKILLed, then the chat worker running another one; each time
 * the `openai` client retrieves the response from the other API as `completed`, with the
 * whole reply (the one stored in the session) and exactly one ledger row.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { requestIdOfResponse } from '../../store/responses';
import { eventually } from '../../testkit/poll';
import { useFaultStack } from './invariants';

const env = useFaultStack();

/** An `openai` client of a new user on API `apiIndex` (a JWT is a bearer key like any). */
async function newClient(apiIndex: number) {
  const { userId, token, client: socket } = await env.stack.newChat(apiIndex);
  await socket.close();
  const at = (i: number) =>
    new OpenAI({
      apiKey: token,
      baseURL: `http://127.0.0.1:${env.stack.apiPorts[i]}/v1`,
      maxRetries: 0,
    });
  return { userId, at };
}

/** Waits until the response shows some of its reply (its LLM call is streaming). */
function someText(client: OpenAI, id: string) {
  return eventually(
    'the reply to start',
    async () => (await client.responses.retrieve(id)).output_text.length > 0,
    30_000,
  );
}

/** Polls (through `client`) until the response has ended. */
function completed(client: OpenAI, id: string) {
  return eventually(
    `response ${id} to end`,
    async () => {
      const r = await client.responses.retrieve(id).catch(() => undefined);
      return r && r.status !== 'in_progress' && r.status !== 'queued' && r;
    },
    { timeoutMs: 120_000, everyMs: 250 },
  );
}

/** The response ended completed, with the reply its session stored, billed once. */
async function assertWhole(userId: string, r: OpenAI.Responses.Response, what: string) {
  assert.equal(r.status, 'completed', `${what}: ${JSON.stringify(r.error)}`);
  const requestId = requestIdOfResponse(r.id)!;
  const stored = await env.db.query<{ content: string }>(
    "SELECT content FROM chat_messages WHERE request_id = $1 AND role = 'assistant'",
    [requestId],
  );
  assert.equal(stored.rowCount, 1, `${what}: one stored reply`);
  assert.equal(r.output_text, stored.rows[0]?.content, `${what}: the full text`);
  assert.equal(r.usage?.output_tokens, 40, `${what}: the whole reply's usage`);
  await eventually(`${what}: one ledger row`, async () => {
    const { rowCount } = await env.db.query(
      'SELECT 1 FROM usage_records WHERE user_id = $1 AND request_id = $2',
      [userId, requestId],
    );
    return rowCount === 1;
  });
}

describe('fault suite: background responses', () => {
  it('API SIGKILL after a background create: the other API answers it completed', async () => {
    const { userId, at } = await newClient(0);
    const created = await at(0).responses.create({
      input: 'api dies [[tokens:40]] [[delay_ms:60]]',
      background: true,
    });
    await someText(at(0), created.id);
    await env.stack.procs.api0!.kill();
    await assertWhole(userId, await completed(at(1), created.id), 'api kill');
    await env.stack.startApi('api0', env.stack.apiPorts[0]!);
  });

  it('chat worker SIGKILL mid-reply: another worker finishes it, retrieve shows it completed', async () => {
    const { userId, at } = await newClient(0);
    const created = await at(0).responses.create({
      input: 'worker dies [[tokens:40]] [[delay_ms:80]]',
      background: true,
    });
    await someText(at(0), created.id);
    await env.stack.procs.worker!.kill();
    await env.stack.startWorker('worker2');
    await assertWhole(userId, await completed(at(1), created.id), 'worker kill');
  });
});
