/**
 * Part (b) of bench/pruning.ts: how long the prepareChat activity (store the message,
 * read the window, prune, check whether a summary is due) takes with a stored history
 * of 20 vs 10,000 messages. Calls alternate between the sessions so both share the
 * machine's noise; each call's own user message is deleted afterwards (untimed), so
 * every call sees exactly the stored history.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';
import { createActivities } from '../activities';
import { chatSettings } from '../api/chat';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { summaryMessage } from '../prompt/pruner';
import { summaryCacheKey } from '../store/summaries';
import { countMessageTokens, modelInfo } from '../prompt/tokens';
import { createActivityDeps } from '../workers/deps';
import { percentile, round } from './result';

const CALLS = 200;
const WARMUP = 20;

const USER_TEXT =
  'Could you explain how this part works, and what I should watch out for when I change it?';
const ASSISTANT_TEXT = Array.from(
  { length: 12 },
  (_, i) =>
    `Point ${i + 1}: the component keeps its state in one place, so a change there shows up everywhere it is read.`,
).join(' ');

interface Series {
  size: number;
  summary: boolean;
  /** Interleaved: the session's messages alternate with other sessions' (as in real use). */
  layout: 'interleaved' | 'contiguous';
  sessionId: string;
  times: number[];
}

const SERIES: ReadonlyArray<Pick<Series, 'size' | 'summary' | 'layout'>> = [
  { size: 20, summary: true, layout: 'interleaved' },
  { size: 10_000, summary: true, layout: 'interleaved' },
  { size: 20, summary: false, layout: 'interleaved' },
  { size: 10_000, summary: false, layout: 'interleaved' },
  { size: 10_000, summary: true, layout: 'contiguous' },
];
/** Messages of other sessions between two of an interleaved session's. */
const BACKGROUND_PER_MESSAGE = 9;

