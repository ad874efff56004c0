/**
 * A lean WebSocket chat client for benchmarks: one socket, many requests in flight,
 * each timed at the client from the moment its `chat` frame is sent (no frame log
 * kept, so long runs stay flat in memory and CPU).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

/** Client-side timings of one request, in ms from sending its `chat` frame. */
export interface ChatTiming {
  requestId: string;
  /** Wall clock (ms since the epoch) when the `chat` frame was sent. */
  sentAtMs: number;
  accepted: number;
  firstDelta: number;
  done: number;
  /** Frame types in arrival order (`status:<state>` for status frames). */
  types: string[];
  /** The reply (`done` content). */
  content: string;
}

interface Pending {
  sentAt: number;
  sentAtMs: number;
  timing: Partial<ChatTiming> & { types: string[] };
  resolve(t: ChatTiming): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class BenchChatClient {
  private readonly pending = new Map<string, Pending>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.onFrame(Buffer.from(data as ArrayBuffer).toString('utf8')));
    ws.on('close', () => {
      for (const [id, p] of this.pending) this.fail(id, p, new Error('socket closed'));
    });
  }

  /** Opens an authenticated socket. */
  static connect(url: string, token: string): Promise<BenchChatClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
      ws.once('open', () => resolve(new BenchChatClient(ws)));
      ws.once('error', reject);
    });
  }

  /** Sends one chat request and resolves with its timings at `done` (rejects on `error`). */
  chat(sessionId: string, content: string, timeoutMs = 30_000): Promise<ChatTiming> {
    const requestId = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.fail(
            requestId,
            this.pending.get(requestId),
            new Error(`request ${requestId} timed out`),
          ),
        timeoutMs,
      );
      this.pending.set(requestId, {
        sentAt: 0,
        sentAtMs: 0,
        timing: { types: [] },
        resolve,
        reject,
        timer,
      });
      const p = this.pending.get(requestId)!;
      p.sentAtMs = Date.now();
      p.sentAt = performance.now();
      this.ws.send(JSON.stringify({ type: 'chat', requestId, sessionId, content }));
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }

  private onFrame(text: string): void {
    const now = performance.now();
    const f = JSON.parse(text) as {
      type: string;
      requestId?: string;
      code?: string;
      message?: string;
      state?: string;
      content?: string;
    };
    const p = f.requestId ? this.pending.get(f.requestId) : undefined;
    if (!p || !f.requestId) return;
    const t = p.timing;
    t.types.push(f.type === 'status' ? `status:${f.state}` : f.type);
    if (f.type === 'accepted') t.accepted ??= now - p.sentAt;
    if (f.type === 'delta') t.firstDelta ??= now - p.sentAt;
    if (f.type === 'done') {
      clearTimeout(p.timer);
      this.pending.delete(f.requestId);
      p.resolve({
        requestId: f.requestId,
        sentAtMs: p.sentAtMs,
        accepted: t.accepted ?? NaN,
        firstDelta: t.firstDelta ?? NaN,
        done: now - p.sentAt,
        types: t.types,
        content: f.content ?? '',
      });
    }
    if (f.type === 'error')
      this.fail(f.requestId, p, new Error(`request failed: ${f.code}: ${f.message}`));
  }

  private fail(requestId: string, p: Pending | undefined, err: Error): void {
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(requestId);
    p.reject(err);
  }
}
