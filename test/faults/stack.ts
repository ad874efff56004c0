/**
 * A whole system of real processes for the fault suite, every one of them this suite's
 * own so it can kill and restart them: a Temporal dev server (own port, own SQLite file),
 * a throwaway Postgres cluster, a redis-server without persistence, the embedded LLM,
 * workers and API processes (`node --import tsx <entry>`). The shared services of the
 * machine are never touched. Every process is SIGKILLed when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { signToken } from '../../api/auth';
import { migrate } from '../../store/migrate';
import { redisAnswers } from '../../scripts/services/redis';
import {
  findTemporalBinary,
  SEARCH_ATTRIBUTES,
  temporalAnswers,
} from '../../scripts/services/temporal';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../../testkit/throwaway-pg';
import { eventually } from '../../testkit/poll';
import { ensureBundle } from '../../testkit/tool-worker-process';
import { TestClient } from '../../testkit/ws-client';
import { freePort } from '../../testkit/free-port';

const ROOT = path.resolve(__dirname, '..', '..');
const JWT_SECRET = `fault-suite-${randomUUID()}`;

/** One child process of the stack. */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** SIGKILL (no goodbye: as if its machine died); resolves once it is gone. */
  kill(): Promise<void>;
}

const live = new Set<ChildProcess>();
const killAll = () => {
  for (const c of live) c.kill('SIGKILL');
};
process.on('exit', killAll);
// The test runner stops a file that overran its timeout with SIGTERM: no orphans then.
process.once('SIGTERM', () => {
  killAll();
  process.exit(143);
});

/** Starts a process; `ready` (output text or a probe) says when it serves. */
async function startProc(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: string | (() => Promise<boolean>),
  timeoutMs = 90_000,
): Promise<Proc> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  let seen = false;
  const onData = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
    if (typeof ready === 'string' && output.includes(ready)) seen = true;
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );
  const state = await eventually(
    `${name} to start`,
    async () => (exited ? 'exited' : (typeof ready === 'string' ? seen : await ready()) && 'ready'),
    { timeoutMs, everyMs: 200 },
  );
  if (state === 'exited') throw new Error(`${name} exited before it was ready:\n${output}`);
  return {
    name,
    child,
    async kill() {
      if (!exited) child.kill('SIGKILL');
      await gone;
    },
  };
}

export interface FaultStack {
  env: NodeJS.ProcessEnv;
  pg: ThrowawayPostgres;
  databaseUrl: string;
  redisUrl: string;
  temporalAddress: string;
  apiPorts: number[];
  procs: Record<string, Proc>;
  startRedis(): Promise<void>;
  startTemporal(): Promise<void>;
  startLlm(): Promise<void>;
  /** A worker serving `queues` (comma list, default all) under `name`. */
  startWorker(name: string, queues?: string): Promise<Proc>;
  startApi(name: string, port: number): Promise<Proc>;
  /** A new user with a session and an open socket on API `apiIndex`. */
  newChat(
    apiIndex?: number,
  ): Promise<{ userId: string; token: string; sessionId: string; client: TestClient }>;
  connect(token: string, apiIndex?: number): Promise<TestClient>;
  stop(): Promise<void>;
}

