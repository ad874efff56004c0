/**
 * Benchmark of the chat path (issue 10): what durable orchestration on Temporal costs a
 * chat request, side by side in one run.
 *
 * Arms, all on one API server, relay, WebSocket client, Postgres, Redis and embedded
 * LLM (its first token comes at once); only the orchestration differs:
 * - `eager`: the product. chatWorkflow, started eagerly on the API process's own chat
 *   worker, one execution per request (the reply step writes the ledger row);
 * - `no_eager`: the same workflow started through the task queue (API_CHAT_WORKER=false);
 * - `in_process`: the same activities called in the API process, no Temporal
 *   (bench/in-process-runner.ts): the floor.
 * - `ceiling`: not a chat: a bare workflow (start, one local activity, complete) in a
 *   closed loop on the same server and worker setup, eagerly started: the most workflow
 *   executions per second this machine gives.
 *
 * 1. Latency: client `chat` frame -> first `delta`, sequential requests (1 client), in
 *    alternating blocks per arm; overhead = arm - in_process.
 * 2. Load: closed loops of 5, 20 and 50 clients, alternating slices per arm; requests/s,
 *    first-delta percentiles, and CPU ms per request of every process (this process:
 *    API + workers + LLM + clients; the Temporal server; Redis; Postgres).
 * 3. Counts per request from the histories: workflow executions, history events, and
 *    Temporal Cloud actions (bench/chat-costs.ts states the counting rule).
 *
 * `npm run bench -- chat`, or alone on a running stack: `node --import tsx bench/chat.ts`.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { ApiDeps } from '../api/deps';
import { chatWorkflowId } from '../contracts/chat';
import { createLogger } from '../lib/logger';
import { startSystem, type TestSystem } from '../testkit/system';
import { createActivityDeps } from '../workers/deps';
import { BenchChatClient, type ChatTiming } from './chat-client';
import { cpuDelta, cpuReader, requestCost, type CpuSnapshot, type RequestCost } from './chat-costs';
import { BENCH_ENV } from './bench-env';
import { failoverArm } from './chat-failover';
import { createInProcessRunner } from './in-process-runner';
import { responsesArm } from './responses';
import { percentile, round, runStandalone, type BenchResult } from './result';
import { createTuningActivities } from './tuning-activities';
import { timelineMetrics, timelineOf } from './workflow-timeline';

/** Seats (users with a session and a socket): as many as the largest load level. */
export const USERS = 50;
const BLOCK = 25;
const BLOCKS_PER_ARM = 4;
const WARMUP = 10;
const LOAD_LEVELS = [5, 20, 50] as const;
/** The load level of the throughput goal, where every arm and the ceiling run. */
const MAIN_LEVEL = 20;
const SLICE_S = 5;
const HISTORY_SAMPLES = 30;
/** The embedded LLM answers 8 tokens at once. */
export const CONTENT = 'bench [[tokens:8]]';

/** Re-exported for the benchmarks that import it from here. */
export { BENCH_ENV };

const ARMS = ['eager', 'no_eager', 'in_process'] as const;
type Arm = (typeof ARMS)[number];
const TEMPORAL_ARMS: readonly Arm[] = ['eager', 'no_eager'];

/** One user with a session and an open socket. */
export interface Seat {
  userId: string;
  sessionId: string;
  client: BenchChatClient;
}

/** Opens `n` seats (a user, a session, a socket each). */
export async function openSeats(sys: TestSystem, n: number): Promise<Seat[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const user = sys.newUser('pro');
      const sessionId = await sys.createSession(user.token);
      const client = await BenchChatClient.connect(sys.wsUrl, user.token);
      return { userId: user.userId, sessionId, client };
    }),
  );
}

/** Closed-loop load: every seat sends its next request when the previous one is done. */
export async function loadRun(
  seats: readonly Seat[],
  seconds: number,
): Promise<{ completed: number; timings: ChatTiming[] }> {
  const end = performance.now() + seconds * 1000;
  const timings: ChatTiming[] = [];
  await Promise.all(
    seats.map(async (seat) => {
      while (performance.now() < end) {
        const t = await seat.client.chat(seat.sessionId, CONTENT);
        if (performance.now() <= end) timings.push(t);
      }
    }),
  );
  return { completed: timings.length, timings };
}

