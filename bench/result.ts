/** What every benchmark returns, small statistics helpers, and the standalone entry point. */

/** A target for one metric; bench/run.ts marks it met or missed in BENCHMARKS.md. */
export interface Goal {
  /** Key in {@link BenchResult.metrics}. */
  metric: string;
  op: '<=' | '>=';
  target: number;
}

export interface BenchResult {
  name: string;
  /** The command that reproduces this benchmark alone. */
  command: string;
  metrics: Record<string, number | string>;
  /** Targets checked against `metrics` (a missed one is explained in `notes`). */
  goals?: Goal[];
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

/** True when the metric meets the goal; undefined when the metric is missing or not a number. */
export function goalMet(goal: Goal, metrics: BenchResult['metrics']): boolean | undefined {
  const v = metrics[goal.metric];
  if (typeof v !== 'number' || Number.isNaN(v)) return undefined;
  return goal.op === '<=' ? v <= goal.target : v >= goal.target;
}

/**
 * Runs a benchmark module as a program: with `--json`, its result as ONE JSON line on
 * stdout (what bench/run.ts reads); otherwise a table, the notes and the JSON. Exits
 * when done, so handles a benchmark leaves open cannot keep the process alive.
 */
export function runStandalone(run: () => Promise<BenchResult>): void {
  const json = process.argv.includes('--json');
  run().then(
    (result) => {
      if (json) {
        process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
        return;
      }
      console.table(result.metrics);
      for (const goal of result.goals ?? []) {
        const met = goalMet(goal, result.metrics);
        console.log(`goal ${goal.metric} ${goal.op} ${goal.target}: ${met ? 'met' : 'MISSED'}`);
      }
      for (const note of result.notes ?? []) console.log(`- ${note}`);
      console.log(JSON.stringify(result, null, 2));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
