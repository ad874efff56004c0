/**
 * Benchmark of the chat path (issue 2): what durable orchestration on Temporal costs a
 * chat request, measured as a difference in one run.
 *
 * Two modes share one API server, relay, WebSocket client, Postgres, Redis and the
 * embedded LLM (which emits its first token at once); only the orchestration differs:
 * `temporal` starts chatWorkflow (the product), `in-process` runs the same activities
 * in the API process (bench/in-process-runner.ts, via ApiDeps.chatRunner).
 *
 * 1. Latency: time from the client's `chat` frame to the first `delta`, p50/p99, in
 *    alternating blocks of 50 sequential requests per mode (so both share the
 *    machine's noise); overhead = temporal - in-process.
 * 2. Throughput: 20 clients, each sending its next request when `done` arrives, for
 *    15 s per mode (two alternating slices each).
 *
 * `npm run bench -- chat`, or alone on a running stack: `node --import tsx bench/chat.ts`.
 */
import { performance } from 'node:perf_hooks';
import { createActivities } from '../activities';
import type { ApiDeps } from '../api/deps';
import { createLogger } from '../lib/logger';
import { startSystem, type TestSystem } from '../test/helpers/system';
import { createActivityDeps } from '../workers/deps';
import { BenchChatClient, type ChatTiming } from './chat-client';
import { createInProcessRunner, type InProcessRunner } from './in-process-runner';
import { percentile, round, runStandalone, type BenchResult } from './result';
import { pidListeningOn, processCpuMs } from '../test/helpers/throwaway-temporal';
import { timelineMetrics, timelineOf, type Timeline } from './workflow-timeline';

export const USERS = 20;
const BLOCK = 50;
const BLOCKS_PER_MODE = 6;
const WARMUP = 20;
const LOAD_SLICE_S = 7.5;
const TIMELINE_SAMPLES = 40;
/** The embedded LLM answers 8 tokens at once. */
export const CONTENT = 'bench [[tokens:8]]';

/** Settings that keep quotas, rate limits and summaries out of the measurement. */
export const BENCH_ENV: Record<string, string> = {
  RATE_LIMIT_PER_MINUTE: '100000000',
  FREE_DAILY_TOKENS: '1000000000',
  FREE_MONTHLY_TOKENS: '30000000000',
  PRO_DAILY_TOKENS: '1000000000',
  PRO_MONTHLY_TOKENS: '30000000000',
  SUMMARY_THRESHOLD: '1000000',
};

export type Mode = 'temporal' | 'in-process';
export const MODES: readonly Mode[] = ['temporal', 'in-process'];

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

/** Sets the API's orchestration for a mode. */
export type SetMode = (mode: Mode) => Promise<void>;

/**
 * Switches the API between Temporal (`temporal`: the default chatWorkflow start, or
 * another runner) and the in-process runner, draining the latter first.
 */
export function modeSwitcher(
  sys: TestSystem,
  runner: InProcessRunner,
  temporal?: ApiDeps['chatRunner'],
): SetMode {
  return async (mode) => {
    await runner.idle();
    sys.api.deps.chatRunner = mode === 'in-process' ? runner.run : temporal;
  };
}

type Timed = ChatTiming & { userId: string };

/** Sequential requests, alternating blocks of `block` per mode. */
export async function latencyRun(
  setMode: SetMode,
  seats: readonly Seat[],
  opts: { block: number; blocksPerMode: number; warmup: number; modes?: readonly Mode[] },
): Promise<Record<Mode, Timed[]>> {
  const modes = opts.modes ?? MODES;
  const out: Record<Mode, Timed[]> = { temporal: [], 'in-process': [] };
  let n = 0;
  const one = async () => {
    const seat = seats[n++ % seats.length]!;
    return { ...(await seat.client.chat(seat.sessionId, CONTENT)), userId: seat.userId };
  };
  for (const mode of modes) {
    await setMode(mode);
    for (let i = 0; i < opts.warmup; i++) await one();
  }
  for (let b = 0; b < opts.blocksPerMode * modes.length; b++) {
    const mode = modes[b % modes.length]!;
    await setMode(mode);
    for (let i = 0; i < opts.block; i++) out[mode].push(await one());
  }
  return out;
}

