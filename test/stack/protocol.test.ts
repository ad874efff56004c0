/**
 * The public contract's refusals: authentication on HTTP and on the upgrade, bad
 * frames, oversized frames, other users' sessions, heartbeats. Real sockets, real stack.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import { TestClient, UpgradeRefused } from '../../testkit/ws-client';

let sys: TestSystem;

before(async () => {
  sys = await startSystem({
    env: { WS_PING_INTERVAL_MS: '300', ALLOWED_ORIGINS: 'https://app.example' },
  });
});
after(async () => {
  await sys?.stop();
});

function badTokens(): Record<string, string> {
  const userId = randomUUID();
  return {
    'wrong signature': jwt.sign({ sub: userId }, 'not-the-secret', { algorithm: 'HS256' }),
    expired: jwt.sign(
      { sub: userId, exp: Math.floor(Date.now() / 1000) - 60 },
      sys.config.jwtSecret,
      {
        algorithm: 'HS256',
      },
    ),
    'subject not a uuid': jwt.sign({ sub: 'bob' }, sys.config.jwtSecret, { algorithm: 'HS256' }),
    garbage: 'not.a.jwt',
  };
}

describe('authentication', () => {
  it('HTTP without a token, or with a bad one, answers 401 with the error body', async () => {
    const res = await sys.http(undefined, 'POST', '/v1/sessions');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'unauthorized');
    for (const [what, token] of Object.entries(badTokens())) {
      const r = await sys.http(token, 'POST', '/v1/sessions');
      assert.equal(r.status, 401, what);
      assert.equal(r.body.error.code, 'unauthorized', what);
    }
  });

  it('the WebSocket upgrade is refused with 401 before upgrading', async () => {
    await assert.rejects(
      TestClient.connect(sys.wsUrl),
      (e: unknown) => e instanceof UpgradeRefused && e.status === 401,
    );
    for (const [what, token] of Object.entries(badTokens())) {
      await assert.rejects(
        TestClient.connect(sys.wsUrl, { Authorization: `Bearer ${token}` }),
        (e: unknown) => e instanceof UpgradeRefused && e.status === 401,
        what,
      );
      await assert.rejects(
        TestClient.connect(`${sys.wsUrl}?token=${encodeURIComponent(token)}`),
        (e: unknown) => e instanceof UpgradeRefused && e.status === 401,
        what,
      );
    }
  });

  it('a browser origin outside the allowlist is refused with 403; an allowed one is accepted', async () => {
    const { token } = sys.newUser();
    const auth = { Authorization: `Bearer ${token}` };
    await assert.rejects(
      TestClient.connect(sys.wsUrl, { ...auth, Origin: 'https://evil.example' }),
      (e: unknown) => e instanceof UpgradeRefused && e.status === 403,
    );
    const ok = await TestClient.connect(sys.wsUrl, { ...auth, Origin: 'https://app.example' });
    ok.send({ type: 'ping' });
    await ok.waitFor((fs) => fs.some((f) => f.type === 'pong'));
    await ok.close();
  });

  it('a token in the query string is accepted', async () => {
    const { token } = sys.newUser();
    const client = await TestClient.connect(`${sys.wsUrl}?token=${token}`);
    client.send({ type: 'ping' });
    await client.waitFor((fs) => fs.some((f) => f.type === 'pong'));
    await client.close();
  });
});

describe('frames', () => {
  it('every malformed frame answers bad_request and the connection stays open', async () => {
    const { token } = sys.newUser();
    const sessionId = await sys.createSession(token);
    const client = await sys.connect(token);
    const bad: unknown[] = [
      'not json',
      '[1,2]',
      'null',
      '"chat"',
      { type: 'nope' },
      { noType: true },
      { type: 'chat' },
      { type: 'chat', sessionId, content: '' },
      { type: 'chat', sessionId, content: 42 },
      { type: 'chat', sessionId: 'not-a-uuid', content: 'hi' },
      { type: 'chat', sessionId, content: 'hi', requestId: 'not-a-uuid' },
      { type: 'resume' },
      { type: 'resume', requestId: randomUUID(), lastEventId: 'abc' },
      { type: 'cancel', requestId: 7 },
    ];
    for (const frame of bad) client.send(frame);
    const errors = await client.waitFor(
      (fs) => fs.length >= bad.length && fs,
      10_000,
      'all answers',
    );
    assert.equal(errors.length, bad.length);
    for (const e of errors) {
      assert.equal(e.type, 'error');
      assert.equal(e.code, 'bad_request');
      assert.equal(typeof e.message, 'string');
    }
    client.send({ type: 'ping' });
    await client.waitFor((fs) => fs.some((f) => f.type === 'pong'));
    assert.equal(client.closeCode, undefined);
    await client.close();
  });

  it('a binary frame answers bad_request', async () => {
    const client = await sys.connect(sys.newUser().token);
    client.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    const e = await client.waitFor((fs) => fs.find((f) => f.type === 'error'));
    assert.equal(e.code, 'bad_request');
    await client.close();
  });

  it('a frame over 64 KiB answers payload_too_large and the socket stays usable', async () => {
    const { token } = sys.newUser();
    const sessionId = await sys.createSession(token);
    const client = await sys.connect(token);
    client.send({ type: 'chat', sessionId, content: 'x'.repeat(70 * 1024) });
    const e = await client.waitFor((fs) => fs.find((f) => f.type === 'error'));
    assert.equal(e.code, 'payload_too_large');
    client.send({ type: 'ping' });
    await client.waitFor((fs) => fs.some((f) => f.type === 'pong'));
    await client.close();
  });

  it('a huge frame closes the socket with 1009', async () => {
    const client = await sys.connect(sys.newUser().token);
    client.send('x'.repeat(sys.config.maxPayloadBytes * 16 + 1));
    await client
      .waitFor(() => client.closeCode !== undefined || undefined, 10_000, 'close')
      .catch(() => undefined);
    assert.equal(client.closeCode, 1009);
  });

  it('a session of another user, or unknown, answers not_found', async () => {
    const owner = sys.newUser();
    const sessionId = await sys.createSession(owner.token);
    const other = sys.newUser();
    const client = await sys.connect(other.token);
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: 'hi' });
    client.send({ type: 'chat', sessionId: randomUUID(), content: 'hi' });
    // Ownership is checked inside the request (so chats survive a Postgres outage):
    // each is accepted, then ends with not_found and nothing else.
    const errors = await client.waitFor((fs) => {
      const ends = fs.filter((f) => f.type === 'error');
      return ends.length >= 2 && ends;
    });
    assert.deepEqual(
      errors.map((e) => e.code),
      ['not_found', 'not_found'],
    );
    assert.ok(errors.some((e) => e.requestId === requestId));
    assert.deepEqual(
      client.frames.filter((f) => f.type !== 'error').map((f) => f.type),
      ['accepted', 'accepted'],
      'nothing of a foreign session is shown',
    );
    const res = await sys.http(other.token, 'GET', `/v1/sessions/${sessionId}/messages`);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
    await client.close();
  });
});

describe('HTTP', () => {
  it('sessions and messages: 201, then 200 with an empty list; bad limit is 400', async () => {
    const { token } = sys.newUser();
    const created = await sys.http(token, 'POST', '/v1/sessions');
    assert.equal(created.status, 201);
    const id = created.body.sessionId as string;
    const list = await sys.http(token, 'GET', `/v1/sessions/${id}/messages?limit=5`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, { messages: [] });
    for (const limit of ['0', 'abc', '501', '1.5']) {
      const r = await sys.http(token, 'GET', `/v1/sessions/${id}/messages?limit=${limit}`);
      assert.equal(r.status, 400, limit);
      assert.equal(r.body.error.code, 'bad_request');
    }
    const notFound = await sys.http(token, 'GET', '/v1/sessions/not-a-uuid/messages');
    assert.equal(notFound.status, 404);
  });

  it('bad JSON is 400, too large is 413, unknown route is 404 — never a stack trace', async () => {
    const { token } = sys.newUser();
    const bad = await sys.http(token, 'POST', '/v1/sessions', '{oops');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'bad_request');
    const big = await sys.http(token, 'POST', '/v1/sessions', { x: 'y'.repeat(70 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'payload_too_large');
    const none = await sys.http(token, 'GET', '/v1/nothing');
    assert.equal(none.status, 404);
    for (const r of [bad, big, none]) assert.doesNotMatch(JSON.stringify(r.body), /at .*\.ts:\d+/);
  });

  it('healthz reports every check ok', async () => {
    const res = await sys.http(undefined, 'GET', '/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      status: 'ok',
      checks: { temporal: 'ok', redis: 'ok', postgres: 'ok', workers: 'ok' },
    });
  });
});

describe('heartbeat', () => {
  it('a client that stops answering pings is dropped; a live one is kept', async () => {
    // The server's end of each socket, by the client's port, to see it terminated.
    const serverEnds = new Map<number, Socket>();
    const onUpgrade = (_req: unknown, socket: Socket) =>
      serverEnds.set(socket.remotePort ?? 0, socket);
    sys.api.server.on('upgrade', onUpgrade);
    const live = await sys.connect(sys.newUser().token);
    const dead = await sys.connect(sys.newUser().token);
    sys.api.server.off('upgrade', onUpgrade);
    type RawSocket = { _socket: Socket };
    const deadEnd = serverEnds.get((dead.ws as unknown as RawSocket)._socket.localPort ?? -1);
    const liveEnd = serverEnds.get((live.ws as unknown as RawSocket)._socket.localPort ?? -1);
    assert.ok(deadEnd && liveEnd);
    // Stop the dead client's automatic pong by pausing its socket.
    (dead.ws as unknown as RawSocket)._socket.pause();
    // Terminated after missing a ping; the live one lived through the same pings.
    await eventually('the dead socket terminated', () => deadEnd.destroyed, 10_000);
    assert.equal(liveEnd.destroyed, false);
    live.send({ type: 'ping' });
    await live.waitFor((fs) => fs.some((f) => f.type === 'pong'));
    assert.equal(live.closeCode, undefined);
    (dead.ws as unknown as RawSocket)._socket.resume();
    await dead
      .waitFor(() => dead.closeCode !== undefined || undefined, 5000, 'dead socket closed')
      .catch(() => undefined);
    assert.notEqual(dead.closeCode, undefined, 'dead socket was terminated');
    await live.close();
  });
});
