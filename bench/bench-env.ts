/** Environment of the benchmarks' systems (bench/chat.ts and the arms it calls). */

/** Settings that keep quotas, rate limits and summaries out of the measurement. */
export const BENCH_ENV: Record<string, string> = {
  RATE_LIMIT_PER_MINUTE: '100000000',
  FREE_DAILY_TOKENS: '1000000000',
  FREE_MONTHLY_TOKENS: '30000000000',
  PRO_DAILY_TOKENS: '1000000000',
  PRO_MONTHLY_TOKENS: '30000000000',
  SUMMARY_THRESHOLD: '1000000',
};
