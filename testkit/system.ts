/**
 * Starts the whole system for a test file on the real local stack: the embedded LLM,
 * a worker polling task queues unique to this test file, and an API server on a free
 * port, all against the Temporal server, Postgres and Redis that `npm test` set up.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Plan, TaskQueues } from '../contracts/common';
import { signToken } from '../api/auth';
import { startApiServer, WS_PATH, type ApiServer } from '../api/server';
import { loadConfig, type Config } from '../lib/config';
import { dataConverter } from '../lib/payload-codec';
import { createLogger, type Logger } from '../lib/logger';
import { startLocalLlm, type LocalLlm } from '../local-llm/server';
import { createActivityDeps } from '../workers/deps';
import { createWorkers, runWorkers, shutdownWorkers } from '../workers/worker';
import WebSocket from 'ws';
import { ChatClient, type WebSocketConstructor } from '../client';
import { TestClient } from './ws-client';

export interface SystemOptions {
  /** Environment overrides (as the env vars of docs/API.md). */
  env?: Record<string, string>;
  /** Start no worker (tests that start their own). */
  noWorker?: boolean;
  /** Task queues the in-process workers poll (default: all); tests serve the others. */
  serve?: ReadonlyArray<keyof TaskQueues>;
  /** The logger of the API and the workers' activities (default: errors only, to stderr). */
  logger?: Logger;
}

export interface TestSystem {
  config: Readonly<Config>;
  llm: LocalLlm;
  api: ApiServer;
  workers: Worker[];
  temporal: Client;
  baseUrl: string;
  wsUrl: string;
  /** A new user's token. */
  newUser(plan?: Plan): { userId: string; token: string };
  /** A new user with a session and an open socket. */
  newChat(
    plan?: Plan,
  ): Promise<{ userId: string; token: string; sessionId: string; client: TestClient }>;
  /** Opens an authenticated raw socket (frames as sent). */
  connect(token: string): Promise<TestClient>;
  /** The client library for this user, against this system's API (close it after use). */
  client(token: string, options?: { pingIntervalMs?: number }): ChatClient;
  /** Creates a chat session over HTTP. */
  createSession(token: string): Promise<string>;
  /** Starts one more API server on the same stack (another "replica"), optionally with its own logger. */
  startAnotherApi(logger?: Logger): Promise<ApiServer>;
  /** Authenticated HTTP call. */
  http(
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  stop(): Promise<void>;
}

const quiet = createLogger({ service: 'test' }, 'error');

/** Task queues unique to one test run so parallel test files never share workers. */
export function uniqueTaskQueues(): TaskQueues {
  const id = randomUUID().slice(0, 8);
  return {
    chat: `chat-${id}`,
    tools: `tools-${id}`,
    billing: `billing-${id}`,
    summaries: `summaries-${id}`,
  };
}

export async function startSystem(options: SystemOptions = {}): Promise<TestSystem> {
  const llm = await startLocalLlm({ port: 0 });
  const base = loadConfig({
    ...process.env,
    PORT: '0',
    OPENAI_BASE_URL: llm.url,
    OPENAI_API_KEY: '',
    // Test files run two at a time on two loaded cores: a burst of chats there can wait
    // past the queue-delay limit, and the event loop lag past its limit, without anything
    // being wrong. Those signals are tested on their own (test/unit/admission.test.ts); a
    // test that wants one sets it.
    MAX_QUEUE_DELAY_MS: '600000',
    MAX_EVENT_LOOP_LAG_MS: '60000',
    ...options.env,
  });
  const config: Readonly<Config> = Object.freeze({ ...base, taskQueues: uniqueTaskQueues() });

  let workers: Worker[] = [];
  let workerRun: Promise<void> | undefined;
  let workerConnection: NativeConnection | undefined;
  const logger = options.logger ?? quiet;
  const owned = createActivityDeps(config, logger);
  if (!options.noWorker) {
    workerConnection = await NativeConnection.connect({ address: config.temporalAddress });
    workers = await createWorkers({
      connection: workerConnection,
      namespace: config.temporalNamespace,
      taskQueues: config.taskQueues,
      deps: owned.deps,
      dataConverter: dataConverter(config.payloadKeys),
      serve: options.serve,
      workflowBundlePath: config.workflowBundlePath,
      options: { shutdownGraceTime: '1s' },
    });
    workerRun = runWorkers(workers);
  }
  const apis: ApiServer[] = [await startApiServer(config, logger)];
  const api = apis[0]!;
  const connection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({
    connection,
    namespace: config.temporalNamespace,
    dataConverter: dataConverter(config.payloadKeys),
  });
  const baseUrl = `http://127.0.0.1:${api.port}`;
  const wsUrl = `ws://127.0.0.1:${api.port}${WS_PATH}`;

  const system: TestSystem = {
    config,
    llm,
    api,
    workers,
    temporal,
    baseUrl,
    wsUrl,
    newUser(plan: Plan = 'free') {
      const userId = randomUUID();
      return { userId, token: signToken(config.jwtSecret, { userId, plan, name: 'tester' }) };
    },
    async newChat(plan: Plan = 'free') {
      const user = system.newUser(plan);
      const sessionId = await system.createSession(user.token);
      const client = await system.connect(user.token);
      return { ...user, sessionId, client };
    },
    connect(token: string) {
      return TestClient.connect(wsUrl, { Authorization: `Bearer ${token}` });
    },
    client(token: string, options = {}) {
      return new ChatClient({
        baseUrl,
        token,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        minReconnectDelayMs: 50,
        maxReconnectDelayMs: 1000,
        ...options,
      });
    },
    async createSession(token: string) {
      const res = await system.http(token, 'POST', '/v1/sessions');
      if (res.status !== 201)
        throw new Error(`createSession: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.sessionId as string;
    },
    async startAnotherApi(logger?: Logger) {
      const another = await startApiServer(config, logger ?? quiet);
      apis.push(another);
      return another;
    },
    async http(token, method, path, body) {
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(baseUrl + path, {
        method,
        headers,
        body:
          body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      for (const a of apis) await a.close();
      await connection.close();
      shutdownWorkers(workers);
      await workerRun;
      await workerConnection?.close();
      await owned.close();
      await llm.close();
    },
  };
  return system;
}
