/**
 * The client library (client/) against the real stack: streaming, reconnect and resume
 * after the network drops the socket mid-reply (no missing or repeated text), a chat
 * sent while offline delivered once, `restart` resetting the text, cancel, and typed
 * errors with the contract's codes. Network trouble comes from a TCP proxy in front of
 * the API (testkit/tcp-proxy.ts), so the server really loses the socket.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import {
  ChatApiError,
  ChatClient,
  replyText,
  type ChatEvent,
  type ChatHandle,
  type ConnectionState,
  type WebSocketConstructor,
} from '../../client';
import { startTcpProxy, type TcpProxy } from '../../testkit/tcp-proxy';
import { startSystem, type TestSystem } from '../../testkit/system';

let sys: TestSystem;
let proxy: TcpProxy;
const clients: ChatClient[] = [];

before(async () => {
  sys = await startSystem();
  proxy = await startTcpProxy(sys.api.port);
});
after(async () => {
  for (const c of clients) c.close();
  await proxy?.close();
  await sys?.stop();
});

/** A library client for a new user, through the proxy. */
async function newClient(options: { pingIntervalMs?: number } = {}) {
  const user = sys.newUser();
  const client = new ChatClient({
    baseUrl: proxy.url,
    token: user.token,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 500,
    ...options,
  });
  clients.push(client);
  const { sessionId } = await client.createSession();
  return { ...user, client, sessionId };
}

/** Resolves when `handle` has received an event `pred` accepts. */
function waitForEvent(handle: ChatHandle, pred: (e: ChatEvent) => boolean): Promise<ChatEvent> {
  return new Promise((resolve, reject) => {
    const seen = handle.events.find(pred);
    if (seen) return resolve(seen);
    const off = handle.on((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      } else if (e.type === 'done' || e.type === 'error') {
        off();
        reject(new Error(`ended before the awaited event: ${JSON.stringify(e)}`));
      }
    });
  });
}

function waitForState(client: ChatClient, state: ConnectionState): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = client.onState((s) => {
      if (s === state) {
        off();
        resolve();
      }
    });
  });
}

/** Each event once: eventIds strictly increase. */
function assertEachEventOnce(handle: ChatHandle): void {
  const ids = handle.events.flatMap((e) =>
    'eventId' in e && e.eventId !== undefined ? [Number(e.eventId)] : [],
  );
  for (let i = 1; i < ids.length; i++)
    assert.ok(ids[i]! > ids[i - 1]!, `eventIds in order, none twice: ${ids.join(',')}`);
  assert.equal(handle.events.filter((e) => e.type === 'accepted').length, 1);
  assert.equal(handle.events.filter((e) => e.type === 'done' || e.type === 'error').length, 1);
}

