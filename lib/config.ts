/**
 * Configuration, read once at boot from the environment into a validated, frozen
 * object (docs/API.md "Configuration"). Nothing else reads process.env (ESLint enforces
 * it); workflows get what they need as input. Three loaders, one per kind of process:
 * {@link loadConfig} for the API and workers, {@link loadLocalLlmConfig} for the
 * embedded LLM, {@link loadToolingConfig} for the dev scripts and benchmarks. Every
 * variable read here is in the README's configuration table (test/unit/config.test.ts).
 */
import { homedir } from 'node:os';
import path from 'node:path';
import type { TiktokenEncoding } from 'tiktoken';
import { DEFAULT_TASK_QUEUES, type TaskQueues } from '../contracts/common';
import type { Level } from './logger';
import { DEFAULT_TOOL_APPROVAL_TIMEOUT_S } from '../contracts/approval';
import { readMcpConfig, type McpServerConfig } from './mcp-config';
import type { BreakerOptions } from './circuit-breaker';
import { implicitCatalog, routeOf, type ModelCatalog } from '../models/catalog';
import { LlmConfigError, loadLlmConfig, type LoadedLlmConfig } from '../models/llm-config';

/** The dev secret used when JWT_SECRET is unset; refused in production. */
export const DEV_JWT_SECRET = 'dev-only-secret-change-me';

/** Fewest bytes of JWT_SECRET production accepts (HS256: a key as long as the hash). */
export const MIN_PRODUCTION_SECRET_BYTES = 32;

/** Secrets published in this repository (the dev secret, old compose defaults): never in production. */
const KNOWN_SECRETS: ReadonlySet<string> = new Set([
  DEV_JWT_SECRET,
  'change-me-in-production',
  'dev-secret',
]);

/**
 * JWT_SECRET as production needs it: set, at least {@link MIN_PRODUCTION_SECRET_BYTES}
 * bytes, and not a published one. The message never holds the secret.
 */
function checkProductionSecret(secret: string | undefined): void {
  const fix = 'generate one with `openssl rand -hex 32`';
  if (!secret) throw new ConfigError(`JWT_SECRET must be set in production; ${fix}`);
  if (KNOWN_SECRETS.has(secret)) {
    throw new ConfigError(
      `JWT_SECRET is a default secret published with this project; in production ${fix}`,
    );
  }
  const bytes = Buffer.byteLength(secret);
  if (bytes < MIN_PRODUCTION_SECRET_BYTES) {
    throw new ConfigError(
      `JWT_SECRET is ${bytes} bytes; production needs at least ${MIN_PRODUCTION_SECRET_BYTES}: ${fix}`,
    );
  }
}

export const DEFAULT_LOCAL_LLM_PORT = 8787;

/** When an API process refuses new chat requests as `overloaded` (api/admission.ts). */
export interface AdmissionLimits {
  /** Streams one API process relays at most (`MAX_STREAMS`). */
  maxStreams: number;
  /** Event-loop lag (mean over a second, two seconds running) past which new requests are refused. */
  maxEventLoopLagMs: number;
  /** Chat starts waiting on Temporal at most (`MAX_PENDING_STARTS`). */
  maxPendingStarts: number;
  /** Median wait of recent chats before their LLM call past which new ones are refused (`MAX_QUEUE_DELAY_MS`). */
  maxQueueDelayMs: number;
}

/** How LLM tokens are coalesced into `delta` events (activities/delta-writer.ts). */
export interface DeltaFlushSettings {
  /** The write rate the flush interval aims at, for all streams of a process together. */
  writesPerSecond: number;
  /** The longest a token may wait for its delta to be written. */
  maxMs: number;
}

export const DEFAULT_DELTA_FLUSH: Readonly<DeltaFlushSettings> = {
  writesPerSecond: 1000,
  maxMs: 250,
};

/** Bytes of a payload encryption key (AES-256). */
export const PAYLOAD_KEY_BYTES = 32;

