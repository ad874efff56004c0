/**
 * Admission control on the real stack (api/admission.ts, docs/API.md "Overload"): past
 * its capacity an API process refuses new chats at once with `overloaded`, the accepted
 * ones finish normally, and room frees as they end.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startSystem, type TestSystem } from '../../testkit/system';
import { reassemble } from '../../testkit/ws-client';

let sys: TestSystem;

before(async () => {
  // Two streams per API process: a small capacity the test can fill.
  sys = await startSystem({ env: { MAX_STREAMS: '2' } });
});
after(async () => {
  await sys?.stop();
});

const LONG = 'keep streaming [[tokens:60]] [[delay_ms:50]]';

describe('overload', () => {
  it('refuses the third concurrent chat at once on both doors; the accepted ones end done; then there is room again', async () => {
    const a = await sys.newChat();
    const b = await sys.newChat();
    const c = await sys.newChat();
    const [ra, rb] = [randomUUID(), randomUUID()];
    a.client.send({ type: 'chat', requestId: ra, sessionId: a.sessionId, content: LONG });
    b.client.send({ type: 'chat', requestId: rb, sessionId: b.sessionId, content: LONG });
    await a.client.waitFor(
      (fs) => fs.some((f) => f.requestId === ra && f.type === 'delta'),
      20_000,
      'a streams',
    );
    await b.client.waitFor(
      (fs) => fs.some((f) => f.requestId === rb && f.type === 'delta'),
      20_000,
      'b streams',
    );

    const rc = randomUUID();
    const sentAt = Date.now();
    c.client.send({ type: 'chat', requestId: rc, sessionId: c.sessionId, content: 'hello' });
    const refusal = await c.client.waitFor(
      (fs) => fs.find((f) => f.requestId === rc && f.type === 'error'),
      10_000,
      'the refusal',
    );
    assert.equal(refusal.code, 'overloaded');
    assert.equal(typeof refusal.retryAfter, 'number');
    assert.ok(Date.now() - sentAt < 5_000, 'refused at once, not after a wait');
    assert.equal(c.client.of(rc).length, 1, 'no accepted frame: nothing was started');

    const http = await sys.http(c.token, 'POST', '/v1/chat/completions', {
      model: sys.config.llm.model,
      messages: [{ role: 'user', content: 'hello' }],
    });
    assert.equal(http.status, 503);
    assert.equal(http.body.error.code, 'overloaded');
    assert.ok(Number(http.headers.get('retry-after')) >= 1, 'Retry-After');

    const [endA, endB] = await Promise.all([a.client.end(ra), b.client.end(rb)]);
    assert.equal(endA.type, 'done');
    assert.equal(endB.type, 'done');
    assert.equal(reassemble(a.client.of(ra)), endA.content, 'the accepted reply is whole');

    // Both streams ended: the next chat is accepted and completes.
    const again = randomUUID();
    c.client.send({
      type: 'chat',
      requestId: again,
      sessionId: c.sessionId,
      content: 'now there is room',
    });
    const end = await c.client.end(again);
    assert.equal(end.type, 'done');
    for (const x of [a, b, c]) await x.client.close();
  });
});
