/**
 * The Responses arm of the chat benchmark (issue 18): what the Responses door adds to a
 * chat request, on the same system as the other arms.
 *
 * 1. `background create`: `POST /v1/responses` with `background:true` -> its answer
 *    (`queued`): the row, a new chain's session, the rate limit and the workflow start.
 *    Each run is then followed to its end (re-attach stream) before the next, so
 *    background work never piles up under the measurement.
 * 2. First token: the first `response.output_text.delta` of a streamed response
 *    (stored, and `store:false`) against the first content chunk of a streamed Chat
 *    Completion of the same prompt, in alternating blocks; overhead = responses - chat
 *    completions, at p50.
 *
 * Hooked into `npm run bench -- chat` (bench/chat.ts calls {@link responsesArm}); alone:
 * `node --import tsx bench/responses.ts`.
 */
import { performance } from 'node:perf_hooks';
import { startSystem, type TestSystem } from '../testkit/system';
import { BENCH_ENV } from './bench-env';
import { percentile, round, runStandalone, type BenchResult, type Goal } from './result';

const WARMUP = 10;
const CREATES = 100;
const BLOCK = 20;
const BLOCKS_PER_ARM = 5;
const PROMPT = 'bench [[tokens:8]]';

type StreamArm = 'responses' | 'responses_unstored' | 'chat_completions';
const STREAM_ARMS: readonly StreamArm[] = ['responses', 'responses_unstored', 'chat_completions'];

/** The first-token test of each arm: is this SSE `data` the first text? */
const FIRST_TEXT: Record<StreamArm, (data: Record<string, any>) => boolean> = {
  responses: (d) => d.type === 'response.output_text.delta',
  responses_unstored: (d) => d.type === 'response.output_text.delta',
  chat_completions: (d) => Boolean(d.choices?.[0]?.delta?.content),
};

const BODY: Record<StreamArm, unknown> = {
  responses: { input: PROMPT, stream: true },
  responses_unstored: { input: PROMPT, stream: true, store: false },
  chat_completions: { messages: [{ role: 'user', content: PROMPT }], stream: true },
};
const PATH: Record<StreamArm, string> = {
  responses: '/v1/responses',
  responses_unstored: '/v1/responses',
  chat_completions: '/v1/chat/completions',
};

/** POSTs a streamed request; ms to its first text, having read the stream to its end. */
async function firstText(sys: TestSystem, token: string, arm: StreamArm): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(sys.baseUrl + PATH[arm], {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(BODY[arm]),
  });
  if (!res.ok || !res.body) throw new Error(`${arm}: HTTP ${res.status} ${await res.text()}`);
  let first = NaN;
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    if (!Number.isNaN(first)) continue;
    for (const line of buffer.split('\n')) {
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      if (FIRST_TEXT[arm](JSON.parse(line.slice(6)) as Record<string, any>)) {
        first = performance.now() - t0;
        break;
      }
    }
    buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
  }
  if (Number.isNaN(first)) throw new Error(`${arm}: the stream had no text`);
  return first;
}

/** A background create: ms to its answer; then waits for the run's end. */
async function backgroundCreate(sys: TestSystem, token: string): Promise<number> {
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const t0 = performance.now();
  const res = await fetch(`${sys.baseUrl}/v1/responses`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ input: PROMPT, background: true }),
  });
  const created = (await res.json()) as { id: string; status: string };
  const ms = performance.now() - t0;
  if (created.status !== 'queued')
    throw new Error(`background create answered ${JSON.stringify(created)}`);
  const end = await fetch(`${sys.baseUrl}/v1/responses/${created.id}?stream=true`, { headers });
  await end.text();
  return ms;
}

/** The Responses arm's metrics, goals and notes, measured on `sys` (a running system). */
export async function responsesArm(
  sys: TestSystem,
): Promise<Required<Pick<BenchResult, 'metrics' | 'goals' | 'notes'>>> {
  const { token } = sys.newUser('pro');
  for (let i = 0; i < WARMUP; i++) {
    await backgroundCreate(sys, token);
    for (const arm of STREAM_ARMS) await firstText(sys, token, arm);
  }
  const creates: number[] = [];
  for (let i = 0; i < CREATES; i++) creates.push(await backgroundCreate(sys, token));
  const first: Record<StreamArm, number[]> = {
    responses: [],
    responses_unstored: [],
    chat_completions: [],
  };
  for (let b = 0; b < BLOCKS_PER_ARM * STREAM_ARMS.length; b++) {
    const arm = STREAM_ARMS[b % STREAM_ARMS.length]!;
    for (let i = 0; i < BLOCK; i++) first[arm].push(await firstText(sys, token, arm));
  }
  const p = (xs: number[], q: number) => round(percentile(xs, q));
  const metrics: Record<string, number> = {
    responses_background_create_p50_ms: p(creates, 50),
    responses_background_create_p99_ms: p(creates, 99),
  };
  for (const arm of STREAM_ARMS) {
    metrics[`${arm}_first_text_p50_ms`] = p(first[arm], 50);
    metrics[`${arm}_first_text_p99_ms`] = p(first[arm], 99);
  }
  metrics.responses_first_token_overhead_p50_ms = round(
    metrics.responses_first_text_p50_ms! - metrics.chat_completions_first_text_p50_ms!,
  );
  metrics.responses_unstored_first_token_overhead_p50_ms = round(
    metrics.responses_unstored_first_text_p50_ms! - metrics.chat_completions_first_text_p50_ms!,
  );
  const goals: Goal[] = [
    { metric: 'responses_background_create_p50_ms', op: '<=', target: 15 },
    { metric: 'responses_first_token_overhead_p50_ms', op: '<=', target: 5 },
  ];
  const notes = [
    `responses: background create = POST /v1/responses {background:true} -> its \`queued\` answer (${CREATES} sequential, each followed to its end before the next); first text = request sent -> first response.output_text.delta (Chat Completions: first chunk with content), prompt \`${PROMPT}\`, ${BLOCK}-request blocks alternating between arms; overhead = p50(responses) - p50(chat completions). A stored response also writes its row and its chain's session; responses_unstored is store:false (a stateless completion, like the Chat Completions arm).`,
  ];
  return { metrics, goals, notes };
}

/** Alone: a system of its own with the chat benchmark's settings. */
async function run(): Promise<BenchResult> {
  const sys = await startSystem({ env: BENCH_ENV });
  try {
    const arm = await responsesArm(sys);
    return { name: 'chat-responses', command: 'node --import tsx bench/responses.ts', ...arm };
  } finally {
    await sys.stop();
  }
}

if (require.main === module) runStandalone(run);