/** A key of `TEMPORAL_PAYLOAD_KEYS` (lib/payload-codec.ts). */
export interface PayloadKey {
  /** A short public name of the key (never the key). */
  readonly id: string;
  /** {@link PAYLOAD_KEY_BYTES} bytes. */
  readonly key: Buffer;
}

/** The LLM providers' circuit breaker by default (`LLM_BREAKER_FAILURES`, `LLM_BREAKER_COOLDOWN_MS`). */
export const DEFAULT_LLM_BREAKER: Readonly<BreakerOptions> = Object.freeze({
  failureThreshold: 3,
  windowMs: 60_000,
  cooldownMs: 30_000,
});

export interface LlmEndpoint {
  baseUrl: string;
  apiKey: string;
  model: string;
}

/** What counting tokens and budgeting a prompt need to know of a model. */
export interface ModelInfo {
  /** tiktoken's encoding name (e.g. `o200k_base`). */
  encoding: TiktokenEncoding;
  /** Context window in tokens (prompt + completion). */
  contextWindow: number;
}

export interface Config {
  nodeEnv: string;
  /** Lowest level the processes log (`LOG_LEVEL`). */
  logLevel: Level;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  /** User profile cache TTL (a backstop: updates invalidate at once). */
  userCacheTtlSeconds: number;
  /** Per-command timeout of cache reads/writes; past it a read goes to Postgres. */
  cacheCommandTimeoutMs: number;
  temporalAddress: string;
  temporalNamespace: string;
  /** The chat LLM without `LLM_CONFIG`; with it, the default model's primary provider. */
  jwtSecret: string;
  /** True when JWT_SECRET was not set and the dev secret is in use. */
  /** The models requests may pick and their provider routes (`LLM_CONFIG`; models/catalog.ts). */
  models: ModelCatalog;
  /** An LLM provider that sends no first token within this long hands over to the next. */
  llmFirstTokenTimeoutMs: number;
  /** When a failing LLM provider is skipped by every worker, and for how long. */
  llmBreaker: Readonly<BreakerOptions>;
  /** Problems that did not stop the start (a provider skipped): the processes log them. */
  warnings: readonly string[];
  jwtSecretIsDev: boolean;
  /** Browser origins allowed to open the WebSocket; empty = any (non-browser clients send none). */
  allowedOrigins: readonly string[];
  /** True when no OPENAI_API_KEY is set: the embedded local LLM serves requests. */
  useLocalLlm: boolean;
  localLlmPort: number;
  llm: LlmEndpoint;
  summaryLlm: LlmEndpoint;
  freeDailyTokens: number;
  proDailyTokens: number;
  /** Monthly quotas (UTC calendar month); default 30x the daily quota. */
  freeMonthlyTokens: number;
  proMonthlyTokens: number;
  /** How long a quota reservation lives when its request never settles it (worker died). */
  quotaReservationTtlSeconds: number;
  rateLimitPerMinute: number;
  /** Per-connection WebSocket frame limit: sustained frames per second, and burst. */
  wsFrameRate: number;
  wsFrameBurst: number;
  maxPayloadBytes: number;
  /**
   * Largest body of `POST /v1/chat/completions`: OpenAI clients send the whole
   * conversation each time, so it gets more room than a chat frame.
   */
  completionMaxBodyBytes: number;
  /** How often idle sockets are pinged; one missed pong and the socket is dropped. */
  wsPingIntervalMs: number;
  /** Open WebSockets one user may hold on one API process; the next is refused 429. */
  wsMaxConnectionsPerUser: number;
  /** How long a request's event stream is kept for resume (seconds). */
  eventTtlSeconds: number;
  /** How long a stored response (`POST /v1/responses`) can be retrieved, in days. */
  responseTtlDays: number;
  maxHistoryMessages: number;
  /** Tokens kept free besides the completion budget, for tokenizer differences. */
  contextSafetyMargin: number;
  /** Extra or overriding model table entries (`MODEL_TABLE`, JSON). */
  modelTable: Readonly<Record<string, ModelInfo>>;
  /** Stored messages in a session past which older turns get summarised. */
  summaryThreshold: number;
  /** Uncovered old messages needed before another summarisation runs (batching). */
  summaryMinNewMessages: number;
  summaryMaxTokens: number;
  /** Summary LLM failures (within a minute) that open the breaker, and its cool-down. */
  summaryBreakerFailures: number;
  summaryBreakerCooldownMs: number;
  maxCompletionTokens: number;
  llmAttemptTimeoutMs: number;
  llmMaxAttempts: number;
  /** Silence after which an LLM attempt's worker counts as gone (`LLM_HEARTBEAT_TIMEOUT_MS`). */
  llmHeartbeatTimeoutMs: number;
  /** The API process also runs a chat worker, so chat workflows start eagerly on it. */
  apiChatWorker: boolean;
  /** How long a chat retries storing its reply + ledger row before billing is handed off. */
  replyStoreBudgetMs: number;
  taskQueues: TaskQueues;
  /** Port of the worker's own /metrics endpoint (0 = off). */
  workerMetricsPort: number;
  /** Port of the Temporal SDK's Prometheus exporter in a worker process (0 = off). */
  temporalMetricsPort: number;
  /**
   * Keys that encrypt Temporal payloads (`TEMPORAL_PAYLOAD_KEYS`, lib/payload-codec.ts):
   * the first encrypts, all decrypt; empty = payloads in clear (refused in production).
   */
  payloadKeys: readonly PayloadKey[];
  /**
   * The codec server the Temporal UI decrypts payloads through (api/codec-server.ts):
   * its 127.0.0.1 port (0 = off; it also needs payload keys), its bearer token if any,
   * and the browser origins (the UI's) allowed to call it.
   */
  codecServer: Readonly<{ port: number; token?: string; origins: readonly string[] }>;
  /** Interface both worker metrics endpoints listen on (`METRICS_HOST`; `0.0.0.0` in a container). */
  metricsHost: string;
  /** False turns hot-path metric recording into no-ops (`METRICS_ENABLED=false`). */
  metricsEnabled: boolean;
  /** A prebuilt workflow bundle for faster worker start (tests, images). */
  workflowBundlePath?: string;
  /** Task queues this worker process polls (`WORKER_TASK_QUEUES`, comma-separated). */
  workerTaskQueues: ReadonlyArray<keyof TaskQueues>;
  /** When an API process refuses new chats as `overloaded` (api/admission.ts). */
  admission: AdmissionLimits;
  /** How LLM tokens are coalesced into deltas (activities/delta-writer.ts). */
  deltaFlush: DeltaFlushSettings;
  /** The API's chat worker also runs LLM calls (eager activity dispatch); else only workers do. */
  apiRunsLlm: boolean;
  /** Chat activities (LLM streams) one worker runs at once (`LLM_ACTIVITY_SLOTS`). */
  llmActivitySlots: number;
  /** Chat workflows one worker keeps cached between tasks (`WORKFLOW_CACHE_SIZE`). */
  workflowCacheSize: number;
  /** `MCP_CONFIG`'s servers (lib/mcp-config.ts); none when unset. */
  mcpServers: readonly McpServerConfig[];
  /** `TOOL_APPROVAL_TIMEOUT_S`: how long a tool call waits for the user's decision. */
  toolApprovalTimeoutS: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigError(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
}

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name, fallback);
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(
      `${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`,
    );
  }
  return raw as T;
}

