/**
 * Conversation summaries: kept durably in Postgres, cached in Redis for an hour. A
 * cache miss reloads from Postgres; nothing already summarised is summarised again.
 */
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { cacheHitsTotal } from '../lib/metrics';

export interface StoredSummary {
  text: string;
  /** Id of the newest message the summary covers. */
  watermark: string;
  /** Prompt cost of the summary as it enters the prompt. */
  tokens: number;
  model: string;
}

export const SUMMARY_CACHE_TTL_SECONDS = 3600;

export const summaryCacheKey = (sessionId: string) => `summary:{s:${sessionId}}`;

interface SummaryRow {
  summary: string;
  watermark_message_id: string;
  tokens: number;
  model: string;
}

export class SummaryStore {
  constructor(
    private readonly db: Pool,
    private readonly redis: Redis,
    private readonly ttlSeconds = SUMMARY_CACHE_TTL_SECONDS,
  ) {}

  /** The session's summary (cache, then Postgres); undefined when there is none yet. */
  async get(sessionId: string): Promise<StoredSummary | undefined> {
    const cached = await this.redis.get(summaryCacheKey(sessionId)).catch(() => null);
    if (cached) {
      cacheHitsTotal.inc({ cache_type: 'summary', hit: 'true' });
      return JSON.parse(cached) as StoredSummary;
    }
    cacheHitsTotal.inc({ cache_type: 'summary', hit: 'false' });
    const summary = await this.load(sessionId);
    if (summary) await this.cache(sessionId, summary);
    return summary;
  }

  /** The session's summary from Postgres (the source of truth). */
  async load(sessionId: string): Promise<StoredSummary | undefined> {
    const { rows } = await this.db.query<SummaryRow>(
      'SELECT summary, watermark_message_id, tokens, model FROM chat_summaries WHERE session_id = $1',
      [sessionId],
    );
    const r = rows[0];
    return r
      ? {
          text: r.summary,
          watermark: String(r.watermark_message_id),
          tokens: r.tokens,
          model: r.model,
        }
      : undefined;
  }

  /**
   * Stores a summary that covers up to a newer watermark than the stored one (an older
   * or equal one is ignored, so a late duplicate run cannot move the summary back).
   * Returns false when it was ignored.
   */
  async save(
    sessionId: string,
    summary: StoredSummary,
    cost: { promptTokens: number; completionTokens: number },
  ): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO chat_summaries
         (session_id, summary, watermark_message_id, tokens, model, llm_prompt_tokens, llm_completion_tokens)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (session_id) DO UPDATE SET
         summary = EXCLUDED.summary,
         watermark_message_id = EXCLUDED.watermark_message_id,
         tokens = EXCLUDED.tokens,
         model = EXCLUDED.model,
         llm_prompt_tokens = chat_summaries.llm_prompt_tokens + EXCLUDED.llm_prompt_tokens,
         llm_completion_tokens = chat_summaries.llm_completion_tokens + EXCLUDED.llm_completion_tokens,
         runs = chat_summaries.runs + 1,
         updated_at = now()
       WHERE chat_summaries.watermark_message_id < EXCLUDED.watermark_message_id`,
      [
        sessionId,
        summary.text,
        summary.watermark,
        summary.tokens,
        summary.model,
        cost.promptTokens,
        cost.completionTokens,
      ],
    );
    if (!rowCount) return false;
    await this.cache(sessionId, summary);
    return true;
  }

  private async cache(sessionId: string, summary: StoredSummary): Promise<void> {
    // A cache write failing is not an error: the next read reloads from Postgres.
    await this.redis
      .set(summaryCacheKey(sessionId), JSON.stringify(summary), 'EX', this.ttlSeconds)
      .catch(() => undefined);
  }
}
