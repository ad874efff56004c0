/**
 * `npm test` (after typecheck and lint): sets up what the tests need (Temporal,
 * Postgres with a test database, Redis, a prebuilt workflow bundle), runs the test
 * files with node:test, stops what it started and exits with the tests' status.
 * Arguments, if any, are the test files to run (`npm test -- test/llm.test.ts`).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from '../lib/config';
import {
  createLogger,
  describeExit,
  ensurePostgres,
  ensureRedis,
  ensureTemporal,
  findTemporalBinary,
  spawnChild,
  stopAll,
  urlPassword,
} from './stack';

const ROOT = path.resolve(__dirname, '..');
const DATA_DIR = path.join(ROOT, '.data', 'test');
const BUNDLE_PATH = path.join(ROOT, '.data', 'workflow-bundle.js');
const TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/chat_test';
const TEST_CONCURRENCY = 2;

const log = createLogger('test');
/** Set once stopping begins; later callers wait for the same stop. */
let stopped: Promise<void> | undefined;
let exitCode: number | undefined;

async function main(): Promise<number> {
  const config = readConfig();
  log.addSecret(urlPassword(config.databaseUrl));
  log.addSecret(urlPassword(config.redisUrl));

  await ensureTemporal({
    address: config.temporalAddress,
    namespace: config.temporalNamespace,
    dataDir: DATA_DIR,
    log,
  });
  await ensurePostgres(config.databaseUrl, { log });
  await ensureRedis(config.redisUrl, { dataDir: DATA_DIR, log });
  const bundle = await bundleWorkflows();

  const files = process.argv.slice(2);
  if (files.length === 0) files.push(...findTestFiles());
  if (files.length === 0) {
    log.error('no test files found under test/');
    return 1;
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    TEMPORAL_ADDRESS: config.temporalAddress,
    TEMPORAL_NAMESPACE: config.temporalNamespace,
  };
  if (bundle.path) env.WORKFLOW_BUNDLE_PATH = bundle.path;
  const cli = findTemporalBinary();
  if (cli) env.TEMPORAL_CLI = cli;

  log.info(`running ${files.length} test file(s)`);
  const args = ['--import', 'tsx', '--test', '--test-force-exit', '--test-timeout=180000', `--test-concurrency=${TEST_CONCURRENCY}`, ...files];
  const runner = spawnChild('node --test', process.execPath, args, {
    cwd: ROOT,
    env,
    output: 'inherit',
  });
  const exit = await runner.exited;
  if (exit.code !== 0 && !stopped) log.error(`tests failed (${describeExit(exit)})`);
  if (bundle.failed) {
    log.error('the workflow bundle failed to build (see above): the run fails');
    return 1;
  }
  return exit.code ?? 1;
}

function readConfig(): Readonly<Config> {
  try {
    return loadConfig({
      ...process.env,
      DATABASE_URL: process.env.DATABASE_URL || TEST_DATABASE_URL,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error(`configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * Bundles the workflows once for all test files (each worker would otherwise run
 * webpack itself). No path when there are no workflows yet or bundling failed; on
 * failure the tests still run, so every failure shows, but the run fails.
 */
async function bundleWorkflows(): Promise<{ path?: string; failed: boolean }> {
  if (!existsSync(path.join(ROOT, 'workflows', 'index.ts'))) {
    log.info('no workflows/index.ts yet: skipping the workflow bundle');
    return { failed: false };
  }
  const started = Date.now();
  try {
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      logger: new DefaultLogger('WARN'),
    });
    mkdirSync(path.dirname(BUNDLE_PATH), { recursive: true });
    writeFileSync(BUNDLE_PATH, code);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    log.info(`workflows bundled in ${seconds} s: ${path.relative(ROOT, BUNDLE_PATH)}`);
    return { path: BUNDLE_PATH, failed: false };
  } catch (err) {
    log.error(`bundling the workflows failed: ${err instanceof Error ? err.message : String(err)}`);
    return { failed: true };
  }
}

/** Every `test/**\/*.test.ts`, sorted. */
function findTestFiles(): string[] {
  return readdirSync(path.join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => path.join('test', file))
    .sort();
}

/** Stops what was started (once, whoever asks first) and exits with the first code given. */
async function finish(code: number): Promise<never> {
  exitCode ??= code;
  stopped ??= stopAll(log);
  await stopped;
  process.exit(exitCode);
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(signal, () => {
    if (stopped) process.exit(code); // second signal: the exit hook SIGKILLs the children
    log.info(`${signal}: stopping the tests and what was started for them`);
    void finish(code);
  });
}

void main().then(
  (code) => finish(code),
  (err: unknown) => {
    if (!stopped) log.error(err instanceof Error ? err.message : String(err));
    return finish(1);
  },
);