/** Starts the whole stack: Temporal, Postgres, Redis, LLM, one worker, two APIs (`overrides`: env). */
export async function startFaultStack(overrides: NodeJS.ProcessEnv = {}): Promise<FaultStack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fault-suite-'));
  const temporalBin = findTemporalBinary();
  if (!temporalBin) throw new Error('no temporal CLI found (npm test builds one)');
  const [redisPort, temporalPort, llmPort, api0, api1] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  // Postgres (initdb, start, migrate) is the slowest to start: in parallel with the rest.
  const pgStarting = startThrowawayPostgres().then(async (started) => {
    await migrate(`${started.url}/chat`);
    return started;
  });
  pgStarting.catch(() => undefined);
  const bundle = await ensureBundle();
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const temporalAddress = `127.0.0.1:${temporalPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: redisUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: `http://127.0.0.1:${llmPort}/v1`,
    LOCAL_LLM_PORT: String(llmPort),
    WORKFLOW_BUNDLE_PATH: bundle,
    WORKER_METRICS_PORT: '0',
    TEMPORAL_METRICS_PORT: '0',
    JWT_SECRET,
    LOG_LEVEL: 'info',
    RATE_LIMIT_PER_MINUTE: '1000',
    // An LLM process restart takes seconds: enough attempts (0.3, 0.6, 1.2, then 2 s apart) to outlast it.
    LLM_MAX_ATTEMPTS: '10',
    // A dead (or stopped) worker's LLM call is retried after this much silence: shorter
    // than the product's default, so the suite's kills and stops each cost one retry.
    LLM_HEARTBEAT_TIMEOUT_MS: '10000',
    WS_FRAME_RATE: '1000',
    WS_FRAME_BURST: '1000',
    NODE_ENV: 'test',
    // Chats run on the worker processes (no eager-start worker in the APIs), so killing
    // a worker process kills the one running the request.
    API_CHAT_WORKER: 'false',
    // Chats that wait out an outage here (or a loaded machine) must not make the API
    // refuse the next ones.
    MAX_QUEUE_DELAY_MS: '600000',
    MAX_EVENT_LOOP_LAG_MS: '60000',
    ...overrides,
  };
  const procs: Record<string, Proc> = {};
  const node = (entry: string) =>
    [process.execPath, ['--import', 'tsx', path.join(ROOT, entry)]] as const;

  const stack: FaultStack = {
    env,
    pg: undefined as unknown as ThrowawayPostgres,
    databaseUrl: '',
    redisUrl,
    temporalAddress,
    apiPorts: [api0, api1],
    procs,
    async startRedis() {
      procs.redis = await startProc(
        'redis',
        'redis-server',
        [
          '--port',
          String(redisPort),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        env,
        () => redisAnswers(redisUrl),
      );
    },
    async startTemporal() {
      const args = [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(temporalPort),
        '--headless',
      ];
      args.push(
        '--db-filename',
        path.join(dir, 'temporal.db'),
        '--namespace',
        'default',
        '--log-level',
        'error',
      );
      for (const [n, t] of Object.entries(SEARCH_ATTRIBUTES))
        args.push('--search-attribute', `${n}=${t}`);
      procs.temporal = await startProc('temporal', temporalBin, args, env, () =>
        temporalAnswers(temporalAddress, 'default'),
      );
    },
    async startLlm() {
      const [cmd, args] = node('local-llm/main.ts');
      procs.llm = await startProc('llm', cmd, [...args], env, 'local llm listening');
    },
    async startWorker(name, queues) {
      const [cmd, args] = node('workers/main.ts');
      const proc = await startProc(
        name,
        cmd,
        [...args],
        { ...env, ...(queues ? { WORKER_TASK_QUEUES: queues } : {}) },
        'worker started',
      );
      procs[name] = proc;
      return proc;
    },
    async startApi(name, port) {
      const [cmd, args] = node('api/main.ts');
      const proc = await startProc(
        name,
        cmd,
        [...args],
        { ...env, PORT: String(port) },
        'api listening',
      );
      procs[name] = proc;
      return proc;
    },
    connect(token, apiIndex = 0) {
      return TestClient.connect(`ws://127.0.0.1:${stack.apiPorts[apiIndex]}/v1/ws`, {
        Authorization: `Bearer ${token}`,
      });
    },
    async newChat(apiIndex = 0) {
      const userId = randomUUID();
      const token = signToken(JWT_SECRET, { userId, plan: 'pro', name: 'fault' });
      const res = await fetch(`http://127.0.0.1:${stack.apiPorts[apiIndex]}/v1/sessions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
      if (res.status !== 201)
        throw new Error(`POST /v1/sessions: ${res.status} ${await res.text()}`);
      const { sessionId } = (await res.json()) as { sessionId: string };
      return { userId, token, sessionId, client: await stack.connect(token, apiIndex) };
    },
    async stop() {
      for (const p of Object.values(procs).reverse()) await p.kill();
      await (await pgStarting.catch(() => undefined))?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all([stack.startRedis(), stack.startTemporal(), stack.startLlm()]);
    stack.pg = await pgStarting;
    stack.databaseUrl = `${stack.pg.url}/chat`;
    env.DATABASE_URL = stack.databaseUrl;
    await Promise.all([
      stack.startWorker('worker'),
      stack.startApi('api0', api0),
      stack.startApi('api1', api1),
    ]);
  } catch (err) {
    await stack.stop().catch(() => undefined);
    throw err;
  }
  return stack;
}