/** Closed-loop load: every seat sends its next request when the previous one is done. */
export async function loadRun(
  seats: readonly Seat[],
  seconds: number,
): Promise<{ completed: number; timings: ChatTiming[] }> {
  const started = performance.now();
  const end = started + seconds * 1000;
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

const p = (xs: readonly number[], q: number) => round(percentile(xs, q), 1);

/** The benchmark. */
export async function run(): Promise<BenchResult> {
  const sys = await startSystem({ env: BENCH_ENV });
  const owned = createActivityDeps(sys.config, createLogger({ service: 'bench' }, 'error'));
  const runner = createInProcessRunner(createActivities(owned.deps));
  let seats: Seat[] = [];
  try {
    seats = await openSeats(sys, USERS);
    const setMode = modeSwitcher(sys, runner);
    const lat = await latencyRun(setMode, seats, {
      block: BLOCK,
      blocksPerMode: BLOCKS_PER_MODE,
      warmup: WARMUP,
    });
    const same =
      JSON.stringify(lat.temporal[0]?.types) === JSON.stringify(lat['in-process'][0]?.types);

    const timelines: Timeline[] = await Promise.all(
      lat.temporal
        .slice(-TIMELINE_SAMPLES)
        .map((t) => timelineOf(sys.temporal, t.userId, t.requestId, t.sentAtMs)),
    );

    type Load = { completed: number; cpuMs: number; serverCpuMs: number; timings: ChatTiming[] };
    const load: Record<Mode, Load> = {
      temporal: { completed: 0, cpuMs: 0, serverCpuMs: 0, timings: [] },
      'in-process': { completed: 0, cpuMs: 0, serverCpuMs: 0, timings: [] },
    };
    const serverPid = pidListeningOn(Number(sys.config.temporalAddress.split(':').pop()));
    const serverCpu = () => (serverPid ? processCpuMs(serverPid) : NaN);
    for (let slice = 0; slice < 2; slice++) {
      for (const mode of MODES) {
        await setMode(mode);
        const cpu0 = process.cpuUsage();
        const server0 = serverCpu();
        const r = await loadRun(seats, LOAD_SLICE_S);
        const cpu = process.cpuUsage(cpu0);
        load[mode].cpuMs += (cpu.user + cpu.system) / 1000;
        load[mode].serverCpuMs += serverCpu() - server0;
        load[mode].completed += r.completed;
        load[mode].timings.push(...r.timings);
      }
    }
    const loadSeconds = 2 * LOAD_SLICE_S;
    if (runner.failures > 0) throw new Error(`${runner.failures} in-process requests failed`);

    const of = (ts: readonly ChatTiming[], k: 'firstDelta' | 'accepted' | 'done', q: number) =>
      p(
        ts.map((t) => t[k]),
        q,
      );
    const tl = lat.temporal;
    const il = lat['in-process'];
    const perRequest = (m: Mode) => round(load[m].cpuMs / load[m].completed, 1);
    const metrics: Record<string, number | string> = {
      requests_per_mode: tl.length,
      temporal_first_delta_p50_ms: of(tl, 'firstDelta', 50),
      temporal_first_delta_p99_ms: of(tl, 'firstDelta', 99),
      in_process_first_delta_p50_ms: of(il, 'firstDelta', 50),
      in_process_first_delta_p99_ms: of(il, 'firstDelta', 99),
      overhead_p50_ms: round(of(tl, 'firstDelta', 50) - of(il, 'firstDelta', 50), 1),
      overhead_p99_ms: round(of(tl, 'firstDelta', 99) - of(il, 'firstDelta', 99), 1),
      temporal_accepted_p50_ms: of(tl, 'accepted', 50),
      in_process_accepted_p50_ms: of(il, 'accepted', 50),
      temporal_done_p50_ms: of(tl, 'done', 50),
      in_process_done_p50_ms: of(il, 'done', 50),
      ...timelineMetrics('temporal', timelines),
      load_clients: seats.length,
      load_seconds_per_mode: loadSeconds,
      temporal_requests_per_s: round(load.temporal.completed / loadSeconds, 1),
      in_process_requests_per_s: round(load['in-process'].completed / loadSeconds, 1),
      temporal_load_first_delta_p50_ms: of(load.temporal.timings, 'firstDelta', 50),
      temporal_load_first_delta_p99_ms: of(load.temporal.timings, 'firstDelta', 99),
      in_process_load_first_delta_p50_ms: of(load['in-process'].timings, 'firstDelta', 50),
      temporal_load_done_p50_ms: of(load.temporal.timings, 'done', 50),
      in_process_load_done_p50_ms: of(load['in-process'].timings, 'done', 50),
      temporal_bench_process_cpu_ms_per_request: perRequest('temporal'),
      in_process_bench_process_cpu_ms_per_request: perRequest('in-process'),
      temporal_server_cpu_ms_per_request: round(
        load.temporal.serverCpuMs / load.temporal.completed,
        1,
      ),
      temporal_server_cpu_ms_per_s_during_in_process: round(
        load['in-process'].serverCpuMs / loadSeconds,
        1,
      ),
      same_frames_both_modes: same ? 'yes' : 'NO',
    };
    return {
      name: 'chat',
      command: 'node --import tsx bench/chat.ts',
      metrics,
      goals: [
        { metric: 'overhead_p50_ms', op: '<=', target: 20 },
        { metric: 'overhead_p99_ms', op: '<=', target: 60 },
        { metric: 'temporal_requests_per_s', op: '>=', target: 50 },
      ],
      notes: chatNotes(metrics),
    };
  } finally {
    await Promise.all(seats.map((s) => s.client.close()));
    await runner.idle();
    await sys.stop();
    await owned.close();
  }
}

/** Method notes, and an honest reading of the goals from this run's own figures. */
function chatNotes(m: Record<string, number | string>): string[] {
  const n = (k: string) => Number(m[k]);
  const notes = [
    `first delta = client sends \`chat\` -> first \`delta\` frame, content \`${CONTENT}\` (the embedded LLM emits its first token at once); ${BLOCK}-request blocks alternate between modes after ${WARMUP} warm-up requests per mode; ${USERS} users round-robin, one request at a time.`,
    "overhead = percentile(temporal) - percentile(in-process), at p50 and p99 (the difference of the two distributions' percentiles, not a per-request difference).",
    'in-process: the same activities as chatWorkflow (prepareChat, reserveQuota, callLlm in a MockActivityEnvironment, settleUsage, recordUsage not awaited, finishChat) called directly in the API process by bench/in-process-runner.ts; the no-tool path only. Both modes go through the same API, rate limiter, relay and WebSocket client.',
    `temporal_*_p50_ms segments come from the workflow histories of the last ${TIMELINE_SAMPLES} temporal requests: send_to_started = client send -> WorkflowExecutionStarted; first_task_dispatch = -> first WorkflowTaskStarted; first_task = that task (prepareChat + reserveQuota local activities run inside it); llm_activity_dispatch = WorkflowTaskCompleted -> callLlm ActivityTaskStarted.`,
    `throughput: ${USERS} clients in a closed loop (next request when \`done\` arrives), two ${LOAD_SLICE_S} s slices per mode, alternating; requests/s = requests completed inside the window / window. Temporal mode also runs one billing child workflow per request.`,
    'quotas, rate limit and summaries are set out of the way (huge limits, SUMMARY_THRESHOLD=1000000); the Temporal server is the shared dev server (SQLite file persistence) on the same 2-core machine as everything else.',
  ];
  if (n('overhead_p50_ms') > 20 || n('overhead_p99_ms') > 60) {
    notes.push(
      `MISSED: overhead p50 ${m.overhead_p50_ms} ms (goal 20), p99 ${m.overhead_p99_ms} ms (goal 60). Where the time goes before the LLM call (workflow histories, p50): start RPC ${m.temporal_send_to_started_p50_ms} ms from the client's send (in-process: accepted after ${m.in_process_accepted_p50_ms} ms), first workflow task dispatch ${m.temporal_first_task_dispatch_p50_ms} ms, the first workflow task itself ${m.temporal_first_task_p50_ms} ms (creating the workflow and running prepareChat + reserveQuota as local activities, ~${m.in_process_first_delta_p50_ms} ms of work in-process), callLlm activity dispatch ${m.temporal_llm_activity_dispatch_p50_ms} ms. Each hop is a dev-server transaction (SQLite file) and a worker activation on a 2-core machine that also runs the API, worker, Postgres, Redis, the LLM and this client (and other people's tests: see the load average). Measured fixes: the chat-tuning section (\`npm run bench -- chat-tuning\`).`,
    );
  }
  if (n('temporal_requests_per_s') < 50) {
    notes.push(
      `MISSED: ${m.temporal_requests_per_s} chat requests/s through Temporal (goal 50; in-process ${m.in_process_requests_per_s}/s here). It is CPU-bound: per request this process (API, worker, LLM, clients) spent ${m.temporal_bench_process_cpu_ms_per_request} ms of CPU in temporal mode vs ${m.in_process_bench_process_cpu_ms_per_request} ms in-process, and the Temporal dev server ${m.temporal_server_cpu_ms_per_request} ms (it burns ${m.temporal_server_cpu_ms_per_s_during_in_process} ms/s even without our load); 2 cores give 2,000 ms of CPU per second. Each request is a workflow start, several workflow tasks, local-activity markers, one activity and a billing child workflow, each persisted by the dev server.`,
    );
  }
  return notes;
}

if (require.main === module) runStandalone(run);