/** A chat runner that starts `workflowType` through `client` (eagerly or not). */
function temporalRunner(
  client: Client,
  workflowType: string,
  taskQueue: string,
): NonNullable<ApiDeps['chatRunner']> {
  return async (input) => {
    try {
      await client.workflow.start(workflowType, {
        taskQueue,
        workflowId: chatWorkflowId(input.userId, input.requestId),
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowExecutionTimeout: '1h',
      });
      return 'started';
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return 'duplicate';
      throw err;
    }
  };
}

/** The product workflows plus the bench variants, bundled once for every worker here. */
export async function benchBundle(): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'workflows', 'index.ts'),
    logger: new DefaultLogger('WARN'),
  });
  const file = path.join(os.tmpdir(), `bench-chat-${process.pid}.js`);
  writeFileSync(file, code);
  return file;
}

/** The ceiling: a bare workflow in a closed loop of `clients`, eagerly started. */
async function ceilingLoop(
  client: Client,
  taskQueue: string,
  clients: number,
  seconds: number,
): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let completed = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        await client.workflow.execute('benchCeiling', {
          taskQueue,
          workflowId: `ceiling-${randomUUID()}`,
          requestEagerStart: true,
        });
        if (performance.now() <= end) completed++;
      }
    }),
  );
  return completed;
}

const p = (xs: readonly number[], q: number) => round(percentile(xs, q), 1);
const firstDeltas = (ts: readonly ChatTiming[]) => ts.map((t) => t.firstDelta);

type Timed = ChatTiming & { userId: string };

