/**
 * Fuzzing every HTTP route and every WebSocket frame type with fast-check (issue 20), on
 * the real stack: arbitrary JSON, strings with NUL and lone surrogates, huge numbers,
 * deep nesting, wrong types, hostile tokens, paths and headers. Never a 5xx (nor an
 * `internal` frame), never a dropped process or socket, and the next normal request
 * still works. A failure prints fast-check's seed and the shrunk input to replay it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { startSystem, type TestSystem } from '../../testkit/system';
import {
  encodeAny,
  hostileHeader,
  hostileJson,
  hostileSegment,
  hostileString,
  hostileValue,
  json,
} from '../../testkit/hostile';
import type { TestClient } from '../../testkit/ws-client';

let sys: TestSystem;
let user: { userId: string; token: string };
let sessionId: string;
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  // Frames are fuzzed as fast as they go: the per-connection flood limit would answer most.
  sys = await startSystem({ env: { WS_FRAME_RATE: '100000', WS_FRAME_BURST: '100000' } });
  user = sys.newUser();
  sessionId = await sys.createSession(user.token);
});
after(async () => {
  process.off('unhandledRejection', onUnhandled);
  await sys?.stop();
});

interface Req {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string | undefined>;
}

/** A bearer token: mostly the user's, sometimes none, garbage, or signed with hostile claims. */
const token = fc.oneof(
  { weight: 6, arbitrary: fc.constant('user') },
  { weight: 1, arbitrary: fc.constantFrom(undefined, 'garbage', 'dck_' + 'x'.repeat(40)) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        sub: fc.oneof(fc.uuid(), hostileString),
        name: hostileString,
        plan: fc.oneof(fc.constantFrom('free', 'pro'), hostileString),
      })
      .map((claims) => jwt.sign(claims, sys.config.jwtSecret, { algorithm: 'HS256' })),
  },
);
const id = () => fc.oneof(fc.constant(sessionId), fc.uuid(), hostileSegment);
const q = (name: string) =>
  fc
    .option(fc.oneof(hostileSegment, fc.constantFrom('1', '5', '100')), { nil: undefined })
    .map((v) => (v === undefined ? '' : `${name}=${v}`));
const messages = json(
  [{ role: 'user', content: 'hi' }],
  [
    { role: 'system', content: 's' },
    { role: 'user', content: [{ type: 'text', text: 'x' }] },
  ],
);

/** Every route of the API, with hostile paths, queries, bodies and headers (built once the session exists). */
const requests = (): fc.Arbitrary<Req> =>
  fc.oneof(
    fc
      .constantFrom(
        '/healthz',
        '/metrics',
        '/',
        '/app.js',
        '/app.css',
        '/v1/models',
        '/v1/me',
        '/v1/me/api-keys',
        '/v1/nope',
      )
      .map((path) => ({ method: 'GET', path })),
    fc
      .tuple(q('limit'), q('cursor'))
      .map(([a, b]) => ({ method: 'GET', path: `/v1/sessions?${a}&${b}` })),
    fc
      .tuple(id(), q('limit'))
      .map(([s, l]) => ({ method: 'GET', path: `/v1/sessions/${s}/messages?${l}` })),
    q('days').map((d) => ({ method: 'GET', path: `/v1/me/usage?${d}` })),
    hostileValue.map((body) => ({ method: 'POST', path: '/v1/sessions', body })),
    fc
      .tuple(id(), hostileJson({ title: json('renamed', ' ') }))
      .map(([s, body]) => ({ method: 'PATCH', path: `/v1/sessions/${s}`, body })),
    fc
      .oneof(fc.uuid(), hostileSegment)
      .map((s) => ({ method: 'DELETE', path: `/v1/sessions/${s}` })),
    hostileJson({
      nickname: json('Nick'),
      timezone: json('UTC', 'Mars/Olympus'),
      language: json('en'),
      depthPreference: json(3),
      curiosityPreference: json(3),
      flameLevel: json(1),
      flameBrightness: json(50),
      activeSlots: json(['morning']),
      dailyCap: json(10),
      personaType: json('explorer'),
    }).map((body) => ({ method: 'PATCH', path: '/v1/me', body })),
    hostileJson({ name: json('laptop') }).map((body) => ({
      method: 'POST',
      path: '/v1/me/api-keys',
      body,
    })),
    hostileSegment.map((k) => ({ method: 'DELETE', path: `/v1/me/api-keys/${k}` })),
    fc
      .tuple(
        fc.oneof(hostileSegment, fc.constant(`tool-${randomUUID()}-${randomUUID()}-call_1`)),
        fc.boolean(),
      )
      .map(([t, cancel]) => ({
        method: cancel ? 'POST' : 'GET',
        path: `/v1/tasks/${t}${cancel ? '/cancel' : ''}`,
      })),
    fc
      .tuple(
        hostileJson({
          model: json('gpt-4o-mini'),
          messages,
          stream: json(true, false),
          stream_options: json({ include_usage: true }),
          max_tokens: json(5),
          temperature: json(0.5),
          stop: json(['\n']),
          tool_choice: json('auto'),
          user: json('u'),
          tools: json([
            { type: 'function', function: { name: 'f', parameters: { type: 'object' } } },
          ]),
        }),
        fc.record(
          {
            'Idempotency-Key': hostileHeader,
            'X-Session-Id': fc.oneof(hostileHeader, fc.constant(sessionId)),
            'Last-Event-ID': hostileHeader,
          },
          { requiredKeys: [] },
        ),
      )
      .map(([body, headers]) => ({ method: 'POST', path: '/v1/chat/completions', body, headers })),
  );

