/**
 * The failover arm of the chat benchmark (issue 19, docs/API.md "Models and providers"):
 * what a failing primary provider costs a request's first token when a second provider
 * takes over.
 *
 * Two embedded LLM instances are the route of one model (`primary`, then `secondary`),
 * on a stack of their own. Sequential requests from one client, first token = client
 * sends `chat` -> first `delta` frame, in alternating blocks:
 * - `healthy`: the primary answers;
 * - `refusing`: the primary answers every request 503; the secondary answers. Its breaker
 *   is reset before each request, so every request pays the refusal (the case before the
 *   breaker opens);
 * - `hanging`: the primary accepts and never answers, and its breaker is open (tripped by
 *   real requests that waited out the first-token timeout before the block): requests
 *   skip it and go to the secondary.
 * Goals: refusing - healthy <= 10 ms (p50), hanging - healthy <= 20 ms (p50).
 *
 * Part of `npm run bench -- chat` (bench/chat.ts), or alone: `node --import tsx bench/chat-failover.ts`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalLlm } from '../local-llm/server';
import { startSystem, type TestSystem } from '../testkit/system';
import { BENCH_ENV } from './bench-env';
import { BenchChatClient } from './chat-client';
import { percentile, round, runStandalone, type BenchResult, type Goal } from './result';

const BLOCK = 20;
const BLOCKS_PER_ARM = 3;
const WARMUP = 10;
const CONTENT = 'failover bench [[tokens:8]]';
const BREAKER_FAILURES = 3;
/** Short, so tripping the breaker before a hanging block takes seconds. */
const FIRST_TOKEN_TIMEOUT_MS = 1000;
const MODEL = 'duo';

const ARMS = ['healthy', 'refusing', 'hanging'] as const;
type Arm = (typeof ARMS)[number];

export interface FailoverFigures {
  metrics: Record<string, number | string>;
  goals: Goal[];
  notes: string[];
}