/** The benchmark. */
export async function run(): Promise<BenchResult> {
  const bundlePath = await benchBundle();
  const sys = await startSystem({ env: { ...BENCH_ENV, WORKFLOW_BUNDLE_PATH: bundlePath } });
  const quiet = createLogger({ service: 'bench' }, 'error');
  const owned = createActivityDeps(sys.config, quiet);
  const acts = createActivities(owned.deps);
  const inProcess = createInProcessRunner(acts);
  // A plain client (no worker on its connection): its starts go through the queue.
  const plainConnection = await Connection.connect({ address: sys.config.temporalAddress });
  const plain = new Client({
    connection: plainConnection,
    namespace: sys.config.temporalNamespace,
  });
  const chatQueue = sys.config.taskQueues.chat;
  const runners: Record<Arm, ApiDeps['chatRunner']> = {
    eager: undefined, // the API's own start: chatWorkflow, eagerly
    no_eager: temporalRunner(plain, 'chatWorkflow', chatQueue),
    in_process: inProcess.run,
  };
  const setArm = async (arm: Arm) => {
    await inProcess.idle();
    sys.api.deps.chatRunner = runners[arm];
  };

  // The ceiling's own worker and eager client on one connection, same server.
  const ceilingQueue = `ceiling-${randomUUID().slice(0, 8)}`;
  const ceilingConnection = await NativeConnection.connect({ address: sys.config.temporalAddress });
  const ceilingWorker = await Worker.create({
    connection: ceilingConnection,
    namespace: sys.config.temporalNamespace,
    taskQueue: ceilingQueue,
    workflowBundle: { codePath: bundlePath },
    activities: createTuningActivities(acts),
    shutdownGraceTime: '1s',
  });
  const ceilingRun = ceilingWorker.run();
  const ceilingClient = new Client({
    connection: ceilingConnection,
    namespace: sys.config.temporalNamespace,
  });

  const readCpu = cpuReader(Number(sys.config.temporalAddress.split(':').pop()));
  let seats: Seat[] = [];
  try {
    seats = await openSeats(sys, USERS);

    // 1. Latency, one client, alternating blocks.
    const lat: Record<Arm, Timed[]> = { eager: [], no_eager: [], in_process: [] };
    let n = 0;
    const one = async () => {
      const seat = seats[n++ % seats.length]!;
      return { ...(await seat.client.chat(seat.sessionId, CONTENT)), userId: seat.userId };
    };
    for (const arm of ARMS) {
      await setArm(arm);
      for (let i = 0; i < WARMUP; i++) await one();
    }
    for (let b = 0; b < BLOCKS_PER_ARM * ARMS.length; b++) {
      const arm = ARMS[b % ARMS.length]!;
      await setArm(arm);
      for (let i = 0; i < BLOCK; i++) lat[arm].push(await one());
    }

    // 2. Load levels; at the main level every arm, and the ceiling, alternating.
    type Load = { completed: number; seconds: number; timings: ChatTiming[]; cpu: CpuSnapshot };
    const zeroCpu = (): CpuSnapshot => ({ bench: 0, temporal: 0, redis: 0, postgres: 0 });
    const load = new Map<string, Load>();
    const slice = async (arm: Arm, clients: number) => {
      await setArm(arm);
      const before = readCpu();
      const r = await loadRun(seats.slice(0, clients), SLICE_S);
      await inProcess.idle();
      const d = cpuDelta(before, readCpu());
      const key = `${arm}@${clients}`;
      const l = load.get(key) ?? { completed: 0, seconds: 0, timings: [], cpu: zeroCpu() };
      l.completed += r.completed;
      l.seconds += SLICE_S;
      l.timings.push(...r.timings);
      for (const k of Object.keys(d) as Array<keyof CpuSnapshot>) l.cpu[k] += d[k];
      load.set(key, l);
    };
    let ceilingCompleted = 0;
    const ceilingCpu = zeroCpu();
    for (let round = 0; round < 2; round++) {
      for (const clients of LOAD_LEVELS) {
        const arms: readonly Arm[] = clients === MAIN_LEVEL ? ARMS : ['eager', 'in_process'];
        for (const arm of arms) await slice(arm, clients);
        if (clients === MAIN_LEVEL) {
          const before = readCpu();
          ceilingCompleted += await ceilingLoop(ceilingClient, ceilingQueue, MAIN_LEVEL, SLICE_S);
          const d = cpuDelta(before, readCpu());
          for (const k of Object.keys(d) as Array<keyof CpuSnapshot>) ceilingCpu[k] += d[k];
        }
      }
    }
    if (inProcess.failures > 0) throw new Error(`${inProcess.failures} in-process requests failed`);

    // 3. Counts from the histories of the last sequential requests of each Temporal arm.
    const costs: Partial<Record<Arm, RequestCost[]>> = {};
    for (const arm of TEMPORAL_ARMS) {
      costs[arm] = await Promise.all(
        lat[arm]
          .slice(-HISTORY_SAMPLES)
          .map((t) => requestCost(sys.temporal, t.userId, t.requestId)),
      );
    }
    const timelines = await Promise.all(
      lat.eager
        .slice(-HISTORY_SAMPLES)
        .map((t) => timelineOf(sys.temporal, t.userId, t.requestId, t.sentAtMs)),
    );

    const metrics: Record<string, number | string> = {};
    const inP50 = p(firstDeltas(lat.in_process), 50);
    const inP99 = p(firstDeltas(lat.in_process), 99);
    metrics.sequential_requests_per_arm = lat.eager.length;
    for (const arm of ARMS) {
      metrics[`${arm}_first_delta_p50_ms`] = p(firstDeltas(lat[arm]), 50);
      metrics[`${arm}_first_delta_p99_ms`] = p(firstDeltas(lat[arm]), 99);
    }
    for (const arm of TEMPORAL_ARMS) {
      metrics[`${arm}_overhead_p50_ms`] = round(
        Number(metrics[`${arm}_first_delta_p50_ms`]) - inP50,
        1,
      );
      metrics[`${arm}_overhead_p99_ms`] = round(
        Number(metrics[`${arm}_first_delta_p99_ms`]) - inP99,
        1,
      );
    }
    metrics.overhead_p50_ms = metrics.eager_overhead_p50_ms!;
    metrics.overhead_p99_ms = metrics.eager_overhead_p99_ms!;
    Object.assign(metrics, timelineMetrics('eager', timelines));

    for (const clients of LOAD_LEVELS) {
      const inLoad = load.get(`in_process@${clients}`)!;
      for (const arm of clients === MAIN_LEVEL ? ARMS : (['eager', 'in_process'] as const)) {
        const l = load.get(`${arm}@${clients}`)!;
        const tag = `${arm}_c${clients}`;
        metrics[`${tag}_requests_per_s`] = round(l.completed / l.seconds, 1);
        metrics[`${tag}_first_delta_p50_ms`] = p(firstDeltas(l.timings), 50);
        metrics[`${tag}_first_delta_p99_ms`] = p(firstDeltas(l.timings), 99);
        if (arm !== 'in_process') {
          metrics[`${tag}_overhead_p50_ms`] = round(
            p(firstDeltas(l.timings), 50) - p(firstDeltas(inLoad.timings), 50),
            1,
          );
          metrics[`${tag}_overhead_p99_ms`] = round(
            p(firstDeltas(l.timings), 99) - p(firstDeltas(inLoad.timings), 99),
            1,
          );
        }
      }
    }
    for (const arm of ARMS) {
      const l = load.get(`${arm}@${MAIN_LEVEL}`)!;
      const per = (ms: number) => round(ms / l.completed, 1);
      metrics[`${arm}_cpu_ms_per_request_bench_process`] = per(l.cpu.bench);
      metrics[`${arm}_cpu_ms_per_request_temporal_server`] = per(l.cpu.temporal);
      metrics[`${arm}_cpu_ms_per_request_redis`] = per(l.cpu.redis);
      metrics[`${arm}_cpu_ms_per_request_postgres`] = per(l.cpu.postgres);
      metrics[`${arm}_cpu_ms_per_request_all`] = per(
        l.cpu.bench + l.cpu.temporal + l.cpu.redis + l.cpu.postgres,
      );
    }
    const ceilingSeconds = 2 * SLICE_S;
    metrics.ceiling_executions_per_s = round(ceilingCompleted / ceilingSeconds, 1);
    metrics.ceiling_cpu_ms_per_execution_all = round(
      (ceilingCpu.bench + ceilingCpu.temporal + ceilingCpu.redis + ceilingCpu.postgres) /
        Math.max(1, ceilingCompleted),
      1,
    );
    metrics.requests_per_s = metrics[`eager_c${MAIN_LEVEL}_requests_per_s`]!;
    metrics.fraction_of_ceiling_pct = round(
      (100 * Number(metrics.requests_per_s)) / Number(metrics.ceiling_executions_per_s),
      1,
    );
    for (const arm of TEMPORAL_ARMS) {
      const cs = costs[arm]!;
      const avg = (k: keyof RequestCost) => round(cs.reduce((s, c) => s + c[k], 0) / cs.length, 2);
      metrics[`${arm}_executions_per_request`] = avg('executions');
      metrics[`${arm}_history_events_per_request`] = avg('events');
      metrics[`${arm}_actions_per_request`] = avg('actions');
    }
    metrics.cpu_ms_per_request_all = metrics.eager_cpu_ms_per_request_all!;
    metrics.executions_per_request = metrics.eager_executions_per_request!;
    const sameFrames =
      JSON.stringify(lat.eager.at(-1)?.types) === JSON.stringify(lat.in_process.at(-1)?.types);
    metrics.same_frames_all_arms = sameFrames ? 'yes' : 'NO';
    // The Responses door's arm (bench/responses.ts), on this same system, as the product runs;
    // the failover arm (bench/chat-failover.ts) on a stack of its own (two LLM providers).
    await setArm('eager');
    const extra = [await responsesArm(sys), await failoverArm(bundlePath)];
    for (const arm of extra) Object.assign(metrics, arm.metrics);

    return {
      name: 'chat',
      command: 'node --import tsx bench/chat.ts',
      metrics,
      goals: [
        { metric: 'overhead_p50_ms', op: '<=', target: 20 },
        { metric: 'overhead_p99_ms', op: '<=', target: 60 },
        { metric: 'requests_per_s', op: '>=', target: 30 },
        { metric: 'fraction_of_ceiling_pct', op: '>=', target: 50 },
        { metric: 'cpu_ms_per_request_all', op: '<=', target: 70 },
        { metric: 'executions_per_request', op: '<=', target: 1 },
        ...extra.flatMap((arm) => arm.goals),
      ],
      notes: [...chatNotes(metrics), ...extra.flatMap((arm) => arm.notes)],
    };
  } finally {
    await Promise.all(seats.map((s) => s.client.close()));
    await inProcess.idle();
    ceilingWorker.shutdown();
    await ceilingRun;
    await ceilingConnection.close();
    await plainConnection.close();
    await sys.stop();
    await owned.close();
  }
}

