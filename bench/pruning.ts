/**
 * Benchmark of context pruning (issue 3, docs/SPEC.md "P0"), with the product's defaults
 * (window of 10 messages, summaries past 20, in batches of 10):
 *
 * (a) a scripted 100-turn conversation through the real system (replies of 150 tokens):
 *     prompt tokens the LLM was sent, plus everything the summarisation calls cost
 *     (their prompt and completion tokens), against the full history sent every turn
 *     (counted exactly with tiktoken over system prompt + every message so far);
 * (b) pruning time per request (the prepareChat activity, called directly) with a stored
 *     history of 20 vs 10,000 messages, side by side.
 *
 * `npm run bench -- pruning`, or alone on a running stack: `node --import tsx bench/pruning.ts`.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PromptMessage } from '../contracts/common';
import { countPromptTokens, modelInfo } from '../prompt/tokens';
import { startSystem } from '../testkit/system';
import { BenchChatClient } from './chat-client';
import { BENCH_ENV } from './chat';
import { prepareTimes } from './pruning-latency';
import { round, runStandalone, type BenchResult } from './result';

const TURNS = 100;
const REPLY_TOKENS = 150;
const SUMMARY_WAIT_MS = 15_000;

/** Waits until the session's summary moves past `watermark` (a run it just started). */
async function summaryAfter(
  query: (sql: string, params: unknown[]) => Promise<{ rows: Array<{ w: string }> }>,
  sessionId: string,
  watermark: string | undefined,
): Promise<string | undefined> {
  const deadline = Date.now() + SUMMARY_WAIT_MS;
  while (Date.now() < deadline) {
    const { rows } = await query(
      'SELECT watermark_message_id::text AS w FROM chat_summaries WHERE session_id = $1',
      [sessionId],
    );
    const w = rows[0]?.w;
    if (w !== undefined && w !== watermark) return w;
    await sleep(50);
  }
  return watermark;
}

/** (a) The 100-turn conversation. */
async function conversation(): Promise<{
  metrics: Record<string, number | string>;
  notes: string[];
}> {
  const env = { ...BENCH_ENV };
  delete env.SUMMARY_THRESHOLD;
  const sys = await startSystem({ env });
  const user = sys.newUser('pro');
  const sessionId = await sys.createSession(user.token);
  const client = await BenchChatClient.connect(sys.wsUrl, user.token);
  const tag = randomUUID().slice(0, 8);
  const { encoding } = modelInfo(sys.config.llm.model, sys.config.modelTable);
  const query = (sql: string, params: unknown[]) =>
    sys.api.deps.db.query<{ w: string }>(sql, params);
  try {
    const history: PromptMessage[] = [];
    const fullPerTurn: number[] = [];
    let system: string | undefined;
    let watermark: string | undefined;
    let summaryWaitsTimedOut = 0;
    for (let turn = 1; turn <= TURNS; turn++) {
      const content = `bench ${tag} turn ${turn}: tell me more about topic ${turn % 7} [[tokens:${REPLY_TOKENS}]]`;
      const before = sys.llm.stats.calls.length;
      const t = await client.chat(sessionId, content);
      system ??= sys.llm.stats.calls.slice(before).find((c) => c.stream)?.system;
      if (system === undefined) throw new Error('no chat call recorded for the first turn');
      history.push({ role: 'user', content });
      fullPerTurn.push(
        countPromptTokens([{ role: 'system', content: system }, ...history], encoding),
      );
      history.push({ role: 'assistant', content: t.content });
      // A person takes seconds to answer: let a summary the turn started land first.
      if (t.types.includes('status:summarizing')) {
        const next = await summaryAfter(query, sessionId, watermark);
        if (next === watermark) summaryWaitsTimedOut++;
        watermark = next;
      }
    }
    await sleep(500);
    const calls = sys.llm.stats.calls;
    const chats = calls.filter((c) => c.stream && c.lastUserMessage.startsWith(`bench ${tag} `));
    const summaries = calls.filter(
      (c) => !c.stream && c.lastUserMessage.startsWith('Previous summary:'),
    );
    if (chats.length !== TURNS)
      throw new Error(`expected ${TURNS} chat calls, saw ${chats.length}`);
    const sent = chats.reduce((n, c) => n + c.promptTokens, 0);
    const summaryPrompt = summaries.reduce((n, c) => n + c.promptTokens, 0);
    const summaryCompletion = summaries.reduce((n, c) => n + c.completionTokens, 0);
    const full = fullPerTurn.reduce((n, x) => n + x, 0);
    const pruned = sent + summaryPrompt + summaryCompletion;
    // Until the window fills (turn 5: 9 messages), the prompt is the full history: the
    // baseline's count must equal what the LLM itself counted.
    const exactUntil = 5;
    const baselineExact = chats
      .slice(0, exactUntil)
      .every((c, i) => c.promptTokens === fullPerTurn[i]);
    return {
      metrics: {
        turns: TURNS,
        reply_tokens: REPLY_TOKENS,
        full_history_prompt_tokens: full,
        pruned_chat_prompt_tokens: sent,
        summary_calls: summaries.length,
        summary_prompt_tokens: summaryPrompt,
        summary_completion_tokens: summaryCompletion,
        pruned_total_tokens: pruned,
        net_reduction_pct: round((1 - pruned / full) * 100, 1),
        chat_prompt_reduction_pct: round((1 - sent / full) * 100, 1),
        last_turn_full_tokens: fullPerTurn.at(-1) ?? 0,
        last_turn_pruned_tokens: chats.at(-1)?.promptTokens ?? 0,
        baseline_matches_llm_first_turns: baselineExact ? 'yes' : 'NO',
        summary_waits_timed_out: summaryWaitsTimedOut,
      },
      notes: [
        `(a) ${TURNS} turns in one session through the real system (API, Temporal, workers, embedded LLM), each user message asking for a ${REPLY_TOKENS}-token reply; product defaults: MAX_HISTORY_MESSAGES=${sys.config.maxHistoryMessages}, SUMMARY_THRESHOLD=${sys.config.summaryThreshold}, SUMMARY_MIN_NEW_MESSAGES=${sys.config.summaryMinNewMessages}.`,
        'pruned_total = prompt tokens of every chat LLM call (as the LLM counted them) + prompt and completion tokens of every summarisation call; full_history = tiktoken count of system prompt + every earlier message + the new one, each turn (what sending the whole history would cost). Completion tokens of the chat replies are the same either way and left out of both.',
        `baseline check: for the first ${exactUntil} turns (window not full yet) the full-history count equals the LLM's own prompt count: ${baselineExact ? 'yes' : 'NO'}.`,
        'after a turn that starts a summary (`status: summarizing`), the next turn waits for the summary to land (as a person reading the reply would); summaries still never block a request.',
      ],
    };
  } finally {
    await client.close();
    await sys.stop();
  }
}

/** The benchmark. */
export async function run(): Promise<BenchResult> {
  const a = await conversation();
  const b = await prepareTimes();
  return {
    name: 'pruning',
    command: 'node --import tsx bench/pruning.ts',
    metrics: { ...a.metrics, ...b.metrics },
    goals: [
      { metric: 'net_reduction_pct', op: '>=', target: 70 },
      { metric: 'prepare_p50_ratio_10000_vs_20', op: '<=', target: 1.5 },
      { metric: 'prepare_p99_ratio_10000_vs_20', op: '<=', target: 1.5 },
    ],
    notes: [...a.notes, ...b.notes],
  };
}

if (require.main === module) runStandalone(run);
