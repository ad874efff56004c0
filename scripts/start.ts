/**
 * `npm start`: everything needed to use the system on this machine, in the
 * foreground. Reuses or starts Temporal, Postgres (migrated) and Redis, then runs the
 * embedded LLM (unless a real one is configured), the worker and the API, and prints
 * the URLs and a dev token. SIGINT/SIGTERM stops exactly what it started.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { ConfigError, loadConfig, type Config } from '../lib/config';
import {
  createLogger,
  describeExit,
  ensurePostgres,
  ensureRedis,
  ensureTemporal,
  spawnChild,
  stopAll,
  temporalUiPort,
  urlPassword,
  waitUntil,
  type Started,
} from './stack';

const ROOT = path.resolve(__dirname, '..');
const DATA_DIR = path.join(ROOT, '.data');
/** The user the printed dev token authenticates as. */
const DEV_USER_ID = '00000000-0000-4000-8000-00000000d3e7';
const READY_TIMEOUT_MS = 60_000;

const log = createLogger('start');
/** Set once stopping begins; later callers wait for the same stop. */
let stopped: Promise<void> | undefined;
let exitCode: number | undefined;

async function main(): Promise<void> {
  const config = readConfig();
  log.addSecret(config.jwtSecretIsDev ? undefined : config.jwtSecret);
  if (!config.useLocalLlm) log.addSecret(config.llm.apiKey);
  if (config.summaryLlm.apiKey !== 'local-llm') log.addSecret(config.summaryLlm.apiKey);
  for (const m of Object.values(config.models.models)) for (const t of m.route) log.addSecret(t.provider.apiKey || undefined);
  for (const warning of config.warnings) log.warn(warning);
  log.addSecret(urlPassword(config.databaseUrl));
  log.addSecret(urlPassword(config.redisUrl));

  const temporal = await ensureTemporal({
    address: config.temporalAddress,
    namespace: config.temporalNamespace,
    dataDir: DATA_DIR,
    log,
    // Encrypted payloads: the Web UI decodes them through the API's codec server.
    ...(config.payloadKeys.length > 0 && config.codecServer.port > 0
      ? { uiCodecEndpoint: `http://127.0.0.1:${config.codecServer.port}` }
      : {}),
  });
  watch(temporal);
  await ensurePostgres(config.databaseUrl, { log }); // a system service: not watched
  watch(await ensureRedis(config.redisUrl, { dataDir: DATA_DIR, log }));

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(config.port),
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    TEMPORAL_ADDRESS: config.temporalAddress,
    TEMPORAL_NAMESPACE: config.temporalNamespace,
    LOCAL_LLM_PORT: String(config.localLlmPort),
    // No MCP server configured: the embedded one.
    ...(config.mcpServers.length === 0 ? { MCP_CONFIG: embeddedMcpConfig() } : {}),
  };
  log.info(
    config.mcpServers.length > 0
      ? `MCP: ${config.mcpServers.map((s) => s.name).join(', ')} (MCP_CONFIG)`
      : 'MCP: the embedded MCP server (local-mcp/, over stdio); its tools are local__*',
  );
  if (config.useLocalLlm) {
    const llm = startApp('llm', 'local-llm/main.ts', env);
    const base = `http://127.0.0.1:${config.localLlmPort}`;
    await waitUntil(async () => (await ok(`${base}/v1/models`)) || ok(`${base}/healthz`), {
      what: 'the embedded LLM',
      timeoutMs: READY_TIMEOUT_MS,
      process: llm,
    });
    log.info(`LLM: embedded local LLM at ${base}/v1`);
  } else if (config.models.configured) {
    log.info(`LLM: models ${Object.keys(config.models.models).join(', ')} from LLM_CONFIG (default ${config.models.defaultModel})`);
  } else {
    log.info(`LLM: ${config.llm.baseUrl} (model ${config.llm.model})`);
  }
  startApp('worker', 'workers/main.ts', env);
  const api = startApp('api', 'api/main.ts', env);
  const apiUrl = `http://127.0.0.1:${config.port}`;
  await waitUntil(() => ok(`${apiUrl}/healthz`), {
    what: 'the API',
    timeoutMs: READY_TIMEOUT_MS,
    process: api,
  });
  printSummary(config, apiUrl);
}

/**
 * Without `MCP_CONFIG`: a config (in .data/) that gives the tools worker the embedded MCP
 * server over stdio, so the web app shows MCP tools and approvals out of the box.
 */
function embeddedMcpConfig(): string {
  const file = path.join(DATA_DIR, 'mcp.json');
  mkdirSync(DATA_DIR, { recursive: true });
  const server = { command: process.execPath, args: ['--import', 'tsx', path.join(ROOT, 'local-mcp/main.ts')], cwd: ROOT };
  writeFileSync(file, `${JSON.stringify({ mcpServers: { local: server } }, null, 2)}\n`);
  return file;
}

function readConfig(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error(`configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

/** Runs a TypeScript entry point with tsx, its output prefixed, and watches it. */
function startApp(name: string, entry: string, env: NodeJS.ProcessEnv): Started {
  log.info(`${name}: starting ${entry}`);
  const child = spawnChild(name, process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env,
    output: log,
  });
  watch(child);
  return child;
}

/** Ends the run when a process started here exits on its own: nothing stays half-up. */
function watch(child: Started | null): void {
  void child?.exited.then((info) => {
    if (stopped) return;
    log.error(`${child.name} exited unexpectedly (${describeExit(info)})`);
    void shutdown(1, 'failure');
  });
}

async function ok(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

function printSummary(config: Readonly<Config>, apiUrl: string): void {
  const token = jwt.sign({ plan: 'free', name: 'dev' }, config.jwtSecret, {
    algorithm: 'HS256',
    subject: DEV_USER_ID,
    expiresIn: '30d',
  });
  const wsUrl = `ws://127.0.0.1:${config.port}/v1/ws`;
  const lines = [
    '',
    `Web app:     ${apiUrl}/#token=${token}`,
    `API:         ${apiUrl}`,
    `WebSocket:   ${wsUrl}`,
    `Temporal UI: http://127.0.0.1:${temporalUiPort(config.temporalAddress)}`,
    `Dev token (user ${DEV_USER_ID}, plan free, 30 days):`,
    `  ${token}`,
    `Try:         curl -H "Authorization: Bearer <dev token>" ${apiUrl}/v1/me`,
    `Chat:        npm run chat -- --token <dev token>`,
  ];
  if (config.jwtSecretIsDev) {
    // The dev secret is a public constant (lib/config.ts); a real JWT_SECRET is never shown.
    lines.push(
      `JWT_SECRET is not set: tokens are signed with the dev secret "${config.jwtSecret}"` +
        ' (refused when NODE_ENV=production)',
    );
  }
  lines.push('Ctrl-C stops everything started here.', '');
  for (const line of lines) log.info(line);
}

/** Stops what was started (once, whoever asks first) and exits with the first code given. */
async function shutdown(code: number, reason: string): Promise<never> {
  if (!stopped) {
    exitCode = code;
    log.info(`${reason}: stopping what was started here`);
    stopped = stopAll(log);
  }
  await stopped;
  process.exit(exitCode ?? code);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopped) {
      log.warn('second signal: killing at once');
      process.exit(1); // the exit hook SIGKILLs the children
    }
    void shutdown(0, signal);
  });
}

main().catch((err: unknown) => {
  if (stopped) return; // interrupted while starting: the stop is under way
  log.error(err instanceof Error ? err.message : String(err));
  void shutdown(1, 'start failed');
});
