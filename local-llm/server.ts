/**
 * The embedded OpenAI-compatible LLM (docs/API.md "The embedded local LLM"): deterministic
 * replies scripted by directives in the last user message, exact tiktoken usage.
 * The default LLM of `npm start` and the one every test talks to.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { countPromptTokens, modelInfo } from '../prompt/tokens';
import { parseDirectives } from './directives';
import { readBody, sendError, sendJson } from './http';
import { planReply } from './replies';
import { lastUserIndex, parseChatRequest } from './request';
import {
  createStats,
  recordCall,
  resetStats,
  SeenOnce,
  type LocalLlmCall,
  type LocalLlmStats,
} from './stats';
import { streamReply } from './stream';
import { sha256 } from './text';
import { completionBody, usage } from './wire';
import type { LocalLlmFaults } from './instances';

export type { LocalLlmCall, LocalLlmStats } from './stats';
export type { LocalLlmFaults } from './instances';

/** A running local LLM. */
export interface LocalLlm {
  /** Base URL for an OpenAI client, ending in `/v1`. */
  url: string;
  port: number;
  /** Stops listening, ends in-flight streams, resolves once closed. */
  close(): Promise<void>;
  /** Live counters and call log (the same object until the server closes). */
  stats: LocalLlmStats;
  /** Empties {@link LocalLlm.stats} in place. */
  resetStats(): void;
  /** The name it puts in its replies (`[name] ...`), when it has one. */
  name?: string;
  /** Changes how it misbehaves from the next request on (`{}`: healthy). */
  setFaults(faults: LocalLlmFaults): void;
}

/** Models `GET /v1/models` lists; any other model name is accepted too. */
export const LISTED_MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'gpt-3.5-turbo'] as const;

/** Cap on the pause of a non-streamed reply scripted with `[[delay_ms:N]]`. */
const MAX_NON_STREAM_DELAY_MS = 60_000;

interface ServerState {
  name?: string;
  faults: LocalLlmFaults;
  stats: LocalLlmStats;
  failedOnce: SeenOnce;
  cutOnce: SeenOnce;
}

function modelObject(id: string): object {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'local-llm' };
}

