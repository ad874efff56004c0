/**
 * The LLM activity (activities/llm.ts) under Temporal's MockActivityEnvironment: a fake
 * activity context (attempt number, heartbeats, cancellation), an in-memory event log
 * and an in-process LLM, so no Temporal, Redis or Postgres is needed.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { createLlmActivities, LLM_IDLE_TIMEOUT_MS, type CallLlmInput } from '../../activities/llm';
import { startLocalLlm, type LocalLlm } from '../../local-llm/server';
import type { MockActivityEnvironment } from '@temporalio/testing';
import { mockActivityEnv, runActivity, unitActivityDeps } from '../../testkit/activity-deps';
import { MemoryEventLog } from '../../testkit/memory-event-log';

const USER = 'u1';

function input(requestId: string, text: string): CallLlmInput {
  return {
    requestId,
    userId: USER,
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: text }],
    maxTokens: 500,
  };
}

/** The activity over a fresh in-memory event log and the LLM at `llmUrl`. */
function llmActivity(llmUrl: string) {
  const log = new MemoryEventLog();
  const { callLlm } = createLlmActivities(unitActivityDeps({ events: log, llmUrl }));
  /** Runs one attempt of `text` for `requestId` in `env`. */
  const run = (env: MockActivityEnvironment, requestId: string, text: string) =>
    runActivity(env, callLlm, input(requestId, text));
  return { log, run };
}

/** The text of a run of `delta` events. */
function deltaText(events: ReadonlyArray<{ type: string; content?: string }>): string {
  return events.map((e) => (e.type === 'delta' ? (e.content ?? '') : '')).join('');
}

/**
 * An LLM that sends one token and then holds the stream open, sending nothing more (a
 * stalled provider). `closed` resolves when the activity drops the connection.
 */
async function startHeldLlm() {
  let open: ServerResponse | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const server = createServer((req, res) => {
    req.resume();
    open = res;
    res.on('close', markClosed);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = {
      id: 'held',
      object: 'chat.completion.chunk',
      created: 0,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }],
    };
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    closed,
    close: () => {
      open?.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

void describe('callLlm (MockActivityEnvironment)', { timeout: 15_000 }, () => {
  let llm: LocalLlm;
  before(async () => {
    llm = await startLocalLlm({ port: 0 });
  });
  after(() => llm.close());

  void it('a first attempt streams the reply as deltas after `calling_llm`, with no restart', async () => {
    const { log, run } = llmActivity(llm.url);
    const out = await run(mockActivityEnv({ attempt: 1 }), 'r1', 'hi [[tokens:8]]');
    const events = log.events('r1');
    assert.deepEqual(events[0], { type: 'status', state: 'calling_llm' });
    assert.ok(!events.some((e) => e.type === 'restart'));
    assert.equal(deltaText(events), out.content);
    assert.ok(out.content.length > 0);
    assert.equal(out.usage.estimated, false);
  });

  void it('a retried attempt writes `restart` before anything else, and its deltas after it', async () => {
    const { log, run } = llmActivity(llm.url);
    const out = await run(mockActivityEnv({ attempt: 2 }), 'r2', 'again [[tokens:8]]');
    const events = log.events('r2');
    assert.deepEqual(events.slice(0, 2), [
      { type: 'restart', reason: 'llm_retry' },
      { type: 'status', state: 'calling_llm' },
    ]);
    assert.equal(deltaText(events), out.content);
    assert.ok(
      log.entries.every((e) => e.fence === 2),
      'written under the attempt number',
    );
  });

  void it('fencing: once a newer attempt has written, the older one is cut off and ends superseded', async () => {
    const { log, run } = llmActivity(llm.url);
    const text = 'slow [[tokens:20]] [[delay_ms:25]]';
    const first = run(mockActivityEnv({ attempt: 1 }), 'r3', text);
    // Attempt 1 is still streaming (a zombie whose worker Temporal gave up on) when 2 starts.
    await log.until(() => log.events('r3').some((e) => e.type === 'delta'));
    const [firstOutcome, secondOutcome] = await Promise.allSettled([
      first,
      run(mockActivityEnv({ attempt: 2 }), 'r3', text),
    ]);
    assert.equal(firstOutcome.status, 'rejected');
    const err: unknown = firstOutcome.reason;
    assert.ok(err instanceof CancelledFailure && err.message === 'superseded', String(err));
    assert.equal(secondOutcome.status, 'fulfilled');
    const second = secondOutcome.value;
    const restartAt = log.entries.findIndex((e) => e.event.type === 'restart');
    assert.ok(restartAt > 0, 'attempt 1 wrote before attempt 2 restarted');
    const afterRestart = log.entries.slice(restartAt);
    assert.ok(
      afterRestart.every((e) => e.fence === 2),
      'nothing of attempt 1 after the restart the client saw',
    );
    assert.equal(deltaText(afterRestart.map((e) => e.event)), second.content);
  });

  void it('cancel mid-stream: ends cancelled and drops the LLM connection', async () => {
    const held = await startHeldLlm();
    try {
      const { log, run } = llmActivity(held.url);
      const env = mockActivityEnv({ attempt: 1 });
      const attempt = run(env, 'r4', 'hello');
      await log.until(() => deltaText(log.events('r4')) === 'Hel');
      env.cancel();
      await assert.rejects(
        attempt,
        (err) => err instanceof CancelledFailure && err.message === 'cancelled',
      );
      await held.closed;
      assert.ok(!log.events('r4').some((e) => e.type === 'done' || e.type === 'error'));
    } finally {
      await held.close();
    }
  });

  void it('a stalled stream: heartbeats go on, then the idle timeout abandons it as retryable', async (t) => {
    // Mocked timers: the idle timeout (30 s) passes at once; the stream itself is real I/O.
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const held = await startHeldLlm();
    try {
      const { log, run } = llmActivity(held.url);
      const env = mockActivityEnv({ attempt: 1 });
      let heartbeats = 0;
      env.on('heartbeat', () => heartbeats++);
      const attempt = run(env, 'r5', 'hello');
      let settled = false;
      attempt.then(
        () => (settled = true),
        () => (settled = true),
      );
      await log.until(() => deltaText(log.events('r5')) === 'Hel');
      t.mock.timers.tick(LLM_IDLE_TIMEOUT_MS - 1);
      await new Promise((r) => setImmediate(r));
      assert.equal(settled, false, 'still waiting just before the idle timeout');
      assert.ok(
        heartbeats >= LLM_IDLE_TIMEOUT_MS / 1000 - 1,
        `heartbeats while stalled: ${heartbeats}`,
      );
      t.mock.timers.tick(1);
      await assert.rejects(
        attempt,
        (err) =>
          err instanceof ApplicationFailure &&
          err.type === 'LlmTransient' &&
          err.message === 'LLM stream stalled' &&
          !err.nonRetryable,
      );
      await held.closed;
    } finally {
      await held.close();
    }
  });
});