const LOG_LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

const ENCODINGS = new Set(['o200k_base', 'cl100k_base', 'p50k_base', 'r50k_base']);

/** `MODEL_TABLE`: `{"model-prefix": {"encoding": "o200k_base", "contextWindow": 128000}}`. */
function parseModelTable(raw: string | undefined): Readonly<Record<string, ModelInfo>> {
  if (!raw) return Object.freeze({});
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('MODEL_TABLE must be JSON');
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new ConfigError('MODEL_TABLE must be an object');
  const table: Record<string, ModelInfo> = {};
  for (const [model, info] of Object.entries(parsed as Record<string, unknown>)) {
    const i = info as Partial<ModelInfo> | null;
    if (
      !i ||
      !ENCODINGS.has(String(i.encoding)) ||
      !Number.isInteger(i.contextWindow) ||
      (i.contextWindow ?? 0) < 16
    ) {
      throw new ConfigError(`MODEL_TABLE.${model} needs {encoding, contextWindow >= 16}`);
    }
    table[model] = Object.freeze({ encoding: i.encoding!, contextWindow: i.contextWindow! });
  }
  return Object.freeze(table);
}

/**
 * `TEMPORAL_PAYLOAD_KEYS`: `id:base64key,...` (32-byte keys, e.g. `k1:$(openssl rand
 * -base64 32)`). Messages name a key by its id, never by its value.
 */
