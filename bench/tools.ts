/**
 * Benchmark of long-running tool progress (docs/SPEC.md "P2"): 50 `summarize_document`
 * tasks at once, each with one slow chunk, over 50 WebSocket clients. Measures the
 * delay from the moment a tool's activity emits progress (its heartbeat; `emittedAt`
 * in the `tool_progress` event) to the moment the client receives the frame, and the
 * cadence the client sees (largest gap between a task's tool frames; the contract
 * promises at most 5 s).
 *
 * `npx tsx bench/tools.ts` prints a table and the JSON result (the real local stack:
 * Temporal, Postgres, Redis; the embedded LLM).
 */
import { randomUUID } from 'node:crypto';
import { ensureBundle } from '../testkit/tool-worker-process';
import { startSystem } from '../testkit/system';
import type { TestClient } from '../testkit/ws-client';
import { percentile, round, runStandalone, type BenchResult } from './result';

const TASKS = 50;
const CHUNK_TOKENS = 40;
/** Per-token delay of the slow chunk: the embedded LLM takes ~10 s on it. */
const SLOW_DELAY_MS = 250;
const TIMEOUT_MS = 75_000;

interface Sample {
  /** emittedAt -> received, ms. */
  delays: number[];
  /** Largest gap between consecutive tool frames while the tool runs (tool_call, tool_progress), ms. */
  largestGap: number;
  /** From the tool's last progress (100%) to its tool_result at the client, ms. */
  resultLag: number;
  durationMs: number;
  ok: boolean;
}

function documentText(tag: string): string {
  const words = Array.from({ length: 36 }, (_, i) => `${tag}w${i}`);
  words.splice(16, 0, `[[delay_ms:${SLOW_DELAY_MS}]]`);
  return words.join(' ');
}

/** Runs one task over its own socket and collects its timings at the client. */
function runTask(client: TestClient, sessionId: string): Promise<Sample> {
  const requestId = randomUUID();
  const args = { text: documentText(randomUUID().slice(0, 6)), chunkTokens: CHUNK_TOKENS };
  const delays: number[] = [];
  let last: number | undefined;
  let largestGap = 0;
  let started = 0;
  let ended = 0;
  let resultLag = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`task ${requestId} timed out`)), TIMEOUT_MS);
    client.ws.on('message', (data) => {
      const now = Date.now();
      const f = JSON.parse(Buffer.from(data as ArrayBuffer).toString('utf8')) as Record<
        string,
        unknown
      >;
      if (f.requestId !== requestId) return;
      if (f.type === 'tool_call' || f.type === 'tool_progress') {
        if (f.type === 'tool_call') started = now;
        if (last !== undefined) largestGap = Math.max(largestGap, now - last);
        last = now;
      }
      if (f.type === 'tool_result') {
        resultLag = now - (last ?? now);
        ended = now;
      }
      if (f.type === 'tool_progress' && typeof f.emittedAt === 'string') {
        delays.push(now - Date.parse(f.emittedAt));
      }
      if (f.type === 'done' || f.type === 'error') {
        clearTimeout(timer);
        resolve({
          delays,
          largestGap,
          resultLag,
          durationMs: (ended || now) - started,
          ok: f.type === 'done',
        });
      }
    });
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: `[[tool:summarize_document ${JSON.stringify(args)}]]`,
    });
  });
}

/** The benchmark: 50 concurrent long tools, progress delay p50/p99 at the client. */
export async function run(): Promise<BenchResult> {
  const bundle = await ensureBundle();
  const sys = await startSystem({
    env: { WORKFLOW_BUNDLE_PATH: bundle, RATE_LIMIT_PER_MINUTE: '1000' },
  });
  const clients: TestClient[] = [];
  try {
    const setups = await Promise.all(
      Array.from({ length: TASKS }, async () => {
        const user = sys.newUser('pro');
        const sessionId = await sys.createSession(user.token);
        const client = await sys.connect(user.token);
        clients.push(client);
        return { client, sessionId };
      }),
    );
    const began = Date.now();
    const samples = await Promise.all(setups.map((s) => runTask(s.client, s.sessionId)));
    const wallMs = Date.now() - began;
    const delays = samples.flatMap((s) => s.delays);
    const gaps = samples.map((s) => s.largestGap);
    return {
      name: 'tools',
      command: 'npx tsx bench/tools.ts',
      metrics: {
        concurrent_tools: TASKS,
        completed: samples.filter((s) => s.ok).length,
        progress_frames: delays.length,
        progress_delay_p50_ms: round(percentile(delays, 50), 1),
        progress_delay_p99_ms: round(percentile(delays, 99), 1),
        progress_delay_max_ms: round(Math.max(...delays), 1),
        largest_gap_p50_ms: percentile(gaps, 50),
        largest_gap_max_ms: Math.max(...gaps),
        result_lag_p50_ms: percentile(
          samples.map((s) => s.resultLag),
          50,
        ),
        result_lag_max_ms: Math.max(...samples.map((s) => s.resultLag)),
        tool_duration_p50_s: round(
          percentile(
            samples.map((s) => s.durationMs),
            50,
          ) / 1000,
          1,
        ),
        wall_s: round(wallMs / 1000, 1),
      },
      goals: [
        { metric: 'completed', op: '>=', target: TASKS },
        { metric: 'largest_gap_max_ms', op: '<=', target: 5000 },
      ],
      notes: [
        `${TASKS} summarize_document tasks at once (one client each): ~150-token documents in chunks of ${CHUNK_TOKENS} tokens, one chunk slowed to ~10 s by the embedded LLM.`,
        'progress delay = client receive time - emittedAt (the activity heartbeat that wrote the event); same host clock.',
        'largest gap = longest silence a client saw between tool_call and tool_progress frames while a tool ran (contract: <= 5000 ms).',
        "result lag = from the tool's 100% progress to its tool_result frame (child workflow completion -> chat workflow).",
      ],
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await sys.stop();
  }
}

if (require.main === module) runStandalone(run);
