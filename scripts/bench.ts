/**
 * `npm run bench`: sets up the stack like `npm test` (with its own database) and runs
 * bench/run.ts, which writes BENCHMARKS.md and bench/results.json. Arguments are
 * benchmark names to run (default: all).
 */
import path from 'node:path';
import { createLogger, describeExit, spawnChild } from './stack';
import { prepareStack, ROOT, runWithStack } from './services/harness';

const BENCH_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/chat_bench';
const log = createLogger('bench');

async function main(): Promise<number> {
  const stack = await prepareStack(log, {
    defaultDatabaseUrl: BENCH_DATABASE_URL,
    dataDir: path.join(ROOT, '.data', 'bench'),
  });
  if (stack.bundleFailed) return 1;
  const runner = spawnChild('bench', process.execPath, ['--import', 'tsx', 'bench/run.ts', ...process.argv.slice(2)], {
    cwd: ROOT,
    env: stack.env,
    output: 'inherit',
  });
  const exit = await runner.exited;
  if (exit.code !== 0) log.error(`benchmarks failed (${describeExit(exit)})`);
  return exit.code ?? 1;
}

runWithStack(log, main);
