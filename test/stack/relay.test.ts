/**
 * The relay (api/relay.ts) against real Redis: live events at O(1) per event, gaps read
 * from the Stream, exactly once and in order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RequestEvent } from '../../contracts/protocol';
import { StreamRelay } from '../../api/relay';
import { loadConfig } from '../../lib/config';
import { EventLog, requestKeys } from '../../store/event-log';
import { createLogger } from '../../lib/logger';
import { createRedis, type Redis } from '../../store/redis';
import { eventually } from '../../testkit/poll';

let writer: Redis;
let subscriber: Redis;
let commands: Redis;
let events: EventLog;
let relay: StreamRelay;
/** The subscriber connection's name, unique to this run, so the test can find and drop it. */
const SUBSCRIBER_NAME = `relay-test-sub-${randomUUID().slice(0, 8)}`;

before(() => {
  const url = loadConfig().redisUrl;
  writer = createRedis(url, 'relay-test-writer');
  subscriber = createRedis(url, SUBSCRIBER_NAME);
  commands = createRedis(url, 'relay-test-cmd');
  events = new EventLog(writer, 3600);
  relay = new StreamRelay(subscriber, commands, createLogger({ service: 'test' }, 'error'));
  relay.start();
});

after(async () => {
  await relay.close();
  for (const r of [writer, subscriber, commands]) r.disconnect();
});

const delta = (content: string): RequestEvent => ({ type: 'delta', content });

/** Follows a new request; returns what it received. */
function follow(userId: string, requestId: string, afterSeq = 0) {
  const got: Array<[RequestEvent, number]> = [];
  const stop = relay.subscribe(requestKeys(userId, requestId).stream, afterSeq, (e, seq) =>
    got.push([e, seq]),
  );
  return { got, stop };
}

/** A new request with one event its follower has received. */
async function followedRequest() {
  const user = randomUUID();
  const req = randomUUID();
  const f = follow(user, req);
  await events.append(user, req, delta('0'));
  await eventually('first event', () => f.got.length === 1);
  return { user, req, f };
}

/** Appends an event to the Stream without publishing it: a follower misses it live. */
async function appendUnpublished(user: string, req: string, event: RequestEvent): Promise<void> {
  const k = requestKeys(user, req);
  const seq = await writer.incr(k.seq);
  await writer.xadd(k.stream, `${seq}-0`, 'e', JSON.stringify(event));
}

function assertInOrderOnce(got: Array<[RequestEvent, number]>) {
  for (let i = 1; i < got.length; i++)
    assert.ok(got[i]![1] > got[i - 1]![1], 'seqs strictly increase');
}

describe('stream relay', () => {
  it('delivers a request its own events only, live, once and in order', async () => {
    const user = randomUUID();
    const [a, b] = [randomUUID(), randomUUID()];
    await events.append(user, a, delta('a0'));
    await events.append(user, b, delta('b0'));
    const fa = follow(user, a);
    const fb = follow(user, b);
    for (let i = 1; i <= 20; i++) {
      await events.append(user, a, delta(`a${i}`));
      if (i % 2 === 0) await events.append(user, b, delta(`b${i}`));
    }
    await eventually('every event', () => fa.got.length === 21 && fb.got.length === 11);
    assert.deepEqual(
      fa.got.map(([e]) => (e as { content: string }).content),
      Array.from({ length: 21 }, (_, i) => `a${i}`),
    );
    assert.ok(fb.got.every(([e]) => (e as { content: string }).content.startsWith('b')));
    assertInOrderOnce(fa.got);
    fa.stop();
    fb.stop();
  });

  it('a second follower of the same request catches up from its own seq, then goes live', async () => {
    const user = randomUUID();
    const req = randomUUID();
    const first = follow(user, req);
    for (let i = 0; i < 5; i++) await events.append(user, req, delta(`${i}`));
    await eventually('first follower', () => first.got.length === 5);
    const second = follow(user, req, first.got[1]![1]);
    await events.append(user, req, delta('5'));
    await eventually('second follower', () => second.got.length === 4);
    assert.deepEqual(
      second.got.map(([e]) => (e as { content: string }).content),
      ['2', '3', '4', '5'],
    );
    first.stop();
    second.stop();
  });

  it('a gap in the live events (a missed message) is read from the Stream', async () => {
    const { user, req, f } = await followedRequest();
    await appendUnpublished(user, req, delta('1'));
    await events.append(user, req, delta('2'));
    await eventually('the missed event and the next', () => f.got.length === 3);
    assert.deepEqual(
      f.got.map(([e]) => (e as { content: string }).content),
      ['0', '1', '2'],
    );
    assertInOrderOnce(f.got);
    f.stop();
  });

  it('a lost live message with nothing after it still arrives: a quiet follower reads its Stream', async () => {
    const { user, req, f } = await followedRequest();
    // The terminal event, unpublished: no later event reveals the gap.
    await appendUnpublished(user, req, { type: 'done', messageId: 'm', content: '0' });
    await eventually('the unpublished end', () => f.got.length === 2, 15_000);
    assert.equal(f.got[1]![0].type, 'done');
    f.stop();
  });

  it('events published while the subscriber connection was down arrive after it reconnects', async () => {
    const { user, req, f } = await followedRequest();
    // Drop the subscriber's connection from the server side; ioredis reconnects by itself.
    const list = String(await commands.client('LIST'));
    const id = /id=(\d+) [^\n]*name=(\S+)/g;
    const ids = [...list.matchAll(id)].filter((m) => m[2] === SUBSCRIBER_NAME).map((m) => m[1]!);
    assert.equal(ids.length, 1, 'the subscriber connection');
    await commands.client('KILL', 'ID', ids[0]!);
    await events.append(user, req, delta('1'));
    await events.append(user, req, { type: 'done', messageId: 'm', content: '01' });
    // Well within the quiet follower's 5 s safety net: this is the reconnect's own catch-up.
    await eventually('the events written while disconnected', () => f.got.length === 3, 3_000);
    assert.deepEqual(
      f.got.map(([e]) => e.type),
      ['delta', 'delta', 'done'],
    );
    assertInOrderOnce(f.got);
    f.stop();
  });

  it('unsubscribing the last follower leaves the channel', async () => {
    const user = randomUUID();
    const req = randomUUID();
    const before = relay.followedStreams;
    const f = follow(user, req);
    assert.equal(relay.followedStreams, before + 1);
    f.stop();
    assert.equal(relay.followedStreams, before);
    await events.append(user, req, delta('late'));
    assert.equal(f.got.length, 0);
  });
});
