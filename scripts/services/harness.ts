/**
 * What `npm test` and `npm run bench` share: set up the stack (Temporal, Postgres with
 * their own database, Redis, a prebuilt workflow bundle), hand the environment to a
 * run, then stop exactly what was started and exit with the run's status.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../../lib/config';
import { bundleWorkflows } from '../../workers/bundle';
import { ensureTemporal, findTemporalBinary } from './temporal';
import { ensurePostgres } from './postgres';
import { ensureRedis } from './redis';
import { stopAll } from './child';
import { urlPassword, type Logger } from './log';

export const ROOT = path.resolve(__dirname, '..', '..');
const BUNDLE_PATH = path.join(ROOT, '.data', 'workflow-bundle.js');

export interface PreparedStack {
  config: Readonly<Config>;
  /** The environment for the processes that use the stack. */
  env: NodeJS.ProcessEnv;
  /** True when the workflow bundle failed to build (the run must fail). */
  bundleFailed: boolean;
}

/** Makes sure every service answers and bundles the workflows once. */
export async function prepareStack(
  log: Logger,
  opts: { defaultDatabaseUrl: string; dataDir: string },
): Promise<PreparedStack> {
  const config = readConfig(log, opts.defaultDatabaseUrl);
  log.addSecret(urlPassword(config.databaseUrl));
  log.addSecret(urlPassword(config.redisUrl));
  await ensureTemporal({
    address: config.temporalAddress,
    namespace: config.temporalNamespace,
    dataDir: opts.dataDir,
    log,
  });
  await ensurePostgres(config.databaseUrl, { log });
  await ensureRedis(config.redisUrl, { dataDir: opts.dataDir, log });
  const bundle = await prebuildWorkflowBundle(log);
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
  return { config, env, bundleFailed: bundle.failed };
}

function readConfig(log: Logger, defaultDatabaseUrl: string): Readonly<Config> {
  try {
    // The same variables, with the test database as DATABASE_URL's default.
    const env = { ...process.env };
    env.DATABASE_URL ||= defaultDatabaseUrl;
    return loadConfig(env);
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
 * webpack itself). No path when there are no workflows or bundling failed; on failure
 * the run still goes on, so every failure shows, but it fails.
 */
async function prebuildWorkflowBundle(log: Logger): Promise<{ path?: string; failed: boolean }> {
  if (!existsSync(path.join(ROOT, 'workflows', 'index.ts'))) {
    log.info('no workflows/index.ts yet: skipping the workflow bundle');
    return { failed: false };
  }
  const started = Date.now();
  try {
    const { code } = await bundleWorkflows(path.join(ROOT, 'workflows', 'index.ts'));
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

/**
 * Runs `main`, then stops what was started (also on SIGINT/SIGTERM) and exits with
 * main's status.
 */
export function runWithStack(log: Logger, main: () => Promise<number>): void {
  let stopped: Promise<void> | undefined;
  let exitCode: number | undefined;
  const finish = async (code: number): Promise<never> => {
    exitCode ??= code;
    stopped ??= stopAll(log);
    await stopped;
    process.exit(exitCode);
  };
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      if (stopped) process.exit(code); // second signal: the exit hook SIGKILLs the children
      log.info(`${signal}: stopping the run and what was started for it`);
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
}
