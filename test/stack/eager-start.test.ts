/**
 * Eager workflow start and readiness: the API process hosts a chat worker on a shared
 * `NativeConnection`, so the server hands a chat's first workflow task straight back to
 * it; a start the server does not make eager (here: a server with eager start off)
 * still completes through the worker processes; `/healthz` is only ok once a worker
 * polls the chat queue.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NativeConnection } from '@temporalio/worker';
import { chatWorkflowId } from '../../contracts/chat';
import { createLogger } from '../../lib/logger';
import { createActivityDeps } from '../../workers/deps';
import { createWorkers, runWorkers, shutdownWorkers } from '../../workers/worker';
import { apiClientIdentity } from '../../workers/embedded';
import { startSystem, type TestSystem } from '../../testkit/system';
import { startThrowawayServer, type ThrowawayServer } from '../../testkit/throwaway-temporal';
import { eventually } from '../../testkit/poll';

/** Who ran the request's first workflow task (its WorkflowTaskStarted event). */
async function firstTaskIdentity(
  sys: TestSystem,
  userId: string,
  requestId: string,
): Promise<string> {
  const history = await sys.temporal.workflow
    .getHandle(chatWorkflowId(userId, requestId))
    .fetchHistory();
  const started = history.events?.find((e) => e.workflowTaskStartedEventAttributes);
  return String(started?.workflowTaskStartedEventAttributes?.identity);
}

async function chatOnce(sys: TestSystem): Promise<{ userId: string; requestId: string }> {
  const { userId, sessionId, client } = await sys.newChat();
  const requestId = randomUUID();
  client.send({ type: 'chat', requestId, sessionId, content: 'eager? [[tokens:5]]' });
  const end = await client.end(requestId, 60_000);
  assert.equal(end.type, 'done', JSON.stringify(end));
  await client.close();
  return { userId, requestId };
}

describe('eager workflow start', () => {
  let sys: TestSystem;
  before(async () => {
    sys = await startSystem();
  });
  after(async () => {
    await sys?.stop();
  });

  it("starts a chat on the API process's own worker", async () => {
    assert.equal(sys.api.deps.eagerStart, true);
    const { userId, requestId } = await chatOnce(sys);
    // Eager: the first task came back in the start response (the starter's identity).
    assert.equal(await firstTaskIdentity(sys, userId, requestId), apiClientIdentity());
  });

  it('reports the chat workers in /healthz', async () => {
    const res = await sys.http(undefined, 'GET', '/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.body.checks.workers, 'ok');
  });
});

describe('eager start refused by the server', () => {
  let server: ThrowawayServer;
  let sys: TestSystem;
  before(async () => {
    server = await startThrowawayServer({
      dynamicConfig: { 'system.enableEagerWorkflowStart': 'false' },
    });
    sys = await startSystem({ env: { TEMPORAL_ADDRESS: server.address } });
  });
  after(async () => {
    await sys?.stop();
    await server?.stop();
  });

  it('still completes the chat, as an ordinary start', async () => {
    assert.equal(sys.api.deps.eagerStart, true, 'the API asked for eager starts');
    const { userId, requestId } = await chatOnce(sys);
    // The first task went through the task queue (a polling worker's identity).
    assert.notEqual(await firstTaskIdentity(sys, userId, requestId), apiClientIdentity());
  });
});

describe('readiness', () => {
  it('is 503 with workers down until a worker polls the chat queue', async () => {
    const sys = await startSystem({ noWorker: true, env: { API_CHAT_WORKER: 'false' } });
    try {
      const res = await sys.http(undefined, 'GET', '/healthz');
      assert.equal(res.status, 503);
      assert.deepEqual(res.body.checks, {
        temporal: 'ok',
        redis: 'ok',
        postgres: 'ok',
        workers: 'down',
      });
      assert.equal(sys.api.deps.eagerStart, false);

      const connection = await NativeConnection.connect({ address: sys.config.temporalAddress });
      const owned = createActivityDeps(sys.config, createLogger({ service: 'test' }, 'error'));
      const workers = await createWorkers({
        connection,
        namespace: sys.config.temporalNamespace,
        taskQueues: sys.config.taskQueues,
        deps: owned.deps,
        serve: ['chat'],
        workflowBundlePath: sys.config.workflowBundlePath,
        options: { shutdownGraceTime: '1s' },
      });
      const running = runWorkers(workers);
      try {
        await eventually(
          'healthz ok once a worker polls',
          async () => (await sys.http(undefined, 'GET', '/healthz')).status === 200,
          30_000,
        );
      } finally {
        shutdownWorkers(workers);
        await running;
        await owned.close();
        await connection.close();
      }
    } finally {
      await sys.stop();
    }
  });
});
