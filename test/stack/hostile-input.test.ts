/**
 * Regression tests of issue 20 ("nobody gets in, nothing crashes"), on the real stack:
 * hostile token claims, failures on the WebSocket upgrade path, crafted cursors, deeply
 * nested JSON, and work done before auth and limits.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { requestIdForKey } from '../../api/openai/routes';
import { ChatRateLimiter } from '../../api/rate-limit';
import { createLogger } from '../../lib/logger';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import { TestClient, UpgradeRefused } from '../../testkit/ws-client';

let sys: TestSystem;
/** Rejections nothing handled while this file ran: each one would have ended a real API process. */
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);
/** What the API and the activities logged (JSON lines), and the Temporal worker's warnings and errors. */
const appLog: string[] = [];
const workerLog: LogEntry[] = [];

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  // Before any connection: the Runtime (and its logger) is created once per process.
  Runtime.install({ logger: new DefaultLogger('WARN', (entry) => workerLog.push(entry)) });
  sys = await startSystem({
    logger: createLogger({ service: 'test' }, 'info', (line) => appLog.push(line)),
  });
});
after(async () => {
  process.off('unhandledRejection', onUnhandled);
  await sys?.stop();
});

/** Opens a socket with this token; the refusal's status and body, or 'open'. Never hangs. */
async function upgrade(token: string): Promise<{ status: number; body: any } | 'open'> {
  try {
    const client = await Promise.race([
      TestClient.connect(sys.wsUrl, { Authorization: `Bearer ${token}` }),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error('the upgrade got no answer within 10 s')),
          10_000,
        ).unref(),
      ),
    ]);
    await client.close();
    return 'open';
  } catch (err) {
    if (!(err instanceof UpgradeRefused)) throw err;
    return { status: err.status, body: err.body ? JSON.parse(err.body) : undefined };
  }
}

/** A normal user still gets through: the API survived. */
async function stillServes(): Promise<void> {
  const { token } = sys.newUser();
  assert.equal((await sys.http(token, 'POST', '/v1/sessions')).status, 201);
  assert.equal(await upgrade(token), 'open');
  assert.deepEqual(unhandled, [], 'no rejection was left unhandled');
}

describe('token claims', () => {
  it('a correctly signed token with a NUL or lone surrogate in `name` is 401 on HTTP and on the WebSocket', async () => {
    for (const name of ['evil\u0000name', 'x\udc00', 'n'.repeat(10_000)]) {
      const token = jwt.sign({ sub: randomUUID(), name }, sys.config.jwtSecret, {
        algorithm: 'HS256',
        expiresIn: 60,
      });
      const http = await sys.http(token, 'POST', '/v1/sessions');
      assert.equal(http.status, 401, JSON.stringify(http.body));
      assert.equal(http.body.error.code, 'unauthorized');
      const ws = await upgrade(token);
      assert.notEqual(ws, 'open');
      assert.equal(ws !== 'open' && ws.status, 401);
      assert.equal(ws !== 'open' && ws.body.error.code, 'unauthorized');
    }
    await stillServes();
  });
});

describe('the WebSocket upgrade path', () => {
  it('a database error while a new user socket opens answers 503, and the process goes on', async () => {
    const users = sys.api.deps.users;
    const ensure = users.ensure.bind(users);
    users.ensure = () => Promise.reject(new Error('connection terminated unexpectedly'));
    try {
      const ws = await upgrade(sys.newUser().token);
      assert.notEqual(ws, 'open');
      assert.equal(ws !== 'open' && ws.status, 503);
      assert.equal(ws !== 'open' && ws.body.error.code, 'internal');
    } finally {
      users.ensure = ensure;
    }
    await stillServes();
  });
});