function parsePayloadKeys(raw: string | undefined): readonly PayloadKey[] {
  if (!raw) return Object.freeze([]);
  const keys = raw.split(',').map((entry, i) => {
    const [id = '', b64 = '', ...rest] = entry.trim().split(':');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id) || rest.length > 0) {
      throw new ConfigError(
        `TEMPORAL_PAYLOAD_KEYS entry ${i + 1}: expected id:base64key with an id of letters, digits, . _ -`,
      );
    }
    const key = Buffer.from(b64, 'base64');
    if (key.length !== PAYLOAD_KEY_BYTES || key.toString('base64') !== b64) {
      throw new ConfigError(
        `TEMPORAL_PAYLOAD_KEYS key ${id}: must be ${PAYLOAD_KEY_BYTES} bytes in base64 (openssl rand -base64 32)`,
      );
    }
    return Object.freeze({ id, key });
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length)
    throw new ConfigError('TEMPORAL_PAYLOAD_KEYS: a key id appears twice');
  return Object.freeze(keys);
}

const QUEUE_KINDS = Object.keys(DEFAULT_TASK_QUEUES) as Array<keyof TaskQueues>;

/** `WORKER_TASK_QUEUES`: e.g. `chat,billing`; empty = every queue. */
function parseQueues(raw: string | undefined): ReadonlyArray<keyof TaskQueues> {
  if (!raw) return Object.freeze([...QUEUE_KINDS]);
  const queues = raw
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean);
  for (const q of queues) {
    if (!(QUEUE_KINDS as string[]).includes(q)) {
      throw new ConfigError(
        `WORKER_TASK_QUEUES: unknown queue ${JSON.stringify(q)} (known: ${QUEUE_KINDS.join(', ')})`,
      );
    }
  }
  return Object.freeze(queues as Array<keyof TaskQueues>);
}

