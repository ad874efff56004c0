/**
 * The WebSocket half of the contract (docs/API.md "WebSocket /v1/ws") behind one
 * self-healing connection:
 * - a dropped socket reconnects by itself, with exponential backoff and jitter;
 * - on every (re)connect each unfinished request is picked up again: `resume` from its
 *   last eventId once the server accepted it, else its `chat` frame again with the same
 *   requestId (the server's idempotency key: never run or billed twice). Chats sent
 *   while offline are sent then. Duplicated events are dropped by the handle, so the
 *   caller sees each one exactly once;
 * - an application-level `ping` every `pingIntervalMs` (browsers cannot send protocol
 *   pings); a socket that stays silent for a whole interval after one is dropped;
 * - a connect that fails asks `checkAuth` (if given) whether the token is still good:
 *   a refused token ends every request with `unauthorized` instead of retrying forever.
 *
 * No Node-only imports: the WebSocket constructor is an option (the browser's by
 * default; pass `ws` in Node).
 */
import { ChatHandle, isTerminal } from './chat-handle';
import { newRequestId } from './ids';
import type { ServerFrame } from './types';

/** The part of the WebSocket API this client uses (browsers' and `ws`'s). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code?: number }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `connecting` (first time), `open`, `reconnecting` (after a drop, waiting or trying), `closed`. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ConnectionOptions {
  /** e.g. `ws://127.0.0.1:3000/v1/ws`. */
  url: string;
  token: string;
  /** Default: `globalThis.WebSocket`. In Node 20 pass `ws`'s default export. */
  WebSocket?: WebSocketConstructor;
  /** Default 15 s. */
  pingIntervalMs?: number;
  /** First reconnect delay (doubles per failed attempt, with jitter). Default 250 ms. */
  minReconnectDelayMs?: number;
  /** Longest reconnect delay. Default 8 s. */
  maxReconnectDelayMs?: number;
  /** Asked after a failed connect: false = the token is refused (stop trying). */
  checkAuth?: () => Promise<boolean>;
}

/** A frame the server sent that belongs to no request (e.g. a dropped flood frame). */
export type ConnectionErrorListener = (frame: Extract<ServerFrame, { type: 'error' }>) => void;

interface Tracked {
  handle: ChatHandle;
  /** The `chat` frame (re-sent until the server accepts it); absent for a resume-only handle. */
  chat?: { type: 'chat'; requestId: string; sessionId: string; content: string; model?: string };
  /** True once the `chat` frame went out on some socket (the server may know it). */
  sent: boolean;
}

const OPEN = 1;

export class ChatConnection {
  private ws: WebSocketLike | undefined;
  private stateValue: ConnectionState = 'connecting';
  private readonly requests = new Map<string, Tracked>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly errorListeners = new Set<ConnectionErrorListener>();
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private heardSincePing = true;
  private readonly WebSocketImpl: WebSocketConstructor;

  constructor(private readonly options: ConnectionOptions) {
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl) throw new Error('no WebSocket available: pass options.WebSocket (e.g. `ws` in Node)');
    this.WebSocketImpl = impl;
    this.open();
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Calls `listener` on every state change; returns the unsubscribe function. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Errors about no request (e.g. `rate_limited` for a flood of frames). */
  onError(listener: ConnectionErrorListener): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Starts a chat request (sent now, or on reconnect when offline). */
  chat(input: { sessionId: string; content: string; model?: string; requestId?: string }): ChatHandle {
    const requestId = (input.requestId ?? newRequestId()).toLowerCase();
    const existing = this.requests.get(requestId);
    if (existing) return existing.handle;
    const handle = new ChatHandle(requestId, input.sessionId, (h) => this.cancel(h));
    const chat = {
      type: 'chat' as const,
      requestId,
      sessionId: input.sessionId,
      content: input.content,
      ...(input.model !== undefined ? { model: input.model } : {}),
    };
    const tracked: Tracked = { handle, chat, sent: false };
    this.track(tracked);
    tracked.sent = this.send(chat);
    return handle;
  }

  /**
   * Follows a request started earlier (e.g. before a page reload): its events after
   * `lastEventId` (all when absent), then the live ones.
   */
  resume(requestId: string, sessionId: string, lastEventId?: string): ChatHandle {
    const id = requestId.toLowerCase();
    const existing = this.requests.get(id);
    if (existing) return existing.handle;
    const handle = new ChatHandle(id, sessionId, (h) => this.cancel(h));
    handle.accepted = true;
    handle.lastEventId = lastEventId;
    this.track({ handle, sent: true });
    this.send(this.resumeFrame(handle));
    return handle;
  }