describe('chat through the library', () => {
  it('streams typed events (listener and async iterable), the text so far, and the terminal frame', async () => {
    const { client, sessionId } = await newClient();
    const handle = client.chat({ sessionId, content: '[[tokens:12]] hello' });
    const texts: string[] = [];
    handle.on((e) => {
      if (e.type === 'delta') texts.push(handle.text);
    });
    const iterated: string[] = [];
    for await (const event of handle) iterated.push(event.type);
    const done = await handle.reply();
    assert.equal(done.type, 'done');
    assert.equal(handle.text, done.content);
    assert.ok(texts.length >= 2, 'the text grows delta by delta');
    assert.ok(texts.every((t, i) => i === 0 || t.startsWith(texts[i - 1]!)));
    assert.deepEqual(
      iterated,
      handle.events.map((e) => e.type),
    );
    assert.equal(iterated[0], 'accepted');
    assert.ok(iterated.includes('usage'));
    assert.equal(iterated.at(-1), 'done');
    assertEachEventOnce(handle);
  });

  it('resumes after the network drops the socket mid-reply: no missing or repeated text', async () => {
    const { client, sessionId } = await newClient();
    const states: ConnectionState[] = [];
    client.onState((s) => states.push(s));
    const handle = client.chat({
      sessionId,
      content: '[[tokens:60]] [[delay_ms:25]] a long answer',
    });
    const connectionsBefore = proxy.accepted;
    await waitForEvent(handle, (e) => e.type === 'delta' && handle.text.length > 10);
    proxy.drop();
    const done = await handle.reply();
    assert.ok(states.includes('reconnecting'), `went through reconnecting: ${states.join(',')}`);
    assert.ok(proxy.accepted > connectionsBefore, 'a new socket was opened');
    assert.equal(handle.text, done.content, 'the reassembled text is exactly the reply');
    assert.equal(replyText(handle.events), done.content);
    assertEachEventOnce(handle);
  });

  it('sends a chat written while offline on reconnect, once', async () => {
    const { client, sessionId } = await newClient();
    await client.chat({ sessionId, content: 'warm up' }).reply();
    proxy.setOffline(true);
    await waitForState(client, 'reconnecting');
    const handle = client.chat({ sessionId, content: 'sent while offline' });
    assert.equal(handle.accepted, false);
    proxy.setOffline(false);
    const done = await handle.reply();
    assert.equal(handle.text, done.content);
    assertEachEventOnce(handle);
    const messages = await client.messages(sessionId);
    assert.deepEqual(
      messages.map((m) => m.content),
      ['warm up', messages[1]?.content, 'sent while offline', done.content],
      'the offline message is stored once, answered once',
    );
  });

  it('drops the text on `restart` (the LLM call was retried after a cut stream)', async () => {
    const { client, sessionId } = await newClient();
    const handle = client.chat({
      sessionId,
      content: `[[cut_after:4]] [[tokens:20]] ${randomUUID()}`,
    });
    let textAtRestart: string | undefined;
    let textBeforeRestart = '';
    handle.on((e) => {
      if (e.type === 'delta' && textAtRestart === undefined) textBeforeRestart = handle.text;
      if (e.type === 'restart') textAtRestart = handle.text;
    });
    const done = await handle.reply();
    assert.ok(textBeforeRestart.length > 0, 'some text arrived before the cut');
    assert.equal(textAtRestart, '', 'restart empties the text');
    assert.equal(handle.text, done.content);
    assertEachEventOnce(handle);
  });

  it('cancels a reply in flight: `error` `cancelled`, reply() rejects with the code', async () => {
    const { client, sessionId } = await newClient();
    const handle = client.chat({ sessionId, content: '[[tokens:400]] [[delay_ms:30]] go on' });
    await waitForEvent(handle, (e) => e.type === 'delta');
    handle.cancel();
    const end = await handle.terminal;
    assert.equal(end.type, 'error');
    assert.equal(end.type === 'error' && end.code, 'cancelled');
    await assert.rejects(
      handle.reply(),
      (err: unknown) => err instanceof ChatApiError && err.code === 'cancelled',
    );
    assertEachEventOnce(handle);
  });

  it('a cancel before `accepted` is sent once the server knows the request', async () => {
    const { client, sessionId } = await newClient();
    await client.chat({ sessionId, content: 'connect first' }).reply();
    const handle = client.chat({ sessionId, content: '[[tokens:400]] [[delay_ms:30]] at once' });
    handle.cancel();
    const end = await handle.terminal;
    assert.equal(end.type === 'error' && end.code, 'cancelled');
    assert.equal(end.type === 'error' && end.local, undefined, 'ended by the server');
  });

  it('a chat cancelled before its socket ever opened ends locally', async () => {
    const { client, sessionId } = await newClient();
    const handle = client.chat({ sessionId, content: 'too quick' });
    handle.cancel();
    const end = await handle.terminal;
    assert.equal(end.type === 'error' && end.local, true);
    await client.chat({ sessionId, content: 'next' }).reply();
    assert.deepEqual(
      (await client.messages(sessionId)).map((m) => m.role),
      ['user', 'assistant'],
    );
  });

  it('a chat cancelled while offline ends locally and is never sent', async () => {
    const { client, sessionId } = await newClient();
    await client.chat({ sessionId, content: 'first' }).reply();
    proxy.setOffline(true);
    await waitForState(client, 'reconnecting');
    const handle = client.chat({ sessionId, content: 'never mind' });
    handle.cancel();
    const end = await handle.terminal;
    assert.equal(end.type === 'error' && end.code, 'cancelled');
    assert.equal(end.type === 'error' && end.local, true);
    proxy.setOffline(false);
    await waitForState(client, 'open');
    await client.chat({ sessionId, content: 'after' }).reply();
    const messages = await client.messages(sessionId);
    assert.ok(!messages.some((m) => m.content === 'never mind'));
  });

  it('pings keep the connection alive', async () => {
    const { client, sessionId } = await newClient({ pingIntervalMs: 100 });
    await client.chat({ sessionId, content: 'hi' }).reply();
    const before = proxy.accepted;
    const handle = client.chat({ sessionId, content: '[[tokens:20]] [[delay_ms:30]] slow' });
    await handle.reply();
    assert.equal(client.state, 'open');
    assert.equal(proxy.accepted, before, 'no reconnect while pongs come back');
  });
});

