/**
 * A lean benchmark client over the client library (client/): one connection, many
 * requests in flight, each timed at the client from the moment its `chat` frame is
 * sent. Handles are dropped at their end, so long runs stay flat in memory.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { ChatConnection, type WebSocketConstructor } from '../client';

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

export class BenchChatClient {
  private constructor(private readonly connection: ChatConnection) {}

  /** Opens an authenticated connection (`url`: the API's `/v1/ws`). */
  static async connect(url: string, token: string): Promise<BenchChatClient> {
    const connection = new ChatConnection({
      url,
      token,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    await new Promise<void>((resolve, reject) => {
      const off = connection.onState((state) => {
        off();
        if (state === 'open') resolve();
        else reject(new Error(`could not connect to ${url} (${state})`));
      });
    });
    return new BenchChatClient(connection);
  }

  /** Sends one chat request and resolves with its timings at `done` (rejects on `error`). */
  async chat(sessionId: string, content: string, timeoutMs = 30_000): Promise<ChatTiming> {
    const sentAtMs = Date.now();
    const sentAt = performance.now();
    const handle = this.connection.chat({ sessionId, content });
    const types: string[] = [];
    let accepted = NaN;
    let firstDelta = NaN;
    let doneAt = NaN;
    handle.on((e) => {
      const now = performance.now() - sentAt;
      types.push(e.type === 'status' ? `status:${e.state}` : e.type);
      if (e.type === 'accepted' && Number.isNaN(accepted)) accepted = now;
      if (e.type === 'delta' && Number.isNaN(firstDelta)) firstDelta = now;
      if (e.type === 'done') doneAt = now;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`request ${handle.requestId} timed out`)), timeoutMs);
    });
    try {
      const done = await Promise.race([handle.reply(), timeout]);
      return {
        requestId: handle.requestId,
        sentAtMs,
        accepted,
        firstDelta,
        done: doneAt,
        types,
        content: done.content,
      };
    } catch (err) {
      throw new Error(`request failed: ${err instanceof Error ? `${(err as { code?: string }).code ?? ''}: ${err.message}` : String(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.connection.close();
    return Promise.resolve();
  }
}