/** `MCP_CONFIG`'s servers; a bad file is a {@link ConfigError} naming the problem. */
function mcpServers(file: string | undefined): readonly McpServerConfig[] {
  try {
    return readMcpConfig(file);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** `LLM_CONFIG`, when set: the catalog of models and providers (models/llm-config.ts). */
function readLlmConfig(env: Env): LoadedLlmConfig | undefined {
  if (!env.LLM_CONFIG) return undefined;
  try {
    return loadLlmConfig(env.LLM_CONFIG, env);
  } catch (err) {
    if (err instanceof LlmConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

/** The endpoint and upstream model name of a configured model's first route step. */
function primaryOf(catalog: ModelCatalog, model: string): LlmEndpoint {
  const primary = routeOf(catalog, model)[0]!;
  return { baseUrl: primary.provider.baseUrl, apiKey: primary.provider.apiKey, model: primary.upstream };
}

/** Reads and validates the configuration; throws {@link ConfigError} on bad values. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const nodeEnv = str(env, 'NODE_ENV', 'development');
  const jwtSecretIsDev = !env.JWT_SECRET;
  if (nodeEnv === 'production') checkProductionSecret(env.JWT_SECRET);
  const routes = readLlmConfig(env);
  const useLocalLlm = !env.OPENAI_API_KEY && !routes;
  const localLlmPort = int(env, 'LOCAL_LLM_PORT', DEFAULT_LOCAL_LLM_PORT, 1);
  const llm: LlmEndpoint = routes
    ? primaryOf(routes.catalog, routes.catalog.defaultModel)
    : {
        baseUrl: str(
          env,
          'OPENAI_BASE_URL',
          useLocalLlm ? `http://127.0.0.1:${localLlmPort}/v1` : 'https://api.openai.com/v1',
        ),
        apiKey: env.OPENAI_API_KEY || 'local-llm',
        model: str(env, 'LLM_MODEL', 'gpt-4o-mini'),
      };
  // With routes, summaries go to the primary of SUMMARY_MODEL (a configured model) or the default.
  const summaryTarget = routes && !env.SUMMARY_BASE_URL ? primaryOf(routes.catalog, str(env, 'SUMMARY_MODEL', llm.model)) : undefined;
  const summaryLlm: LlmEndpoint = summaryTarget ?? {
    baseUrl: str(env, 'SUMMARY_BASE_URL', llm.baseUrl),
    apiKey: str(env, 'SUMMARY_API_KEY', llm.apiKey),
    model: str(env, 'SUMMARY_MODEL', llm.model),
  };
  const config: Config = {
    nodeEnv,
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    port: int(env, 'PORT', 3000),
    databaseUrl: str(env, 'DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/chat'),
    redisUrl: str(env, 'REDIS_URL', 'redis://127.0.0.1:6379'),
    userCacheTtlSeconds: int(env, 'USER_CACHE_TTL_SECONDS', 1800, 1),
    cacheCommandTimeoutMs: int(env, 'CACHE_COMMAND_TIMEOUT_MS', 100, 1),
    temporalAddress: str(env, 'TEMPORAL_ADDRESS', '127.0.0.1:7233'),
    temporalNamespace: str(env, 'TEMPORAL_NAMESPACE', 'default'),
    jwtSecret: env.JWT_SECRET || DEV_JWT_SECRET,
    jwtSecretIsDev,
    allowedOrigins: Object.freeze(
      str(env, 'ALLOWED_ORIGINS', '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
    useLocalLlm,
    localLlmPort,
    llm: Object.freeze(routes ? { ...llm, model: routes.catalog.defaultModel } : llm),
    summaryLlm: Object.freeze(summaryLlm),
    models: routes?.catalog ?? implicitCatalog(llm),
    llmFirstTokenTimeoutMs: int(env, 'LLM_FIRST_TOKEN_TIMEOUT_MS', 30_000, 1),
    llmBreaker: Object.freeze({
      failureThreshold: int(env, 'LLM_BREAKER_FAILURES', DEFAULT_LLM_BREAKER.failureThreshold, 1),
      windowMs: DEFAULT_LLM_BREAKER.windowMs,
      cooldownMs: int(env, 'LLM_BREAKER_COOLDOWN_MS', DEFAULT_LLM_BREAKER.cooldownMs, 100),
    }),
    warnings: Object.freeze(routes?.warnings ?? []),
    freeDailyTokens: int(env, 'FREE_DAILY_TOKENS', 50_000),
    proDailyTokens: int(env, 'PRO_DAILY_TOKENS', 500_000),
    freeMonthlyTokens: int(env, 'FREE_MONTHLY_TOKENS', 30 * int(env, 'FREE_DAILY_TOKENS', 50_000)),
    proMonthlyTokens: int(env, 'PRO_MONTHLY_TOKENS', 30 * int(env, 'PRO_DAILY_TOKENS', 500_000)),
    quotaReservationTtlSeconds: int(env, 'QUOTA_RESERVATION_TTL_SECONDS', 900, 1),
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 30, 1),
    wsFrameRate: int(env, 'WS_FRAME_RATE', 20, 1),
    wsFrameBurst: int(env, 'WS_FRAME_BURST', 40, 1),
    maxPayloadBytes: int(env, 'MAX_PAYLOAD_BYTES', 64 * 1024, 1024),
    completionMaxBodyBytes: int(env, 'COMPLETION_MAX_BODY_BYTES', 1024 * 1024, 1024),
    wsPingIntervalMs: int(env, 'WS_PING_INTERVAL_MS', 30_000, 100),
    wsMaxConnectionsPerUser: int(env, 'WS_MAX_CONNECTIONS_PER_USER', 20, 1),
    eventTtlSeconds: int(env, 'EVENT_TTL_SECONDS', 2 * 3600, 3600),
    responseTtlDays: int(env, 'RESPONSE_TTL_DAYS', 30, 1),
    maxHistoryMessages: int(env, 'MAX_HISTORY_MESSAGES', 10, 1),
    contextSafetyMargin: int(env, 'CONTEXT_SAFETY_MARGIN', 128),
    modelTable: parseModelTable(env.MODEL_TABLE),
    summaryThreshold: int(env, 'SUMMARY_THRESHOLD', 20, 2),
    summaryMinNewMessages: int(env, 'SUMMARY_MIN_NEW_MESSAGES', 10, 1),
    summaryMaxTokens: int(env, 'SUMMARY_MAX_TOKENS', 512, 16),
    summaryBreakerFailures: int(env, 'SUMMARY_BREAKER_FAILURES', 3, 1),
    summaryBreakerCooldownMs: int(env, 'SUMMARY_BREAKER_COOLDOWN_MS', 60_000, 100),
    maxCompletionTokens: int(env, 'MAX_COMPLETION_TOKENS', 1024, 1),
    llmAttemptTimeoutMs: int(env, 'LLM_ATTEMPT_TIMEOUT_MS', 600_000, 1000),
    llmMaxAttempts: int(env, 'LLM_MAX_ATTEMPTS', 4, 1),
    llmHeartbeatTimeoutMs: int(env, 'LLM_HEARTBEAT_TIMEOUT_MS', 60_000, 2000),
    apiChatWorker: bool(env, 'API_CHAT_WORKER', true),
    replyStoreBudgetMs: int(env, 'REPLY_STORE_BUDGET_MS', 120_000, 1000),
    taskQueues: Object.freeze({ ...DEFAULT_TASK_QUEUES }),
    workerMetricsPort: int(env, 'WORKER_METRICS_PORT', 9464),
    temporalMetricsPort: int(env, 'TEMPORAL_METRICS_PORT', 9465),
    metricsHost: str(env, 'METRICS_HOST', '127.0.0.1'),
    payloadKeys: parsePayloadKeys(env.TEMPORAL_PAYLOAD_KEYS),
    codecServer: Object.freeze({
      port: int(env, 'CODEC_SERVER_PORT', 0),
      token: env.CODEC_SERVER_TOKEN || undefined,
      origins: Object.freeze(
        str(env, 'CODEC_SERVER_ORIGINS', 'http://localhost:8233,http://127.0.0.1:8233')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    }),
    metricsEnabled: bool(env, 'METRICS_ENABLED', true),
    workflowBundlePath: env.WORKFLOW_BUNDLE_PATH || undefined,
    workerTaskQueues: parseQueues(env.WORKER_TASK_QUEUES),
    admission: {
      maxStreams: int(env, 'MAX_STREAMS', 1500, 1),
      maxEventLoopLagMs: int(env, 'MAX_EVENT_LOOP_LAG_MS', 150, 1),
      maxPendingStarts: int(env, 'MAX_PENDING_STARTS', 50, 1),
      maxQueueDelayMs: int(env, 'MAX_QUEUE_DELAY_MS', 1000, 1),
    },
    deltaFlush: {
      writesPerSecond: int(env, 'DELTA_WRITES_PER_SECOND', DEFAULT_DELTA_FLUSH.writesPerSecond, 1),
      maxMs: int(env, 'DELTA_FLUSH_MAX_MS', DEFAULT_DELTA_FLUSH.maxMs),
    },
    apiRunsLlm: bool(env, 'API_RUNS_LLM', false),
    llmActivitySlots: int(env, 'LLM_ACTIVITY_SLOTS', 2000, 1),
    workflowCacheSize: int(env, 'WORKFLOW_CACHE_SIZE', 250, 2),
    mcpServers: mcpServers(env.MCP_CONFIG),
    toolApprovalTimeoutS: int(env, 'TOOL_APPROVAL_TIMEOUT_S', DEFAULT_TOOL_APPROVAL_TIMEOUT_S, 1),
  };
  if (nodeEnv === 'production' && config.payloadKeys.length === 0) {
    throw new ConfigError(
      'TEMPORAL_PAYLOAD_KEYS must be set in production (payloads in Temporal are encrypted): e.g. k1:$(openssl rand -base64 32)',
    );
  }
  return Object.freeze(config);
}

/** What the embedded LLM process (`local-llm/main.ts`) reads: it needs none of the app's settings. */
export interface LocalLlmConfig {
  /** `LOCAL_LLM_HOST`: the interface it listens on (`0.0.0.0` in a container). */
  host: string;
  /** `LOCAL_LLM_PORT` (0 = a free port). */
  port: number;
}

/** Reads the embedded LLM's settings; throws {@link ConfigError} on bad values. */
export function loadLocalLlmConfig(env: Env = process.env): Readonly<LocalLlmConfig> {
  const port = int(env, 'LOCAL_LLM_PORT', DEFAULT_LOCAL_LLM_PORT);
  if (port > 65_535) throw new ConfigError(`LOCAL_LLM_PORT must be a port number, got ${port}`);
  return Object.freeze({ host: str(env, 'LOCAL_LLM_HOST', '127.0.0.1'), port });
}

/** What the dev scripts (`npm start`, `npm test`, `npm run chat`) and benchmarks read. */
export interface ToolingConfig {
  /** `DURABLE_CHAT_TOOLS`: where missing dev tools (the temporal CLI) are built, shared by clones. */
  toolsDir: string;
  /** `TEMPORAL_CLI`: the temporal binary benchmarks start, instead of the one found. */
  temporalCli?: string;
  /** `BENCH_DATABASE_URL`: a Postgres server benchmarks may create throwaway databases on. */
  benchDatabaseUrl?: string;
  /** `CHAT_TOKEN`: the bearer token `npm run chat` uses when `--token` is not given. */
  chatToken?: string;
  /** `CHAT_URL`: the API `npm run chat` talks to (default: this machine's `PORT`). */
  chatUrl: string;
  /** The directories of `PATH`, where the scripts look for `temporal`, `redis-server`... */
  searchPath: readonly string[];
}

/** Reads the dev scripts' settings. */
export function loadToolingConfig(env: Env = process.env): Readonly<ToolingConfig> {
  return Object.freeze({
    toolsDir: str(env, 'DURABLE_CHAT_TOOLS', path.join(homedir(), '.cache', 'durable-chat')),
    temporalCli: env.TEMPORAL_CLI || undefined,
    benchDatabaseUrl: env.BENCH_DATABASE_URL || undefined,
    chatToken: env.CHAT_TOKEN || undefined,
    chatUrl: str(env, 'CHAT_URL', `http://127.0.0.1:${int(env, 'PORT', 3000)}`),
    searchPath: Object.freeze(str(env, 'PATH', '').split(path.delimiter).filter(Boolean)),
  });
}
