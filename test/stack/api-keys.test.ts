/**
 * API keys through the public API on the real stack (docs/API.md "API keys"): create,
 * list, revoke, tenancy, the 20-key limit, keys on HTTP and the WebSocket, revocation
 * reaching another API process within a second, and keys never in logs or metrics.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ApiServer } from '../../api/server';
import { WS_PATH } from '../../api/server';
import { KEY_CACHE_TTL_MS, MAX_LIVE_KEYS_PER_USER } from '../../users/api-keys';
import { createLogger } from '../../lib/logger';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import { TestClient, UpgradeRefused } from '../../testkit/ws-client';

let sys: TestSystem;
const logLines: string[] = [];
let logged: ApiServer;

before(async () => {
  sys = await startSystem();
  // A second API process whose every log line (debug included) is captured.
  logged = await sys.startAnotherApi(
    createLogger({ service: 'api-keys-test' }, 'debug', (l) => logLines.push(l)),
  );
});
after(async () => {
  await sys?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function get(port: number, path: string, token: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  await res.arrayBuffer();
  return res.status;
}

async function createKey(token: string, name?: string) {
  const res = await sys.http(token, 'POST', '/v1/me/api-keys', name === undefined ? {} : { name });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as {
    keyId: string;
    name: string;
    key: string;
    prefix: string;
    createdAt: string;
  };
}

describe('API keys', () => {
  it('creates (shown once), lists, authenticates as its user, revokes', async () => {
    const { userId, token } = sys.newUser('pro');
    const created = await createKey(token, '  laptop  ');
    assert.deepEqual(Object.keys(created).sort(), ['createdAt', 'key', 'keyId', 'name', 'prefix']);
    assert.match(created.key, /^dck_[A-Za-z0-9_-]{40,}$/);
    assert.equal(created.name, 'laptop');
    assert.ok(created.key.startsWith(created.prefix) && created.prefix.length < created.key.length);

    let list = await sys.http(token, 'GET', '/v1/me/api-keys');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, {
      keys: [
        {
          keyId: created.keyId,
          name: 'laptop',
          prefix: created.prefix,
          createdAt: created.createdAt,
          lastUsedAt: null,
        },
      ],
    });
    assert.ok(!JSON.stringify(list.body).includes(created.key), 'the key is never listed');

    // The key authenticates as its user, with the user's plan.
    const me = await sys.http(created.key, 'GET', '/v1/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.userId, userId);
    assert.equal(me.body.plan, 'pro');
    // The key itself can manage keys too (it is the user).
    list = await sys.http(created.key, 'GET', '/v1/me/api-keys');
    assert.equal(list.status, 200);
    assert.match(String(list.body.keys[0].lastUsedAt), /^\d{4}-\d\d-\d\dT/);

    // Only a hash is stored.
    const rows = await sys.api.deps.db.query<{ key_hash: Buffer; prefix: string }>(
      'SELECT key_hash, prefix FROM api_keys WHERE id = $1',
      [created.keyId],
    );
    assert.equal(rows.rows[0]?.key_hash.length, 32);
    assert.ok(!rows.rows[0]?.key_hash.toString('utf8').includes(created.key));

    const del = await sys.http(token, 'DELETE', `/v1/me/api-keys/${created.keyId}`);
    assert.equal(del.status, 204);
    assert.equal((await sys.http(created.key, 'GET', '/v1/me')).status, 401);
    assert.deepEqual((await sys.http(token, 'GET', '/v1/me/api-keys')).body, { keys: [] });
    // Revoking again: it no longer exists.
    assert.equal((await sys.http(token, 'DELETE', `/v1/me/api-keys/${created.keyId}`)).status, 404);
  });

  it("another user's key answers 404 and keeps working; bad ids and bodies are refused", async () => {
    const a = sys.newUser();
    const b = sys.newUser();
    const key = await createKey(a.token);
    const res = await sys.http(b.token, 'DELETE', `/v1/me/api-keys/${key.keyId}`);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
    assert.equal(
      (await sys.http(b.token, 'DELETE', `/v1/me/api-keys/${randomUUID()}`)).status,
      404,
    );
    assert.equal((await sys.http(b.token, 'DELETE', '/v1/me/api-keys/not-a-uuid')).status, 404);
    assert.deepEqual((await sys.http(b.token, 'GET', '/v1/me/api-keys')).body, { keys: [] });
    assert.equal((await sys.http(key.key, 'GET', '/v1/me')).body.userId, a.userId);

    const bad = await sys.http(a.token, 'POST', '/v1/me/api-keys', { name: 'x'.repeat(101) });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'bad_request');
    assert.equal(
      (await sys.http(a.token, 'POST', '/v1/me/api-keys', { name: 'a\u0000b' })).status,
      400,
    );
    const lone = await sys.http(a.token, 'POST', '/v1/me/api-keys', { name: 'a\ud800b' });
    assert.equal(lone.status, 400);
    assert.match(lone.body.error.message, /lone UTF-16 surrogate/);
    assert.equal((await sys.http(a.token, 'POST', '/v1/me/api-keys', [1])).status, 400);
    // Unknown and malformed keys are 401, like a bad JWT.
    assert.equal((await sys.http('dck_' + 'A'.repeat(43), 'GET', '/v1/me')).status, 401);
    assert.equal((await sys.http('dck_', 'GET', '/v1/me')).status, 401);
  });

  it(`allows at most ${MAX_LIVE_KEYS_PER_USER} live keys, even when created concurrently`, async () => {
    const { token } = sys.newUser();
    const results = await Promise.all(
      Array.from({ length: MAX_LIVE_KEYS_PER_USER + 5 }, () =>
        sys.http(token, 'POST', '/v1/me/api-keys', {}),
      ),
    );
    assert.equal(results.filter((r) => r.status === 201).length, MAX_LIVE_KEYS_PER_USER);
    const refused = results.filter((r) => r.status !== 201);
    assert.equal(refused.length, 5);
    for (const r of refused) assert.equal(r.body.error.code, 'bad_request');
    const list = await sys.http(token, 'GET', '/v1/me/api-keys');
    assert.equal(list.body.keys.length, MAX_LIVE_KEYS_PER_USER);
    // Revoking one frees a slot.
    await sys.http(token, 'DELETE', `/v1/me/api-keys/${list.body.keys[0].keyId}`);
    assert.equal((await sys.http(token, 'POST', '/v1/me/api-keys', {})).status, 201);
  });

  it('a revoked key is refused by another API process within a second', async () => {
    const { token } = sys.newUser();
    const key = await createKey(token);
    // The other process has verified (and cached) the key.
    assert.equal(await get(logged.port, '/v1/me', key.key), 200);
    assert.equal(await get(logged.port, '/v1/me', key.key), 200);
    assert.equal((await sys.http(token, 'DELETE', `/v1/me/api-keys/${key.keyId}`)).status, 204);
    // A TTL wait: pub/sub normally reaches it at once; the cache TTL bounds it to a second.
    await sleep(KEY_CACHE_TTL_MS);
    assert.equal(await get(logged.port, '/v1/me', key.key), 401);
  });

  it('a revoked key is refused by another process at once when it hears the revocation', async () => {
    const { token } = sys.newUser();
    const key = await createKey(token);
    const other = logged.deps.apiKeys;
    assert.ok(await other.verify(key.key));
    await sys.http(token, 'DELETE', `/v1/me/api-keys/${key.keyId}`);
    // Well before the TTL would: the published revocation dropped the cache entry.
    await eventually(
      'the other process refuses the revoked key',
      async () => (await other.verify(key.key)) === undefined,
      { timeoutMs: 10_000, everyMs: 10 },
    );
  });

  it('authenticates WebSockets by header and by ?token=; a revoked key is refused', async () => {
    const { userId, token } = sys.newUser();
    const key = await createKey(token);
    const sessionId = await sys.createSession(key.key);
    const byHeader = await TestClient.connect(sys.wsUrl, { Authorization: `Bearer ${key.key}` });
    const requestId = randomUUID();
    byHeader.send({ type: 'chat', requestId, sessionId, content: 'hi over a key' });
    const done = await byHeader.end(requestId);
    assert.equal(done.type, 'done');
    await byHeader.close();
    const byQuery = await TestClient.connect(
      `ws://127.0.0.1:${logged.port}${WS_PATH}?token=${key.key}`,
    );
    byQuery.send({ type: 'ping' });
    await byQuery.waitFor((f) => f.some((x) => x.type === 'pong'));
    await byQuery.close();
    const owner = await sys.api.deps.db.query('SELECT user_id FROM chat_sessions WHERE id = $1', [
      sessionId,
    ]);
    assert.equal(owner.rows[0]?.user_id, userId);

    await sys.http(token, 'DELETE', `/v1/me/api-keys/${key.keyId}`);
    await sleep(KEY_CACHE_TTL_MS); // a TTL wait: both processes' caches have let the key go
    for (const url of [sys.wsUrl, `ws://127.0.0.1:${logged.port}${WS_PATH}?token=${key.key}`]) {
      await assert.rejects(
        TestClient.connect(url, url.includes('?') ? {} : { Authorization: `Bearer ${key.key}` }),
        (err: unknown) => err instanceof UpgradeRefused && err.status === 401,
      );
    }
  });

  it('never writes a key to logs or metrics', async () => {
    const { token } = sys.newUser();
    const key = await createKey(token);
    const base = `http://127.0.0.1:${logged.port}`;
    // Successful and failing uses on the process whose logs are captured.
    await get(logged.port, '/v1/me', key.key);
    await get(logged.port, '/v1/me/api-keys', key.key);
    await fetch(`${base}/v1/me`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${key.key}`, 'Content-Type': 'application/json' },
      body: '{bad json',
    }).then((r) => r.arrayBuffer());
    const ws = await TestClient.connect(`ws://127.0.0.1:${logged.port}${WS_PATH}?token=${key.key}`);
    ws.send('not json');
    await ws.waitFor((f) => f.some((x) => x.type === 'error'));
    await ws.close();
    // The logger masks keys even when code logs one by mistake.
    logged.deps.logger.error(`request to /v1/ws?token=${key.key} failed`, {
      url: `/x?token=${key.key}`,
      note: key.key,
    });
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());

    assert.ok(logLines.length > 0, 'the logs were captured');
    const secret = key.key.slice(4);
    for (const line of logLines)
      assert.ok(!line.includes(secret), `a log line holds the key: ${line}`);
    assert.ok(
      logLines.some((l) => l.includes('dck_***')),
      'the mistaken line is there, masked',
    );
    assert.ok(!metrics.includes(secret), 'metrics hold the key');
    assert.ok(!metrics.includes(key.prefix), 'metrics hold the key prefix');
  });
});