async function handleChat(
  req: IncomingMessage,
  res: ServerResponse,
  state: ServerState,
  signal: AbortSignal,
): Promise<void> {
  const log = (call: Partial<LocalLlmCall> & { status: number }): void =>
    recordCall(state.stats, {
      model: '',
      stream: false,
      messageCount: 0,
      lastUserMessage: '',
      tools: false,
      promptTokens: 0,
      completionTokens: 0,
      ...call,
    });

  const raw = await readBody(req);
  if (raw.tooLarge) {
    log({ status: 413 });
    sendError(res, 413, 'Request body exceeds 8 MiB', null, { connection: 'close' });
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.text);
  } catch {
    log({ status: 400 });
    sendError(res, 400, 'Request body is not valid JSON');
    return;
  }
  const parsed = parseChatRequest(body);
  if (!parsed.ok) {
    log({ status: 400 });
    sendError(res, 400, parsed.message, parsed.param);
    return;
  }
  const request = parsed.request;
  const { encoding } = modelInfo(request.model);
  const userIndex = lastUserIndex(request.messages);
  const userText = request.messages[userIndex]?.content ?? '';
  const directives = parseDirectives(userText);
  const promptTokens = countPromptTokens(request.messages, encoding);
  const call = {
    model: request.model,
    stream: request.stream,
    messageCount: request.messages.length,
    lastUserMessage: userText,
    system: request.messages.find((m) => m.role === 'system')?.content ?? undefined,
    tools: request.hasTools,
    promptTokens,
  };

  // An instance told to misbehave does so before any directive is read.
  const { faults } = state;
  if (faults.hang) {
    log({ ...call, status: 0 });
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    return;
  }
  if (faults.failStatus !== undefined) {
    log({ ...call, status: faults.failStatus });
    sendError(res, faults.failStatus, `${state.name ?? 'The local LLM'} fails every request: HTTP ${faults.failStatus}`);
    return;
  }

  const failure =
    directives.fail ??
    (directives.failOnce !== undefined && state.failedOnce.firstTime(userText)
      ? directives.failOnce
      : undefined);
  if (failure !== undefined) {
    log({ ...call, status: failure });
    sendError(res, failure, `Scripted failure: HTTP ${failure}`);
    return;
  }

  const reply = planReply(request, userIndex, userText, directives, encoding, state.name);
  const u = usage(promptTokens, reply.completionTokens);
  const meta = {
    id: `chatcmpl-${sha256(`${request.model}\n${request.stream}\n${JSON.stringify(request.messages)}`).slice(0, 24)}`,
    created: Math.floor(Date.now() / 1000),
    model: request.model,
  };
  log({ ...call, status: 200, completionTokens: reply.completionTokens });
  const delayMs = directives.delayMs ?? 0;

  if (request.stream) {
    const cutAfter =
      faults.cutAfter ??
      (directives.cutAfter !== undefined && state.cutOnce.firstTime(userText)
        ? directives.cutAfter
        : undefined);
    await streamReply(
      res,
      {
        meta,
        reply,
        usage: u,
        includeUsage: request.includeUsage && !directives.noUsage,
        delayMs,
        cutAfter,
      },
      encoding,
      signal,
    );
    return;
  }
  if (delayMs > 0) {
    const total = Math.min(delayMs * reply.completionTokens, MAX_NON_STREAM_DELAY_MS);
    try {
      await sleep(total, undefined, { signal });
    } catch {
      return; // client gone or server closing
    }
  }
  const completion = completionBody(meta, reply, u) as Record<string, unknown>;
  if (directives.noUsage) delete completion.usage;
  sendJson(res, 200, completion);
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  state: ServerState,
  signal: AbortSignal,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]?.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  const only = (allowed: string): boolean => {
    if (method === allowed) return true;
    req.resume();
    sendError(res, 405, `Method ${method} not allowed on ${path}`, null, { allow: allowed });
    return false;
  };

  if (path === '/v1/chat/completions' || path === '/chat/completions') {
    if (only('POST')) await handleChat(req, res, state, signal);
    return;
  }
  req.resume();
  if (path === '/healthz') {
    if (only('GET')) sendJson(res, 200, { status: 'ok' });
  } else if (path === '/v1/models' || path === '/models') {
    if (only('GET')) sendJson(res, 200, { object: 'list', data: LISTED_MODELS.map(modelObject) });
  } else if (path.startsWith('/v1/models/')) {
    if (only('GET')) sendJson(res, 200, modelObject(safeDecode(path.slice('/v1/models/'.length))));
  } else {
    sendError(res, 404, `Unknown path ${path}`);
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function baseUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const h = reachable.includes(':') ? `[${reachable}]` : reachable;
  return `http://${h}:${port}/v1`;
}

/**
 * Starts the local LLM on `host` (default 127.0.0.1) and `port` (default 0: any free
 * port; the chosen one is in the result). A `name` goes into its replies; `faults` make
 * it misbehave (local-llm/instances.ts).
 */
export async function startLocalLlm(
  opts: { port?: number; host?: string; name?: string; faults?: LocalLlmFaults } = {},
): Promise<LocalLlm> {
  const host = opts.host ?? '127.0.0.1';
  const state: ServerState = {
    ...(opts.name ? { name: opts.name } : {}),
    faults: { ...opts.faults },
    stats: createStats(),
    failedOnce: new SeenOnce(),
    cutOnce: new SeenOnce(),
  };
  const inFlight = new Set<AbortController>();

  const server: Server = createServer((req, res) => {
    const controller = new AbortController();
    inFlight.add(controller);
    req.on('error', () => controller.abort());
    res.on('error', () => controller.abort());
    res.on('close', () => {
      inFlight.delete(controller);
      if (!res.writableFinished) controller.abort();
    });
    route(req, res, state, controller.signal).catch(() => {
      // Never let one request take the server down: answer 500 or drop the connection.
      if (!res.headersSent) sendError(res, 500, 'Internal error in the local LLM');
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    url: baseUrl(host, port),
    port,
    stats: state.stats,
    resetStats: () => resetStats(state.stats),
    ...(opts.name ? { name: opts.name } : {}),
    setFaults: (faults) => {
      state.faults = { ...faults };
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const c of inFlight) c.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