/** (b) prepareChat p50/p99 per stored-history size, with and without a stored summary. */
export async function prepareTimes(): Promise<{
  metrics: Record<string, number | string>;
  notes: string[];
}> {
  const config = loadConfig();
  const owned = createActivityDeps(config, createLogger({ service: 'bench' }, 'error'));
  const { db, redis } = owned.deps;
  const acts = createActivities(owned.deps);
  const { encoding } = modelInfo(config.llm.model, config.modelTable);
  const userTokens = countMessageTokens({ role: 'user', content: USER_TEXT }, encoding);
  const assistantTokens = countMessageTokens(
    { role: 'assistant', content: ASSISTANT_TEXT },
    encoding,
  );
  const summaryText = `The user and the assistant discussed ${ASSISTANT_TEXT.slice(0, 600)}`;
  const summaryTokens = countMessageTokens(summaryMessage(summaryText), encoding);
  const userId = randomUUID();
  const series: Series[] = [];
  const newSession = async () => {
    const id = randomUUID();
    await db.query('INSERT INTO chat_sessions (id, user_id) VALUES ($1, $2)', [id, userId]);
    return id;
  };
  try {
    await db.query(`INSERT INTO users (id, username, plan) VALUES ($1, 'bench-pruning', 'pro')`, [
      userId,
    ]);
    await db.query('INSERT INTO push_preferences (user_id) VALUES ($1) ON CONFLICT DO NOTHING', [
      userId,
    ]);
    const background = await Promise.all(
      Array.from({ length: BACKGROUND_PER_MESSAGE }, newSession),
    );
    for (const spec of SERIES) {
      const sessionId = await newSession();
      const stride = spec.layout === 'interleaved' ? 1 + BACKGROUND_PER_MESSAGE : 1;
      // Row i belongs to this session when i % stride = 0 (its (i / stride)-th message),
      // else to background session i % stride - 1 (short messages).
      await seedWithoutTriggers(
        db,
        [sessionId, ...background],
        `INSERT INTO chat_messages (session_id, request_id, message_key, role, content, tokens, model)
         SELECT CASE WHEN i % $8 = 0 THEN $1::uuid ELSE ($9::uuid[])[i % $8] END,
                gen_random_uuid(), $1::text || ':' || i,
                CASE WHEN (i / $8) % 2 = 0 THEN 'user' ELSE 'assistant' END,
                CASE WHEN i % $8 <> 0 THEN 'ok' WHEN (i / $8) % 2 = 0 THEN $3 ELSE $4 END,
                CASE WHEN i % $8 <> 0 THEN 5 WHEN (i / $8) % 2 = 0 THEN $5::int ELSE $6::int END, $7
           FROM generate_series(0, $2::int * $8 - 1) AS i ORDER BY i`,
        [
          sessionId,
          spec.size,
          USER_TEXT,
          ASSISTANT_TEXT,
          userTokens,
          assistantTokens,
          config.llm.model,
          stride,
          background,
        ],
      );
      if (spec.summary) {
        // Steady state: a summary covers everything older than the window.
        await db.query(
          `INSERT INTO chat_summaries (session_id, summary, watermark_message_id, tokens, model)
           SELECT $1, $2, id, $3, $4 FROM chat_messages WHERE session_id = $1
            ORDER BY id DESC OFFSET $5 LIMIT 1`,
          [sessionId, summaryText, summaryTokens, config.llm.model, config.maxHistoryMessages],
        );
      }
      await redis.del(summaryCacheKey(sessionId));
      series.push({ ...spec, sessionId, times: [] });
    }
    await db.query('ANALYZE chat_messages');
    const settings = chatSettings(config);
    for (let i = 0; i < WARMUP + CALLS; i++) {
      for (const s of series) {
        const requestId = randomUUID();
        const t0 = performance.now();
        await acts.prepareChat({
          requestId,
          userId,
          sessionId: s.sessionId,
          content: USER_TEXT,
          model: config.llm.model,
          settings,
        });
        const took = performance.now() - t0;
        if (i >= WARMUP) s.times.push(took);
        await db.query('DELETE FROM chat_messages WHERE message_key = $1', [`${requestId}:user`]);
      }
    }
  } finally {
    await db.query('DELETE FROM users WHERE id = $1', [userId]).catch(() => undefined);
    for (const s of series) await redis.del(summaryCacheKey(s.sessionId)).catch(() => undefined);
    await owned.close();
  }
  const metrics: Record<string, number> = {};
  const suffix = (s: Pick<Series, 'summary' | 'layout'>) =>
    `${s.summary ? '' : '_no_summary'}${s.layout === 'contiguous' ? '_contiguous' : ''}`;
  for (const s of series) {
    metrics[`prepare_p50_ms_${s.size}_msgs${suffix(s)}`] = round(percentile(s.times, 50), 2);
    metrics[`prepare_p99_ms_${s.size}_msgs${suffix(s)}`] = round(percentile(s.times, 99), 2);
  }
  const small = (summary: boolean) => series.find((s) => s.size === 20 && s.summary === summary)!;
  for (const big of series.filter((s) => s.size === 10_000)) {
    for (const q of [50, 99]) {
      const ratio = percentile(big.times, q) / percentile(small(big.summary).times, q);
      metrics[`prepare_p${q}_ratio_10000_vs_20${suffix(big)}`] = round(ratio, 2);
    }
  }
  return {
    metrics,
    notes: [
      `(b) prepareChat called directly (createActivities over workers/deps.ts createActivityDeps) on sessions holding 20 and 10,000 messages inserted with SQL (alternating ${userTokens}-token questions and ${assistantTokens}-token answers), ${CALLS} timed calls each after ${WARMUP} warm-up calls, the sessions taking turns call by call; each call's own message is deleted afterwards (untimed).`,
      `with summary (the goal's figures): a stored summary (${summaryTokens} tokens) covers all but the last ${config.maxHistoryMessages} messages, the steady state; _no_summary: none was ever written, so every call also finds a summary due (the batch check and the breaker lookup).`,
      `layout: a session's messages are interleaved with ${BACKGROUND_PER_MESSAGE} other sessions' (short) messages, as when many users chat at once; _contiguous: all 10,000 inserted back to back (one session owning a large block of the table), a worst case for the query planner.`,
    ],
  };
}

/**
 * Runs one bulk insert into chat_messages as a replica loads data: without the per-row
 * trigger that keeps each session's count and last activity (migration 006). Through the
 * trigger, 100k rows update the same few session rows once each inside one statement,
 * which slows down quadratically past the pool's statement timeout. The touched sessions'
 * bookkeeping (`sessions`) is then set once from what was inserted. Needs a superuser (the local
 * Postgres the benchmarks run on).
 */
async function seedWithoutTriggers(
  db: Pool,
  sessions: string[],
  insert: string,
  params: unknown[],
): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL session_replication_role = replica');
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query(insert, params);
    await client.query(
      `UPDATE chat_sessions s SET message_count = m.n, last_message_at = m.last
         FROM (SELECT session_id, count(*) AS n, max(created_at) AS last FROM chat_messages
                WHERE session_id = ANY($1::uuid[]) GROUP BY session_id) m
        WHERE s.id = m.session_id`,
      [sessions],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