/** Runs the arm on a stack of its own (`bundlePath`: a prebuilt workflow bundle, optional). */
export async function failoverArm(bundlePath?: string): Promise<FailoverFigures> {
  const primary = await startLocalLlm({ port: 0, name: 'primary' });
  const secondary = await startLocalLlm({ port: 0, name: 'secondary' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-failover-'));
  const file = path.join(dir, 'llm.json');
  writeFileSync(
    file,
    JSON.stringify({
      providers: { primary: { baseUrl: primary.url }, secondary: { baseUrl: secondary.url } },
      models: { [MODEL]: { route: ['primary/gpt-4o-mini', 'secondary/gpt-4o-mini'] } },
      defaultModel: MODEL,
    }),
  );
  let sys: TestSystem | undefined;
  let client: BenchChatClient | undefined;
  try {
    sys = await startSystem({
      env: {
        ...BENCH_ENV,
        LLM_CONFIG: file,
        LLM_FIRST_TOKEN_TIMEOUT_MS: String(FIRST_TOKEN_TIMEOUT_MS),
        LLM_BREAKER_FAILURES: String(BREAKER_FAILURES),
        LLM_BREAKER_COOLDOWN_MS: '600000',
        ...(bundlePath ? { WORKFLOW_BUNDLE_PATH: bundlePath } : {}),
      },
    });
    const s = sys;
    const user = s.newUser('pro');
    const sessionId = await s.createSession(user.token);
    const c = (client = await BenchChatClient.connect(s.wsUrl, user.token));
    const breakerKeys = ['open', 'failures', 'tripped'].map((k) => `breaker:{llm-provider:primary}:${k}`);
    const resetBreaker = async () => {
      await s.api.deps.redis.del(...breakerKeys);
    };
    const one = async (): Promise<{ firstDelta: number; content: string }> => c.chat(sessionId, CONTENT);

    const setArm = async (arm: Arm) => {
      primary.setFaults(arm === 'refusing' ? { failStatus: 503 } : arm === 'hanging' ? { hang: true } : {});
      await resetBreaker();
      if (arm !== 'hanging') return;
      // Trip the breaker the way production does: requests that wait out the timeout.
      for (let i = 0; i < BREAKER_FAILURES; i++) await one();
      if ((await s.api.deps.redis.exists(breakerKeys[0]!)) !== 1) throw new Error('the breaker did not open');
    };
    const measure = async (arm: Arm): Promise<{ firstDelta: number; content: string }> => {
      if (arm === 'refusing') await resetBreaker();
      return one();
    };

    for (const arm of ARMS) {
      await setArm(arm);
      for (let i = 0; i < WARMUP; i++) await measure(arm);
    }
    const samples: Record<Arm, number[]> = { healthy: [], refusing: [], hanging: [] };
    const blockP50s: Record<Arm, number[]> = { healthy: [], refusing: [], hanging: [] };
    const wrongProvider: Record<Arm, number> = { healthy: 0, refusing: 0, hanging: 0 };
    for (let b = 0; b < BLOCKS_PER_ARM * ARMS.length; b++) {
      const arm = ARMS[b % ARMS.length]!;
      await setArm(arm);
      const primaryCalls = primary.stats.requests;
      for (let i = 0; i < BLOCK; i++) {
        const t = await measure(arm);
        samples[arm].push(t.firstDelta);
        const expected = arm === 'healthy' ? '[primary]' : '[secondary]';
        if (!t.content.startsWith(expected)) wrongProvider[arm]++;
      }
      blockP50s[arm].push(percentile(samples[arm].slice(-BLOCK), 50));
      if (arm === 'hanging' && primary.stats.requests !== primaryCalls) wrongProvider.hanging += primary.stats.requests - primaryCalls;
    }
    primary.setFaults({});

    const metrics: Record<string, number | string> = { failover_requests_per_arm: BLOCK * BLOCKS_PER_ARM };
    for (const arm of ARMS) {
      metrics[`failover_${arm}_first_delta_p50_ms`] = round(percentile(samples[arm], 50));
      metrics[`failover_${arm}_first_delta_p99_ms`] = round(percentile(samples[arm], 99));
      metrics[`failover_${arm}_wrong_provider`] = wrongProvider[arm];
    }
    const healthy = percentile(samples.healthy, 50);
    // How far apart blocks of one arm land: an overhead inside this spread is noise.
    const spread = (xs: number[]) => round(Math.max(...xs) - Math.min(...xs));
    metrics.failover_healthy_block_p50_spread_ms = spread(blockP50s.healthy);
    metrics.failover_refusing_overhead_p50_ms = round(percentile(samples.refusing, 50) - healthy);
    metrics.failover_hanging_open_overhead_p50_ms = round(percentile(samples.hanging, 50) - healthy);
    return {
      metrics,
      goals: [
        { metric: 'failover_refusing_overhead_p50_ms', op: '<=', target: 10 },
        { metric: 'failover_hanging_open_overhead_p50_ms', op: '<=', target: 20 },
      ],
      notes: [
        `failover arm (bench/chat-failover.ts): one model routed to two embedded LLM instances, primary then secondary, on a stack of its own; ${BLOCK}-request blocks alternate between healthy (the primary answers), refusing (the primary answers 503 and its breaker is reset before each request, so each request pays the refusal) and hanging (the primary never answers and its breaker is open, tripped before each block by ${BREAKER_FAILURES} requests that waited out LLM_FIRST_TOKEN_TIMEOUT_MS=${FIRST_TOKEN_TIMEOUT_MS}); overhead = p50(arm) - p50(healthy); healthy_block_p50_spread = the largest minus the smallest p50 of the healthy blocks, the noise an overhead must be read against (the load average above is the whole machine's). wrong_provider counts replies not from the expected instance (and, for hanging, calls that reached the primary): 0 expected.`,
      ],
    };
  } finally {
    await client?.close();
    await sys?.stop();
    await primary.close();
    await secondary.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function run(): Promise<BenchResult> {
  const figures = await failoverArm();
  return { name: 'chat-failover', command: 'node --import tsx bench/chat-failover.ts', ...figures };
}

if (require.main === module) runStandalone(run);