  /** Reconnects at once if waiting to (e.g. the browser says it is back online). */
  reconnectNow(): void {
    if (this.stateValue !== 'reconnecting' || this.ws) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  /** Drops the current socket as if the network had (for tests and "reconnect" buttons). */
  dropSocket(): void {
    if (this.ws) this.lost();
  }

  /** Closes for good: unfinished requests end locally with `connection_closed`. */
  close(): void {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.detach()?.close(1000, 'client closed');
    for (const { handle } of this.requests.values()) {
      handle.endLocally('connection_closed', 'the client was closed before the request ended');
    }
    this.requests.clear();
  }

  private track(tracked: Tracked): void {
    this.requests.set(tracked.handle.requestId, tracked);
    void tracked.handle.terminal.then(() => this.requests.delete(tracked.handle.requestId));
  }

  private cancel(handle: ChatHandle): void {
    const tracked = this.requests.get(handle.requestId);
    if (!tracked) return;
    if (handle.accepted) {
      this.send({ type: 'cancel', requestId: handle.requestId });
    } else if (!tracked.sent) {
      // Never sent: the server never hears of it.
      handle.endLocally('cancelled', 'cancelled before it reached the server');
    }
    // Otherwise the cancel is sent when `accepted` arrives (after a reconnect, once the
    // re-sent `chat` is accepted): before it, the server may not know the request yet.
  }

  private get isOpen(): boolean {
    return this.ws !== undefined && this.ws.readyState === OPEN && this.stateValue === 'open';
  }

  /** Sends a frame if the socket is open; true when sent. */
  private send(frame: object): boolean {
    if (!this.isOpen) return false;
    this.ws!.send(JSON.stringify(frame));
    return true;
  }

  private resumeFrame(handle: ChatHandle): object {
    return {
      type: 'resume',
      requestId: handle.requestId,
      ...(handle.lastEventId !== undefined ? { lastEventId: handle.lastEventId } : {}),
    };
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private open(): void {
    const url = new URL(this.options.url);
    url.searchParams.set('token', this.options.token);
    let opened = false;
    const ws = new this.WebSocketImpl(url.toString());
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.setState('open');
      this.startPing();
      for (const tracked of this.requests.values()) {
        const { handle } = tracked;
        if (handle.accepted) {
          this.send(this.resumeFrame(handle));
          if (handle.cancelRequested) this.send({ type: 'cancel', requestId: handle.requestId });
        } else if (tracked.chat) {
          if (this.send(tracked.chat)) tracked.sent = true;
        }
      }
    };
    ws.onmessage = (event) => this.onFrame(event.data);
    ws.onerror = () => undefined;
    ws.onclose = () => {
      if (this.ws !== ws) return;
      if (!opened && this.options.checkAuth) void this.checkAuthThenRetry();
      else this.lost();
    };
  }

  private async checkAuthThenRetry(): Promise<void> {
    this.detach();
    this.setState('reconnecting');
    const ok = await this.options.checkAuth!().catch(() => true);
    if (this.stateValue === 'closed') return;
    if (!ok) {
      for (const { handle } of this.requests.values()) handle.endLocally('unauthorized', 'the token was refused');
      this.close();
      return;
    }
    this.scheduleReconnect();
  }

  /** The socket is gone (closed, or silent too long): reconnect after a backoff. */
  private lost(): void {
    this.detach()?.close(4000, 'reconnecting');
    if (this.stateValue === 'closed') return;
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const min = this.options.minReconnectDelayMs ?? 250;
    const max = this.options.maxReconnectDelayMs ?? 8000;
    const ceiling = Math.min(max, min * 2 ** this.attempt);
    this.attempt++;
    // "Equal jitter": half fixed, half random, so a fleet of clients spreads out.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Forgets the current socket (its events are ignored from now on) and returns it. */
  private detach(): WebSocketLike | undefined {
    const ws = this.ws;
    this.ws = undefined;
    clearInterval(this.pingTimer);
    if (ws) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = () => undefined;
    }
    return ws;
  }

  private startPing(): void {
    clearInterval(this.pingTimer);
    this.heardSincePing = true;
    this.pingTimer = setInterval(() => {
      if (!this.heardSincePing) return this.lost();
      this.heardSincePing = false;
      this.send({ type: 'ping' });
    }, this.options.pingIntervalMs ?? 15_000);
  }

  private onFrame(data: unknown): void {
    this.heardSincePing = true;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data)) as ServerFrame;
    } catch {
      return;
    }
    if (frame.type === 'pong') return;
    const requestId = 'requestId' in frame ? frame.requestId : undefined;
    const tracked = requestId ? this.requests.get(requestId) : undefined;
    if (!tracked) {
      if (frame.type === 'error' && !requestId) for (const l of this.errorListeners) l(frame);
      return;
    }
    const { handle } = tracked;
    const wasAccepted = handle.accepted;
    handle.receive(frame);
    if (!wasAccepted && handle.accepted && handle.cancelRequested && !isTerminal(frame)) {
      this.send({ type: 'cancel', requestId: handle.requestId });
    }
  }
}
