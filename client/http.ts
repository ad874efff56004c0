/**
 * Typed access to the HTTP half of the contract (docs/API.md "HTTP" and "Sessions"):
 * sessions, messages, profile, usage and tasks. Uses the platform's `fetch` (browsers,
 * Node 20) or one given in the options. Every failure is a {@link ChatApiError} with
 * the contract's code, the HTTP status and `retryAfter` from `Retry-After`.
 */
import { ChatApiError, type ClientErrorCode } from './errors';
import type {
  ApprovalDecision,
  Message,
  PendingApproval,
  Profile,
  ProfileUpdate,
  Session,
  SessionPage,
  Task,
  ToolList,
  Usage,
} from './types';

/** What a decision on a waiting tool call answers. */
export interface ApprovalAnswer {
  requestId: string;
  toolCallId: string;
  decision: ApprovalDecision;
}

/** The part of a fetch Response this client reads. */
export interface ResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** The part of `fetch` this client uses. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<ResponseLike>;

export interface HttpOptions {
  /** e.g. `http://127.0.0.1:3000` (no trailing `/v1`). */
  baseUrl: string;
  /** A JWT or an API key. */
  token: string;
  fetch?: FetchLike;
}

const CODES: ReadonlySet<string> = new Set<ClientErrorCode>([
  'bad_request',
  'unauthorized',
  'not_found',
  'quota_exceeded',
  'rate_limited',
  'payload_too_large',
  'context_too_large',
  'llm_unavailable',
  'cancelled',
  'overloaded',
  'conflict',
  'model_not_found',
  'internal',
]);

export class HttpApi {
  private readonly baseUrl: string;
  private readonly fetch: FetchLike;

  constructor(private readonly options: HttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const f = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (!f) throw new Error('no fetch available: pass options.fetch');
    this.fetch = f.bind(globalThis);
  }

  /** Sends one request; the parsed JSON answer, or undefined for 204. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.options.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: ResponseLike;
    try {
      res = await this.fetch(this.baseUrl + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new ChatApiError('connection_closed', `cannot reach the API: ${String(err)}`);
    }
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) return (text ? JSON.parse(text) : undefined) as T;
    throw httpError(res, text);
  }

  createSession(): Promise<{ sessionId: string }> {
    return this.request('POST', '/v1/sessions');
  }

  /** One page of sessions, most recent activity first. */
  listSessions(options: { limit?: number; cursor?: string } = {}): Promise<SessionPage> {
    const q = new URLSearchParams();
    if (options.limit !== undefined) q.set('limit', String(options.limit));
    if (options.cursor !== undefined) q.set('cursor', options.cursor);
    const qs = q.toString();
    return this.request('GET', `/v1/sessions${qs ? `?${qs}` : ''}`);
  }

  renameSession(sessionId: string, title: string): Promise<Session> {
    return this.request('PATCH', `/v1/sessions/${encodeURIComponent(sessionId)}`, { title });
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.request('DELETE', `/v1/sessions/${encodeURIComponent(sessionId)}`);
  }

  /** The newest `limit` messages, oldest first. */
  async messages(sessionId: string, limit?: number): Promise<Message[]> {
    const qs = limit === undefined ? '' : `?limit=${limit}`;
    const res = await this.request<{ messages: Message[] }>(
      'GET',
      `/v1/sessions/${encodeURIComponent(sessionId)}/messages${qs}`,
    );
    return res.messages;
  }

  me(): Promise<Profile> {
    return this.request('GET', '/v1/me');
  }

  updateMe(update: ProfileUpdate): Promise<Profile> {
    return this.request('PATCH', '/v1/me', update);
  }

  usage(days?: number): Promise<Usage> {
    return this.request('GET', `/v1/me/usage${days === undefined ? '' : `?days=${days}`}`);
  }

  task(taskId: string): Promise<Task> {
    return this.request('GET', `/v1/tasks/${encodeURIComponent(taskId)}`);
  }

  async cancelTask(taskId: string): Promise<void> {
    await this.request('POST', `/v1/tasks/${encodeURIComponent(taskId)}/cancel`);
  }

  /** Every tool the LLM may be offered, and the MCP servers with their status. */
  tools(): Promise<ToolList> {
    return this.request('GET', '/v1/tools');
  }

  /** The user's tool calls that wait for a decision, oldest first. */
  async approvals(): Promise<PendingApproval[]> {
    return (await this.request<{ approvals: PendingApproval[] }>('GET', '/v1/approvals')).approvals;
  }

  /** Approves a waiting tool call (`ChatApiError` `conflict` when it was denied, `not_found` when it no longer waits). */
  approve(requestId: string, toolCallId: string): Promise<ApprovalAnswer> {
    return this.decide(requestId, toolCallId, 'approve');
  }

  /** Denies a waiting tool call; the LLM is told, with the reason. */
  deny(requestId: string, toolCallId: string, reason?: string): Promise<ApprovalAnswer> {
    return this.decide(requestId, toolCallId, 'deny', reason);
  }

  private decide(requestId: string, toolCallId: string, decision: ApprovalDecision, reason?: string): Promise<ApprovalAnswer> {
    const path = `/v1/approvals/${encodeURIComponent(requestId)}/${encodeURIComponent(toolCallId)}`;
    return this.request('POST', path, { decision, ...(reason ? { reason } : {}) });
  }
}

function httpError(res: ResponseLike, text: string): ChatApiError {
  let code: ClientErrorCode = res.status === 401 ? 'unauthorized' : 'internal';
  let message = `HTTP ${res.status}`;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string' && CODES.has(body.error.code)) code = body.error.code as ClientErrorCode;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    /* not JSON: keep the status */
  }
  const retry = Number(res.headers.get('Retry-After'));
  return new ChatApiError(code, message, {
    status: res.status,
    ...(Number.isFinite(retry) && retry > 0 ? { retryAfter: retry } : {}),
  });
}
