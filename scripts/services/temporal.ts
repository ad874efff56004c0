/**
 * The Temporal dev server: reuse one that answers, or start `temporal server
 * start-dev` (building the CLI with `go install` the first time).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { loadToolingConfig } from '../../lib/config';
import { runCommand, spawnChild, waitUntil, type Started } from './child';
import type { Logger } from './log';
import { findOnPath, isExecutable, isLocalHost, parseHostPort, tail } from './system';

/** Custom search attributes the workflows set; registered on every server used. */
export const SEARCH_ATTRIBUTES = {
  ToolName: 'Keyword',
  SessionId: 'Keyword',
  // Chat workflows waiting for a tool call's approval (contracts/approval.ts).
  AwaitingApprovalSince: 'Datetime',
} as const;

/** The Temporal CLI release built when none is found. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

const READY_TIMEOUT_MS = 60_000;

/** Options of {@link ensureTemporal}. */
export interface TemporalOptions {
  /** Frontend gRPC address, `host:port`. */
  address: string;
  namespace: string;
  /** Where a started server keeps `temporal.db` and `temporal.log`. */
  dataDir: string;
  /** Web UI port of a started server; default gRPC port + 1000 (8233). */
  uiPort?: number;
  /** The codec server the started server's Web UI decodes payloads through (api/codec-server.ts). */
  uiCodecEndpoint?: string;
  log: Logger;
}

/** The `temporal server start-dev` command line of {@link ensureTemporal}. */
export function devServerArgs(opts: Omit<TemporalOptions, 'address' | 'log'> & { port: number; uiPort: number }): string[] {
  return [
    ...['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port)],
    ...['--ui-port', String(opts.uiPort), '--db-filename', path.join(opts.dataDir, 'temporal.db')],
    ...['--namespace', opts.namespace, '--log-level', 'warn'],
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([n, t]) => ['--search-attribute', `${n}=${t}`]),
    // Measured in bench/chat-tuning.ts: eager activity dispatch hands callLlm to the
    // worker that completes the workflow task (-15 to -25 ms before the first token);
    // WAL cuts the SQLite server's CPU per request.
    ...['--dynamic-config-value', 'system.enableActivityEagerExecution=true'],
    ...['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'],
    ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
  ];
}

/**
 * Makes sure a Temporal server answers at `address` with the search attributes
 * registered. Returns the server it started, or null when it reused a running one.
 */
export async function ensureTemporal(opts: TemporalOptions): Promise<Started | null> {
  const { address, namespace, log } = opts;
  if (await temporalAnswers(address)) {
    log.info(`Temporal: reusing the server at ${address}`);
    await registerSearchAttributes(address, namespace, log);
    return null;
  }
  const { host, port } = parseHostPort(address, 7233);
  if (!isLocalHost(host)) {
    throw new Error(`Temporal does not answer at ${address}, and that is not this machine`);
  }
  const binary = await ensureTemporalBinary(log);
  mkdirSync(opts.dataDir, { recursive: true });
  const uiPort = temporalUiPort(address, opts.uiPort);
  const logFile = path.join(opts.dataDir, 'temporal.log');
  const args = devServerArgs({ ...opts, port, uiPort });
  log.info(`Temporal: starting the dev server on 127.0.0.1:${port} (log: ${logFile})`);
  const fd = openSync(logFile, 'a');
  const server = spawnChild('temporal', binary, args, { output: fd });
  closeSync(fd);
  try {
    await waitUntil(() => temporalAnswers(address, namespace), {
      what: 'the Temporal dev server',
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 500,
      process: server,
    });
  } catch (err) {
    await server.stop();
    const logText = existsSync(logFile) ? tail(readFileSync(logFile, 'utf8')) : '';
    throw new Error(`${(err as Error).message}; end of ${logFile}:\n${logText}`, { cause: err });
  }
  log.info(`Temporal: ready at ${address}, Web UI http://127.0.0.1:${uiPort}`);
  // `--search-attribute` is applied to a new database only: a data dir kept from an
  // older checkout lacks the attributes added since (AwaitingApprovalSince).
  await registerSearchAttributes(address, namespace, log);
  return server;
}

/** The Web UI port used for a server at `address`: the given one, else gRPC port + 1000. */
export function temporalUiPort(address: string, uiPort?: number): number {
  return uiPort ?? parseHostPort(address, 7233).port + 1000;
}

/**
 * True when a Temporal frontend answers at `address` (and, if given, knows `namespace`).
 */
export async function temporalAnswers(address: string, namespace?: string): Promise<boolean> {
  // lazy + ensureConnected rather than connect(): a failed connect() leaks its channel.
  const conn = Connection.lazy({ address, connectTimeout: 1_000 });
  try {
    await conn.ensureConnected();
    await conn.withDeadline(Date.now() + 3_000, async () => {
      await conn.workflowService.getSystemInfo({});
      if (namespace) await conn.workflowService.describeNamespace({ namespace });
    });
    return true;
  } catch {
    return false;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Where the CLI is built when missing: `$DURABLE_CHAT_TOOLS/bin`, shared by all clones. */
export function toolsBinDir(): string {
  return path.join(loadToolingConfig().toolsDir, 'bin');
}

/** The `temporal` CLI: on PATH, else in {@link toolsBinDir}; null when neither has it. */
export function findTemporalBinary(): string | null {
  const cached = path.join(toolsBinDir(), 'temporal');
  return findOnPath('temporal') ?? (isExecutable(cached) ? cached : null);
}

/** The `temporal` CLI, built with `go install` into {@link toolsBinDir} if missing. */
export async function ensureTemporalBinary(log: Logger): Promise<string> {
  const found = findTemporalBinary();
  if (found) return found;
  const go =
    findOnPath('go') ?? ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find(isExecutable) ?? null;
  if (!go) {
    throw new Error(
      'the Temporal CLI is missing and Go is not installed to build it; install Go ' +
        `(https://go.dev/dl/) or put a temporal binary on PATH`,
    );
  }
  const bin = toolsBinDir();
  mkdirSync(bin, { recursive: true });
  const pkg = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;
  log.info(
    `Temporal: building the CLI (go install ${pkg} into ${bin}); this takes a few minutes, once`,
  );
  const started = Date.now();
  const result = await runCommand(go, ['install', pkg], { env: { ...process.env, GOBIN: bin } });
  const binary = path.join(bin, 'temporal');
  if (result.code !== 0 || !isExecutable(binary)) {
    throw new Error(`go install ${pkg} failed:\n${tail(result.output)}`);
  }
  log.info(`Temporal: CLI built in ${Math.round((Date.now() - started) / 1000)} s`);
  return binary;
}

/** Registers {@link SEARCH_ATTRIBUTES} on a running server; existing ones are fine. */
async function registerSearchAttributes(
  address: string,
  namespace: string,
  log: Logger,
): Promise<void> {
  const binary = findTemporalBinary();
  if (!binary) {
    log.warn('Temporal: no temporal CLI found, search attributes not registered');
    return;
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
    const args = ['operator', 'search-attribute', 'create', '--address', address];
    args.push('--namespace', namespace, '--name', name, '--type', type);
    const result = await runCommand(binary, args);
    if (result.code !== 0 && !/already exists/i.test(result.output)) {
      log.warn(`Temporal: could not register search attribute ${name}: ${tail(result.output, 3)}`);
    }
  }
}
