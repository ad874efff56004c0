/** What every benchmark returns, and small statistics helpers. */

export interface BenchResult {
  name: string;
  /** The command that reproduces this benchmark alone. */
  command: string;
  metrics: Record<string, number | string>;
  notes?: string[];
}

/** The p-th percentile (0-100) of samples, nearest-rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Rounds for display. */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
