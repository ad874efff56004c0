/**
 * Orchestration experiments for the chat path (not in the default run: `npm run bench
 * -- chat-tuning`, ~5 min). Each arm changes one thing against the product:
 *
 * - the Temporal server: the shared dev server, or a throwaway one (fresh SQLite file,
 *   the file in WAL mode, in memory, in memory with eager activity dispatch enabled);
 * - the workflow (bench/workflows/variants.ts, on the in-memory server): callLlm as a
 *   local activity, one local activity before the LLM call instead of two, `done`
 *   without waiting for the billing child's start, and all of them with eager dispatch.
 *
 * All arms are up at once (one API, worker set and server each) and take turns in
 * small blocks, so they share the machine's noise. Per arm: first-delta latency, then
 * closed-loop throughput with 20 clients and the CPU time the Temporal server and this
 * process spent per request. Nothing here changes product code: winners are proposals.
 */
import { rmSync } from 'node:fs';
import { NativeConnection } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { ApiDeps } from '../api/deps';
import { chatWorkflowId } from '../contracts/chat';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { startLocalLlm } from '../local-llm/server';
import { startSystem, type TestSystem } from '../testkit/system';
import { createActivityDeps } from '../workers/deps';
import { createWorkers, runWorkers, shutdownWorkers } from '../workers/worker';
import { BENCH_ENV, benchBundle, CONTENT, loadRun, openSeats, type Seat } from './chat';
import type { ChatTiming } from './chat-client';
import { createInProcessRunner, type InProcessRunner } from './in-process-runner';
import { percentile, round, runStandalone, type BenchResult } from './result';
import {
  pidListeningOn,
  processCpuMs,
  startThrowawayServer,
  type ServerOptions,
  type ThrowawayServer,
} from '../testkit/throwaway-temporal';
import { createTuningActivities } from './tuning-activities';

const EAGER = { 'system.enableActivityEagerExecution': 'true' };
const SERVERS: Record<string, 'shared' | ServerOptions> = {
  shared: 'shared',
  file: { file: true },
  file_wal: { file: true, pragmas: ['journal_mode=wal', 'synchronous=normal'] },
  memory: {},
  memory_eager: { dynamicConfig: EAGER },
};
type ServerName = keyof typeof SERVERS;

interface Arm {
  label: string;
  server: ServerName;
  /** Workflow type per request; `chatWorkflow` is the product, `in-process` no Temporal. */
  workflow: string;
}

/** `vs`: the arm it is compared with in the notes (the one thing that differs). */
const ARMS: Array<Arm & { vs?: string }> = [
  { label: 'in_process', server: 'memory', workflow: 'in-process' },
  { label: 'shared_server', server: 'shared', workflow: 'chatWorkflow', vs: 'file' },
  { label: 'file', server: 'file', workflow: 'chatWorkflow' },
  { label: 'file_wal', server: 'file_wal', workflow: 'chatWorkflow', vs: 'file' },
  { label: 'memory', server: 'memory', workflow: 'chatWorkflow', vs: 'file' },
  { label: 'memory_eager', server: 'memory_eager', workflow: 'chatWorkflow', vs: 'memory' },
  {
    label: 'memory_baseline_variant',
    server: 'memory',
    workflow: 'benchChatBaseline',
    vs: 'memory',
  },
  {
    label: 'memory_local_llm',
    server: 'memory',
    workflow: 'benchChatLocalLlm',
    vs: 'memory_baseline_variant',
  },
  {
    label: 'memory_merged',
    server: 'memory',
    workflow: 'benchChatMerged',
    vs: 'memory_baseline_variant',
  },
  {
    label: 'memory_eager_all',
    server: 'memory_eager',
    workflow: 'benchChatAll',
    vs: 'memory_baseline_variant',
  },
];

/** One line per arm: its change against the arm it differs from by one thing. */
function comparisons(m: Record<string, number>): string[] {
  const d = (a: string, b: string, k: string) => round(m[`${a}_${k}`]! - m[`${b}_${k}`]!, 1);
  const pct = (a: string, b: string, k: string) =>
    round((m[`${a}_${k}`]! / m[`${b}_${k}`]! - 1) * 100, 0);
  return ARMS.filter((a) => a.vs).map(
    ({ label: a, vs: b }) =>
      `${a} vs ${b}: first-delta overhead p50 ${d(a, b!, 'overhead_p50_ms')} ms, p95 ${d(a, b!, 'overhead_p95_ms')} ms; done p50 ${d(a, b!, 'done_p50_ms')} ms; requests/s ${pct(a, b!, 'requests_per_s')}%; server CPU/request ${d(a, b!, 'server_cpu_ms_per_request')} ms; this process's CPU/request ${d(a, b!, 'bench_process_cpu_ms_per_request')} ms.`,
  );
}