describe('pagination cursors', () => {
  it('a crafted cursor (impossible date, malformed id) answers 400 bad_request, never reaching Postgres', async () => {
    const { token } = sys.newUser();
    await sys.createSession(token);
    const id = randomUUID();
    const crafted: unknown[] = [
      ['9999-99-99 99:99:99+00', id],
      ['2026-02-31 10:00:00+00', id],
      ['2026-12-02 24:00:00+00', id],
      ['2026-12-02 04:24:20.123456+99', id],
      ['0000-01-01 00:00:00+00', id],
      ['2026-12-02 04:24:20+00', '------------------------------------'],
      ['2026-12-02 04:24:20+00', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'],
      ['2026-12-02 04:24:20+00', id.toUpperCase()],
      ['2026-12-02 04:24:20+00', id, 'extra'],
      [1, id],
      { at: '2026-12-02 04:24:20+00', id },
    ];
    for (const c of crafted) {
      const cursor = Buffer.from(JSON.stringify(c)).toString('base64url');
      const res = await sys.http(token, 'GET', `/v1/sessions?cursor=${cursor}`);
      assert.equal(res.status, 400, `${JSON.stringify(c)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'bad_request');
    }
    // A well-formed position is a valid cursor (cursors are opaque, not signed).
    const ok = Buffer.from(JSON.stringify(['2026-12-02 04:24:20.123456+00', id])).toString(
      'base64url',
    );
    assert.equal((await sys.http(token, 'GET', `/v1/sessions?cursor=${ok}`)).status, 200);
  });
});

describe('malformed URLs', () => {
  it('a path parameter with a broken %-escape is 400 bad_request (found by test/stack/fuzz.test.ts)', async () => {
    const { token } = sys.newUser();
    for (const path of [
      '/v1/sessions/%',
      '/v1/sessions/%E0%A4%A/messages',
      '/v1/tasks/%zz',
      '/v1/me/api-keys/%',
    ]) {
      const res = await sys.http(token, path.startsWith('/v1/tasks') ? 'GET' : 'DELETE', path);
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'bad_request');
    }
  });
});

describe('deeply nested JSON', () => {
  /** `{"a":{"a":...1...}}`, `levels` deep. */
  const nested = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

  it('a completion with 100,000 levels in tools[].function.parameters is 400 and spends no rate-limit slot', async () => {
    const { userId, token } = sys.newUser();
    const body =
      '{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":' +
      nested(100_000) +
      '}}]}';
    const res = await sys.http(token, 'POST', '/v1/chat/completions', body);
    assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 300));
    assert.equal(res.body.error.code, 'bad_request');
    assert.match(res.body.error.message, /deeper than 64 levels/);
    assert.equal(
      await sys.api.deps.redis.zcard(ChatRateLimiter.key(userId)),
      0,
      'no rate-limit slot was spent',
    );
    // Every JSON body is measured, whatever the route.
    const patch = await sys.http(
      token,
      'PATCH',
      '/v1/me',
      `{"nickname":"x","extra":${nested(65)}}`,
    );
    assert.equal(patch.status, 400);
    assert.equal(patch.body.error.code, 'bad_request');
    assert.equal(
      (await sys.http(token, 'PATCH', '/v1/me', `{"nickname":"x","extra":${nested(60)}}`)).status,
      200,
    );
    await stillServes();
  });

  it('a WebSocket frame nested too deep answers bad_request, starts nothing, and the socket stays usable', async () => {
    const { userId, sessionId, client } = await sys.newChat();
    const requestId = randomUUID();
    client.send(
      `{"type":"chat","requestId":"${requestId}","sessionId":"${sessionId}","content":"hi","extra":${'['.repeat(30_000)}${']'.repeat(30_000)}}`,
    );
    const err = await client.waitFor((fs) => fs.find((f) => f.type === 'error'));
    assert.equal(err.code, 'bad_request');
    assert.match(String(err.message), /deeper than 64 levels/);
    assert.equal(
      await sys.api.deps.redis.zcard(ChatRateLimiter.key(userId)),
      0,
      'no rate-limit slot was spent',
    );
    client.send({ type: 'ping' });
    await client.waitFor((fs) => fs.find((f) => f.type === 'pong'));
    await client.close();
  });
});

describe('work before auth and limits', () => {
  it('a 1 MiB body with no or an invalid token is refused 401 without being parsed', async () => {
    // Not JSON, and past the general body limit: parsing first answered 400 or 413.
    const body = `{${'x'.repeat(1024 * 1024 - 64)}`;
    for (const token of [undefined, 'not-a-token']) {
      for (const path of ['/v1/chat/completions', '/v1/sessions']) {
        const res = await sys.http(token, 'POST', path, body);
        assert.equal(res.status, 401, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'unauthorized');
      }
    }
    await stillServes();
  });

  it('a completion refused by the rate limit writes nothing before the refusal', async () => {
    const { userId, token } = sys.newUser();
    const redis = sys.api.deps.redis;
    const [seconds, micros] = await redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    for (let i = 0; i < sys.config.rateLimitPerMinute; i++) {
      await redis.zadd(ChatRateLimiter.key(userId), now, `earlier-${i}`);
    }
    const res = await fetch(`${sys.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        'Idempotency-Key': 'refused-1',
      },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 429);
    assert.equal(((await res.json()) as any).error.code, 'rate_limited');
    const requestId = requestIdForKey(userId, 'refused-1');
    assert.deepEqual(await redis.keys(`*${requestId}*`), [], 'no key of the refused request');
  });

  it("a user's 21st WebSocket is refused 429 rate_limited; closing one frees its slot", async () => {
    const { token } = sys.newUser();
    assert.equal(sys.config.wsMaxConnectionsPerUser, 20, 'the default');
    const open: TestClient[] = [];
    for (let i = 0; i < 20; i++) open.push(await sys.connect(token));
    const refused = await upgrade(token);
    assert.notEqual(refused, 'open');
    assert.equal(refused !== 'open' && refused.status, 429);
    assert.equal(refused !== 'open' && refused.body.error.code, 'rate_limited');
    assert.match(refused !== 'open' ? refused.body.error.message : '', /at most 20 per user/);
    assert.equal(await upgrade(sys.newUser().token), 'open', 'other users are not limited');
    await open.pop()!.close();
    await eventually('a freed slot', async () => (await upgrade(token)) === 'open');
    for (const client of open) await client.close();
  });

  it('a chat into a missing session logs one line, and no stack trace', async () => {
    const { client } = await sys.newChat();
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId: randomUUID(), content: 'hi' });
    assert.equal((await client.end(requestId)).code, 'not_found');
    await client.close();
    const lines = appLog.filter((line) => line.includes(requestId));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /chat into a missing session/);
    assert.doesNotMatch(lines[0]!, /\bat \S+ \(/, 'no stack frames');
    const warnings = workerLog.filter((e) => JSON.stringify(e.meta ?? {}).includes(requestId));
    assert.deepEqual(
      warnings.map((e) => `${e.level} ${e.message}`),
      [],
      'the worker warned about it',
    );
  });
});