/** Method notes, and an honest reading of the goals from this run's own figures. */
function chatNotes(m: Record<string, number | string>): string[] {
  const n = (k: string) => Number(m[k]);
  const notes = [
    `arms: eager = the product (chatWorkflow started eagerly on the API's own chat worker, one execution per request); no_eager = the same workflow started through the task queue; in_process = the same activities without Temporal (bench/in-process-runner.ts).`,
    `first delta = client sends \`chat\` -> first \`delta\` frame, content \`${CONTENT}\` (the embedded LLM emits its first token at once). Sequential: ${BLOCK}-request blocks alternate between arms after ${WARMUP} warm-up requests each; overhead = percentile(arm) - percentile(in_process).`,
    `load: closed loops (next request when \`done\` arrives) of ${LOAD_LEVELS.join(', ')} clients, ${SLICE_S} s slices alternating between arms, two rounds; at ${MAIN_LEVEL} clients every arm and the ceiling run, at the others eager and in_process.`,
    `ceiling: a bare workflow (start, one local activity, complete), ${MAIN_LEVEL} closed loops, eagerly started on its own worker in this process, same server: ${m.ceiling_executions_per_s} executions/s (${m.ceiling_cpu_ms_per_execution_all} ms of CPU each, all processes). fraction_of_ceiling = eager requests/s at ${MAIN_LEVEL} clients / ceiling executions/s.`,
    `CPU per request: CPU time of each process over the ${MAIN_LEVEL}-client slices / requests completed: this process (API, workers, embedded LLM, clients, all in one), the Temporal dev server, Redis, and every postgres process (server + pool backends); _all is their sum. 2 cores give 2,000 ms of CPU per second.`,
    `executions, history events and actions per request: from the histories of the last ${HISTORY_SAMPLES} sequential requests per arm (chat workflow, plus its billing child's history when it has one). Actions as Temporal Cloud bills them (bench/chat-costs.ts): workflow start 1, child workflow 2, each activity attempt 1, all markers of one workflow task 1 (local activities, the patch marker), timers/signals/non-versioning upserts 1; activity heartbeats are billed too but are not in histories (the LLM activity sends about one per attempt for a short reply).`,
    `the product carries the deprecated \`ledger-in-reply-step\` marker (in a workflow task that already records local-activity markers: no extra action) for one more release.`,
    'quotas, rate limit and summaries are set out of the way (huge limits, SUMMARY_THRESHOLD=1000000); the Temporal server is the dev server (SQLite file) on the same 2-core machine as everything else.',
  ];
  const missed: string[] = [];
  if (n('overhead_p50_ms') > 20) missed.push(`overhead p50 ${m.overhead_p50_ms} ms (goal 20)`);
  if (n('overhead_p99_ms') > 60) missed.push(`overhead p99 ${m.overhead_p99_ms} ms (goal 60)`);
  if (n('requests_per_s') < 30) missed.push(`${m.requests_per_s} requests/s (goal 30)`);
  if (n('fraction_of_ceiling_pct') < 50)
    missed.push(`${m.fraction_of_ceiling_pct}% of the ceiling (goal 50%)`);
  if (n('cpu_ms_per_request_all') > 70)
    missed.push(`${m.cpu_ms_per_request_all} ms CPU per request (goal 70)`);
  if (missed.length > 0) {
    notes.push(
      `MISSED: ${missed.join('; ')}. Where the time goes (eager arm, from the histories, p50): start ${m.eager_send_to_started_p50_ms} ms after the client's send, first workflow task dispatch ${m.eager_first_task_dispatch_p50_ms} ms, that task ${m.eager_first_task_p50_ms} ms (prepareChat + reserveQuota), LLM activity dispatch ${m.eager_llm_activity_dispatch_p50_ms} ms. CPU per request at ${MAIN_LEVEL} clients: this process ${m.eager_cpu_ms_per_request_bench_process} ms, Temporal server ${m.eager_cpu_ms_per_request_temporal_server} ms, Redis ${m.eager_cpu_ms_per_request_redis} ms, Postgres ${m.eager_cpu_ms_per_request_postgres} ms (in_process: ${m.in_process_cpu_ms_per_request_all} ms in all).`,
    );
  }
  return notes;
}

if (require.main === module) runStandalone(run);