const ROUNDS = 5;
const BLOCK = 12;
const LOAD_ROUNDS = 2;
const LOAD_SECONDS = 4;
const CLIENTS = 20;

interface Stack {
  sys: TestSystem;
  server?: ThrowawayServer;
  /** The Temporal server process (throwaway, or the shared one when found). */
  serverPid?: number;
  seats: Seat[];
  runner: InProcessRunner;
  close(): Promise<void>;
}

/** Keeps a stack's API pool small and quick to let go: five stacks share one Postgres. */
function shrinkPool(pool: TestSystem['api']['deps']['db']): void {
  const options = (pool as unknown as { options: { max: number; idleTimeoutMillis: number } })
    .options;
  options.max = 4;
  options.idleTimeoutMillis = 1000;
}

/**
 * A server (unless shared), an API, workers with the variant bundle, and seats. All
 * stacks' workers and in-process runners share `deps` (one Postgres pool).
 */
async function startStack(
  spec: 'shared' | ServerOptions,
  bundlePath: string,
  deps: ActivityDeps,
): Promise<Stack> {
  const server = spec === 'shared' ? undefined : await startThrowawayServer(spec);
  // No chat worker in the API: the variants' tasks must reach the variant workers.
  const env = {
    ...BENCH_ENV,
    API_CHAT_WORKER: 'false',
    ...(server ? { TEMPORAL_ADDRESS: server.address } : {}),
  };
  const sys = await startSystem({ env, noWorker: true });
  shrinkPool(sys.api.deps.db);
  const acts = createActivities(deps);
  const connection = await NativeConnection.connect({ address: sys.config.temporalAddress });
  const workers = await createWorkers({
    connection,
    namespace: sys.config.temporalNamespace,
    taskQueues: sys.config.taskQueues,
    deps,
    workflowBundlePath: bundlePath,
    options: { shutdownGraceTime: '1s', activities: { ...acts, ...createTuningActivities(acts) } },
  });
  const running = runWorkers(workers);
  const seats = await openSeats(sys, CLIENTS);
  const runner = createInProcessRunner(acts);
  return {
    sys,
    server,
    serverPid: server?.pid ?? pidListeningOn(Number(sys.config.temporalAddress.split(':').pop())),
    seats,
    runner,
    async close() {
      await Promise.all(seats.map((s) => s.client.close()));
      await runner.idle();
      shutdownWorkers(workers);
      await running;
      await connection.close();
      await sys.stop();
      await server?.stop();
    },
  };
}

/** Points the stack's API at the arm's orchestration. */
function select(stack: Stack, arm: Arm): void {
  const { sys } = stack;
  const start: ApiDeps['chatRunner'] = async (input) => {
    await sys.temporal.workflow.start(arm.workflow, {
      taskQueue: sys.config.taskQueues.chat,
      workflowId: chatWorkflowId(input.userId, input.requestId),
      args: [input],
    });
    return 'started';
  };
  sys.api.deps.chatRunner =
    arm.workflow === 'in-process'
      ? stack.runner.run
      : arm.workflow === 'chatWorkflow'
        ? undefined
        : start;
}

