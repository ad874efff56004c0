/**
 * Payload encryption on the real stack (TEMPORAL_PAYLOAD_KEYS): a chat runs to `done`,
 * and what Temporal stores of it (inputs, results, activity payloads) holds no text of
 * the conversation; a client with the key still reads it (lib/payload-codec.ts decodeRaw).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { chatWorkflowId, type ChatWorkflowInput } from '../../contracts/chat';
import { decodeRaw, ENCRYPTED_ENCODING } from '../../lib/payload-codec';
import { startSystem, type TestSystem } from '../../testkit/system';

let sys: TestSystem;

before(async () => {
  sys = await startSystem({
    env: { TEMPORAL_PAYLOAD_KEYS: `test-1:${randomBytes(32).toString('base64')}` },
  });
});
after(async () => {
  await sys?.stop();
});

void it('a chat completes, and its Temporal history holds no text of the conversation', async () => {
  const { userId, sessionId, client } = await sys.newChat();
  const secret = `secret-${randomUUID()}`;
  const requestId = randomUUID();
  client.send({ type: 'chat', requestId, sessionId, content: `please keep ${secret}` });
  const done = await client.end(requestId);
  assert.equal(done.type, 'done', JSON.stringify(done));
  await client.close();

  // Read the history as anyone with access to Temporal would: without the key.
  const connection = await Connection.connect({ address: sys.config.temporalAddress });
  try {
    const raw = new Client({ connection, namespace: sys.config.temporalNamespace });
    const history = await raw.workflow.getHandle(chatWorkflowId(userId, requestId)).fetchHistory();
    const bytes = Buffer.from(JSON.stringify(history.events));
    assert.equal(bytes.includes(secret), false, 'the message is in the history in clear');
    assert.equal(
      bytes.includes(Buffer.from(secret).toString('base64').slice(0, 20)),
      false,
      'the message is in the history as base64',
    );
    const input =
      history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    assert.equal(Buffer.from(input?.metadata?.encoding ?? []).toString(), ENCRYPTED_ENCODING);
    // With the key (the system's own client) the input reads as sent.
    const decoded = await decodeRaw<ChatWorkflowInput>(sys.temporal.workflow, input!);
    assert.equal(decoded?.content, `please keep ${secret}`);
  } finally {
    await connection.close();
  }
});
