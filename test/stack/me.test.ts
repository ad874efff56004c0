/**
 * `GET /v1/me` and `PATCH /v1/me` through the public API on the real stack, and the
 * chat prompt picking up a profile change at once (the worker's cache is invalidated
 * by the API's update).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startSystem, type TestSystem } from '../../testkit/system';

let sys: TestSystem;

before(async () => {
  sys = await startSystem();
});
after(async () => {
  await sys?.stop();
});

const ME_KEYS = [
  'activeSlots',
  'dailyCap',
  'engagementLevel',
  'isPro',
  'language',
  'nickname',
  'personaType',
  'plan',
  'preferences',
  'timezone',
  'userId',
];

describe('GET /v1/me', () => {
  it('answers the user context in the contract shape, with defaults', async () => {
    const { userId, token } = sys.newUser('pro');
    const res = await sys.http(token, 'GET', '/v1/me');
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ME_KEYS);
    assert.deepEqual(res.body, {
      userId,
      nickname: 'tester',
      timezone: 'Asia/Shanghai',
      language: 'zh-CN',
      isPro: false,
      plan: 'pro',
      preferences: {
        depthPreference: 'balanced',
        curiosityPreference: 'balanced',
        flameLevel: 0,
        flameBrightness: 0,
      },
      activeSlots: [],
      dailyCap: 5,
      personaType: 'coach',
      engagementLevel: 'low',
    });
  });

  it('needs a token', async () => {
    assert.equal((await sys.http(undefined, 'GET', '/v1/me')).status, 401);
    assert.equal((await sys.http(undefined, 'PATCH', '/v1/me', { nickname: 'x' })).status, 401);
  });
});

describe('PATCH /v1/me', () => {
  it('updates, answers the new context, and the next GET shows it at once', async () => {
    const { token } = sys.newUser();
    await sys.http(token, 'GET', '/v1/me'); // cached now
    const patch = {
      nickname: '  Mei  ',
      timezone: 'europe/paris',
      language: 'en-gb',
      depthPreference: 'deep',
      curiosityPreference: 'high',
      flameLevel: 5,
      flameBrightness: 80,
      activeSlots: ['morning', 'night'],
      dailyCap: 12,
      personaType: 'mentor',
      somethingUnknown: 'ignored',
    };
    const res = await sys.http(token, 'PATCH', '/v1/me', patch);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const expected = {
      nickname: 'Mei',
      timezone: 'Europe/Paris',
      language: 'en-GB',
      isPro: true,
      preferences: {
        depthPreference: 'deep',
        curiosityPreference: 'high',
        flameLevel: 5,
        flameBrightness: 80,
      },
      activeSlots: ['morning', 'night'],
      dailyCap: 12,
      personaType: 'mentor',
      engagementLevel: 'very_high',
    };
    assert.deepEqual(Object.keys(res.body).sort(), ME_KEYS);
    assert.deepEqual(
      { ...res.body, userId: undefined, plan: undefined },
      { ...expected, userId: undefined, plan: undefined },
    );
    const again = await sys.http(token, 'GET', '/v1/me');
    assert.deepEqual(again.body, res.body);

    const cleared = await sys.http(token, 'PATCH', '/v1/me', { nickname: null });
    assert.equal(cleared.body.nickname, 'tester', 'a cleared nickname falls back to the username');
    assert.equal((await sys.http(token, 'GET', '/v1/me')).body.nickname, 'tester');
  });

  it('refuses invalid values with 400 bad_request and changes nothing', async () => {
    const { userId, token } = sys.newUser();
    await sys.http(token, 'PATCH', '/v1/me', { nickname: 'keep', flameLevel: 2 });
    const before = (await sys.http(token, 'GET', '/v1/me')).body;
    const version = async () =>
      Number(
        (await sys.api.deps.db.query('SELECT version FROM users WHERE id = $1', [userId])).rows[0]
          .version,
      );
    const v0 = await version();
    const invalid: unknown[] = [
      { nickname: '' },
      { nickname: '   ' },
      { nickname: 'x'.repeat(65) },
      { nickname: 'bad\u0000name' },
      { nickname: 42 },
      { timezone: 'Mars/Olympus' },
      { timezone: 8 },
      { language: 'not a language!' },
      { language: ['zh-CN'] },
      { depthPreference: 'extreme' },
      { curiosityPreference: null },
      { flameLevel: '3' },
      { flameLevel: 11 },
      { flameLevel: -1 },
      { flameLevel: 2.5 },
      { flameBrightness: 101 },
      { activeSlots: ['morning', 'morning'] },
      { activeSlots: ['midnight'] },
      { activeSlots: 'morning' },
      { dailyCap: 51 },
      { dailyCap: true },
      { personaType: 'villain' },
      { nickname: 'valid', flameLevel: 99 }, // one bad field: nothing applies
      [{ nickname: 'array' }],
      'just a string',
      '{not json',
    ];
    for (const body of invalid) {
      const res = await sys.http(token, 'PATCH', '/v1/me', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status}`);
      assert.equal(res.body.error.code, 'bad_request');
      assert.equal(typeof res.body.error.message, 'string');
    }
    assert.deepEqual((await sys.http(token, 'GET', '/v1/me')).body, before);
    assert.equal(await version(), v0, 'no write reached the database');
  });

  it("never shows or changes another user's profile", async () => {
    const alice = sys.newUser();
    const bob = sys.newUser();
    await sys.http(alice.token, 'PATCH', '/v1/me', { nickname: 'Alice', flameLevel: 4 });
    await sys.http(bob.token, 'GET', '/v1/me');
    const bobPatch = await sys.http(bob.token, 'PATCH', '/v1/me', {
      nickname: 'Bob',
      userId: alice.userId,
    });
    assert.equal(bobPatch.body.userId, bob.userId, 'a userId in the body is ignored');
    const a = (await sys.http(alice.token, 'GET', '/v1/me')).body;
    const b = (await sys.http(bob.token, 'GET', '/v1/me')).body;
    assert.deepEqual([a.userId, a.nickname, a.preferences.flameLevel], [alice.userId, 'Alice', 4]);
    assert.deepEqual([b.userId, b.nickname, b.preferences.flameLevel], [bob.userId, 'Bob', 0]);
  });
});

describe('chat prompt', () => {
  it('the next chat after a nickname change carries the new nickname', async () => {
    const { token } = sys.newUser();
    const sessionId = await sys.createSession(token);
    const client = await sys.connect(token);
    const systemOf = (marker: string) =>
      sys.llm.stats.calls.find((c) => c.lastUserMessage.includes(marker))?.system;
    try {
      const first = `first ${randomUUID()}`;
      let requestId = randomUUID();
      client.send({ type: 'chat', requestId, sessionId, content: first });
      assert.equal((await client.end(requestId)).type, 'done');
      assert.match(
        systemOf(first) ?? '',
        /"nickname":"tester"/,
        'the worker cached the old context',
      );

      const nickname = `Zed-${randomUUID().slice(0, 6)}`;
      assert.equal((await sys.http(token, 'PATCH', '/v1/me', { nickname })).status, 200);

      const second = `second ${randomUUID()}`;
      requestId = randomUUID();
      client.send({ type: 'chat', requestId, sessionId, content: second });
      assert.equal((await client.end(requestId)).type, 'done');
      const prompt = systemOf(second) ?? '';
      assert.ok(prompt.includes(`"nickname":"${nickname}"`), prompt);
    } finally {
      await client.close();
    }
  });
});