/** Sends the request; its status, or undefined when fetch itself refuses the headers. A dropped connection throws. */
async function send(req: Req, bearer: string | undefined): Promise<number | undefined> {
  let headers: Headers;
  try {
    headers = new Headers({
      ...(req.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    });
    for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) headers.set(k, v);
  } catch {
    return undefined;
  }
  const auth = bearer === 'user' ? user.token : bearer;
  if (auth) headers.set('Authorization', `Bearer ${auth}`);
  try {
    const res = await fetch(sys.baseUrl + req.path, {
      method: req.method,
      headers,
      body: req.body,
      signal: AbortSignal.timeout(20_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    // undici refuses some header values itself (e.g. an empty Last-Event-ID): never sent.
    if ((err as { cause?: { code?: string } }).cause?.code === 'UND_ERR_INVALID_ARG')
      return undefined;
    throw err;
  }
}

/** The API still serves a normal request and opens a normal socket; nothing went unhandled. */
async function stillServes(): Promise<void> {
  assert.equal((await sys.http(user.token, 'GET', '/v1/me')).status, 200);
  const client = await sys.connect(user.token);
  client.send({ type: 'ping' });
  await client.waitFor((fs) => fs.find((f) => f.type === 'pong'));
  await client.close();
  assert.deepEqual(unhandled, []);
}

describe('fuzz', { timeout: 60_000 }, () => {
  it('every HTTP route: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(requests(), token, async (req, bearer) => {
        const status = await send(req, bearer);
        assert.ok(
          status === undefined || status < 500,
          `${req.method} ${req.path} answered ${status}`,
        );
      }),
      { numRuns: 800 },
    );
    await stillServes();
  });

  it('every WebSocket frame type: never `internal`, the socket stays open', async () => {
    const client: TestClient = await sys.connect(user.token);
    const frame = hostileJson({
      type: json('chat', 'resume', 'cancel', 'ping', 'pong', 'CHAT', ''),
      requestId: fc.oneof(
        fc.uuid().map((u) => JSON.stringify(u)),
        json(randomUUID().toUpperCase()),
      ),
      sessionId: json(sessionId, randomUUID()),
      content: json('hi', '[[tokens:3]] hello'),
      model: json('gpt-4o-mini'),
      lastEventId: json('0000000001', '0', '1.5'),
    });
    await fc.assert(
      fc.asyncProperty(frame, async (text) => {
        client.send(text);
        client.send({ type: 'ping' });
        const pongs = client.frames.filter((f) => f.type === 'pong').length;
        await client.waitFor(
          (fs) => fs.filter((f) => f.type === 'pong').length > pongs,
          20_000,
          `pong after ${encodeAny(text).slice(0, 200)}`,
        );
        const internal = client.frames.filter((f) => f.type === 'error' && f.code === 'internal');
        assert.deepEqual(internal, [], `after ${text.slice(0, 300)}`);
      }),
      { numRuns: 800 },
    );
    assert.equal(client.closeCode, undefined, 'the socket stayed open');
    await client.close();
    await stillServes();
  });
});
