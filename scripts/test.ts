/**
 * `npm test` (after typecheck and lint): sets up what the tests need (Temporal,
 * Postgres with a test database, Redis, a prebuilt workflow bundle), runs the test
 * files with node:test, stops what it started and exits with the tests' status.
 * Arguments, if any, are the test files to run (`npm test -- test/unit/llm.test.ts`).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { createLogger, describeExit, spawnChild } from './stack';
import { prepareStack, ROOT, runWithStack } from './services/harness';

const TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/chat_test';
/** Test files run two at a time: this machine has two cores. */
const TEST_CONCURRENCY = 2;
/**
 * Longest one test (and one test file) may take before the runner fails it (no hangs
 * in CI). test/stack/release.test.ts compiles the release first: on a loaded two-core machine
 * that alone takes one to two minutes.
 * A fault-suite file (test/faults/) starts a stack of its own and waits out a 45 s
 * Postgres outage by design.
 */
const TEST_TIMEOUT_MS = 300_000;

const log = createLogger('test');

async function main(): Promise<number> {
  const stack = await prepareStack(log, {
    defaultDatabaseUrl: TEST_DATABASE_URL,
    dataDir: path.join(ROOT, '.data', 'test'),
  });
  const files = process.argv.slice(2);
  if (files.length === 0) files.push(...findTestFiles());
  if (files.length === 0) {
    log.error('no test files found under test/');
    return 1;
  }
  // The fault suite (test/faults/) kills and restarts whole stacks: it runs after the
  // other files, so its load never competes with their timing-sensitive tests.
  const isFault = (file: string) => file.split(path.sep).includes('faults');
  const phases = [files.filter((f) => !isFault(f)), files.filter(isFault)].filter(
    (p) => p.length > 0,
  );
  let code = 0;
  for (const phase of phases) {
    log.info(`running ${phase.length} test file(s)`);
    const args = [
      '--import',
      'tsx',
      '--test',
      '--test-force-exit',
      `--test-timeout=${TEST_TIMEOUT_MS}`,
      `--test-concurrency=${TEST_CONCURRENCY}`,
      ...phase,
    ];
    const runner = spawnChild('node --test', process.execPath, args, {
      cwd: ROOT,
      env: stack.env,
      output: 'inherit',
    });
    const exit = await runner.exited;
    if (exit.code !== 0) log.error(`tests failed (${describeExit(exit)})`);
    if (code === 0) code = exit.code ?? 1;
  }
  if (stack.bundleFailed) {
    log.error('the workflow bundle failed to build (see above): the run fails');
    return 1;
  }
  return code;
}

/** Every `test/**\/*.test.ts`, sorted. */
function findTestFiles(): string[] {
  return readdirSync(path.join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => path.join('test', file))
    .sort();
}

runWithStack(log, main);