describe('typed errors', () => {
  it('HTTP errors carry the code and status; another user’s session is not_found', async () => {
    const { client } = await newClient();
    const other = await newClient();
    await assert.rejects(client.messages(other.sessionId), (err: unknown) => {
      assert.ok(err instanceof ChatApiError);
      assert.equal(err.code, 'not_found');
      assert.equal(err.status, 404);
      return true;
    });
    await assert.rejects(client.renameSession(other.sessionId, 'x'), { code: 'not_found' });
    await assert.rejects(client.renameSession(randomUUID(), ''), { code: 'bad_request' });
  });

  it('a chat in a missing session ends with not_found; a refused token with unauthorized', async () => {
    const { client } = await newClient();
    await assert.rejects(client.chat({ sessionId: randomUUID(), content: 'x' }).reply(), {
      code: 'not_found',
    });
    const bad = new ChatClient({
      baseUrl: proxy.url,
      token: 'not-a-token',
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      minReconnectDelayMs: 20,
    });
    clients.push(bad);
    await assert.rejects(bad.me(), { code: 'unauthorized', status: 401 });
    const end = await bad.chat({ sessionId: randomUUID(), content: 'x' }).terminal;
    assert.equal(end.type === 'error' && end.code, 'unauthorized');
    assert.equal(bad.state, 'closed');
  });

  it('quota_exceeded and rate_limited (with retryAfter) reach the caller typed', async () => {
    const { client, sessionId, userId } = await newClient();
    await sys.api.deps.db.query(
      'INSERT INTO user_quota_overrides (user_id, daily_tokens) VALUES ($1, 1)',
      [userId],
    );
    await assert.rejects(client.chat({ sessionId, content: 'too much' }).reply(), {
      code: 'quota_exceeded',
    });

    const limited = await startSystem({ noWorker: true, env: { RATE_LIMIT_PER_MINUTE: '1' } });
    try {
      const user = limited.newUser();
      const c = limited.client(user.token);
      clients.push(c);
      const s = await c.createSession();
      c.chat({ sessionId: s.sessionId, content: 'one' });
      const err = await c
        .chat({ sessionId: s.sessionId, content: 'two' })
        .reply()
        .catch((e: unknown) => e);
      assert.ok(err instanceof ChatApiError);
      assert.equal(err.code, 'rate_limited');
      assert.ok(
        err.retryAfter !== undefined && err.retryAfter > 0,
        `retryAfter: ${err.retryAfter}`,
      );
      c.close();
    } finally {
      await limited.stop();
    }
  });
});

describe('the rest of the contract through the library', () => {
  it('profile, usage, sessions and tasks', async () => {
    const { client, sessionId, userId } = await newClient();
    const me = await client.me();
    assert.equal(me.userId, userId);
    assert.equal((await client.updateMe({ nickname: 'Ada' })).nickname, 'Ada');
    const handle = client.chat({
      sessionId,
      content: `[[tool:summarize_document ${JSON.stringify({ text: 'word '.repeat(120), chunkTokens: 40 })}]]`,
    });
    const call = await waitForEvent(handle, (e) => e.type === 'tool_call');
    assert.ok(call.type === 'tool_call' && call.taskId);
    const done = await handle.reply();
    assert.ok(handle.events.some((e) => e.type === 'tool_progress'));
    const task = await client.task(call.taskId);
    assert.equal(task.status, 'completed');
    assert.equal(task.progress, 100);
    const usage = await client.usage(1);
    assert.ok(usage.quota.daily.used > 0);
    const page = await client.listSessions({ limit: 5 });
    assert.equal(page.sessions[0]?.sessionId, sessionId);
    assert.equal((await client.renameSession(sessionId, 'Summaries')).title, 'Summaries');
    const messages = await client.messages(sessionId);
    assert.equal(messages.at(-1)?.content, done.content);
    await client.deleteSession(sessionId);
    await assert.rejects(client.messages(sessionId), { code: 'not_found' });
  });
});