/** The experiments. */
export async function run(): Promise<BenchResult> {
  const bundlePath = await benchBundle();
  const stacks = new Map<ServerName, Stack>();
  // One LLM and one set of activity deps behind every stack's workers.
  const llm = await startLocalLlm({ port: 0 });
  const config = loadConfig({ ...process.env, OPENAI_BASE_URL: llm.url, OPENAI_API_KEY: '' });
  const owned = createActivityDeps(config, createLogger({ service: 'bench' }, 'error'));
  try {
    for (const [name, spec] of Object.entries(SERVERS)) {
      stacks.set(name, await startStack(spec, bundlePath, owned.deps));
    }
    const stackOf = (arm: Arm) => stacks.get(arm.server)!;
    const lat = new Map<string, ChatTiming[]>(ARMS.map((a) => [a.label, []]));
    let n = 0;
    for (let round_ = 0; round_ < ROUNDS + 1; round_++) {
      for (const arm of ARMS) {
        const stack = stackOf(arm);
        await stack.runner.idle();
        select(stack, arm);
        for (let i = 0; i < BLOCK; i++) {
          const seat = stack.seats[n++ % CLIENTS]!;
          const t = await seat.client.chat(seat.sessionId, CONTENT);
          if (round_ > 0) lat.get(arm.label)!.push(t); // round 0 warms every arm up
        }
      }
    }
    const cpu = new Map<string, { server: number; node: number; done: number }>(
      ARMS.map((a) => [a.label, { server: 0, node: 0, done: 0 }]),
    );
    for (let r = 0; r < LOAD_ROUNDS; r++) {
      for (const arm of ARMS) {
        const stack = stackOf(arm);
        await stack.runner.idle();
        select(stack, arm);
        const pid = stack.serverPid;
        const s0 = pid ? processCpuMs(pid) : NaN;
        const n0 = process.cpuUsage();
        const load = await loadRun(stack.seats, LOAD_SECONDS);
        const n1 = process.cpuUsage(n0);
        const c = cpu.get(arm.label)!;
        c.server += pid ? processCpuMs(pid) - s0 : NaN;
        c.node += (n1.user + n1.system) / 1000;
        c.done += load.completed;
      }
    }
    const ref = lat.get('in_process')!.map((t) => t.firstDelta);
    const metrics: Record<string, number> = {};
    for (const arm of ARMS) {
      const l = arm.label;
      const first = lat.get(l)!.map((t) => t.firstDelta);
      const c = cpu.get(l)!;
      metrics[`${l}_first_delta_p50_ms`] = round(percentile(first, 50), 1);
      metrics[`${l}_first_delta_p95_ms`] = round(percentile(first, 95), 1);
      metrics[`${l}_overhead_p50_ms`] = round(percentile(first, 50) - percentile(ref, 50), 1);
      metrics[`${l}_overhead_p95_ms`] = round(percentile(first, 95) - percentile(ref, 95), 1);
      metrics[`${l}_done_p50_ms`] = round(
        percentile(
          lat.get(l)!.map((t) => t.done),
          50,
        ),
        1,
      );
      metrics[`${l}_requests_per_s`] = round(c.done / (LOAD_ROUNDS * LOAD_SECONDS), 1);
      if (arm.workflow !== 'in-process') {
        metrics[`${l}_server_cpu_ms_per_request`] = round(c.server / c.done, 1);
      }
      metrics[`${l}_bench_process_cpu_ms_per_request`] = round(c.node / c.done, 1);
    }
    return {
      name: 'chat-tuning',
      command: 'node --import tsx bench/chat-tuning.ts',
      metrics,
      notes: [
        `${ARMS.length} arms up at once, taking turns: ${ROUNDS} rounds of ${BLOCK} sequential requests per arm after one warm-up round (${ROUNDS * BLOCK} samples per arm: p95, not p99), then ${LOAD_ROUNDS} rounds of ${LOAD_SECONDS} s closed-loop load with ${CLIENTS} clients per arm.`,
        'overhead = arm percentile - in_process percentile (in_process = bench/in-process-runner.ts on the memory stack).',
        "servers: shared = the stack's dev server (SQLite file with all earlier runs' history); file = a fresh dev server on a SQLite file; file_wal = the same with --sqlite-pragma journal_mode=wal, synchronous=normal; memory = in-memory SQLite; _eager = --dynamic-config-value system.enableActivityEagerExecution=true (the worker asks for eager activity dispatch by default; the server refuses unless enabled).",
        'workflow variants (bench/workflows/variants.ts, on the memory server): baseline_variant = the product steps re-implemented (comparability check); local_llm = callLlm as a local activity; merged = prepareChat+reserveQuota as one local activity; eager_all = eager dispatch + the three changes.',
        "server_cpu_ms_per_request = CPU time of the arm's Temporal server during its load windows / requests completed (the shared server's figure includes whatever else uses it meanwhile); bench_process_cpu = this process (API, workers, LLM, clients) likewise.",
        ...comparisons(metrics),
      ],
    };
  } finally {
    for (const stack of stacks.values()) await stack.close().catch(() => undefined);
    await owned.close();
    await llm.close();
    rmSync(bundlePath, { force: true });
  }
}

if (require.main === module) runStandalone(run);
