/**
 * The client library: typed access to the whole public contract (docs/API.md) for
 * browsers and Node 20. One {@link ChatClient} per user token:
 *
 * ```ts
 * const client = new ChatClient({ baseUrl: 'http://127.0.0.1:3000', token, WebSocket });
 * const { sessionId } = await client.createSession();
 * const reply = client.chat({ sessionId, content: 'Hello' });
 * reply.on((event) => { if (event.type === 'delta') render(reply.text); });
 * const done = await reply.reply(); // or `for await (const event of reply)`
 * ```
 *
 * HTTP calls come from {@link HttpApi}; chats go over one self-healing WebSocket
 * ({@link ChatConnection}), opened on first use.
 */
import { ChatConnection, type ConnectionOptions, type ConnectionState } from './connection';
import { ChatApiError } from './errors';
import type { ChatHandle } from './chat-handle';
import { HttpApi, type HttpOptions } from './http';

export { ChatApiError, type ClientErrorCode } from './errors';
export { ChatHandle, eventIdAfter, isTerminal, replyText, type ChatListener } from './chat-handle';
export {
  ChatConnection,
  type ConnectionOptions,
  type ConnectionState,
  type WebSocketConstructor,
  type WebSocketLike,
} from './connection';
export { HttpApi, type FetchLike, type HttpOptions, type ResponseLike } from './http';
export { newRequestId } from './ids';
export * from './types';

export interface ChatClientOptions extends HttpOptions, Omit<ConnectionOptions, 'url' | 'token' | 'checkAuth'> {
  /** WebSocket URL; default: `baseUrl` with ws(s):// and `/v1/ws`. */
  wsUrl?: string;
}

export class ChatClient extends HttpApi {
  private connectionValue: ChatConnection | undefined;

  constructor(private readonly clientOptions: ChatClientOptions) {
    super(clientOptions);
  }

  /** The WebSocket connection (opened on first use). */
  get connection(): ChatConnection {
    if (!this.connectionValue) {
      const { baseUrl, wsUrl, token, ...rest } = this.clientOptions;
      this.connectionValue = new ChatConnection({
        ...rest,
        token,
        url: wsUrl ?? `${baseUrl.replace(/\/+$/, '').replace(/^http/, 'ws')}/v1/ws`,
        checkAuth: async () => {
          try {
            await this.me();
            return true;
          } catch (err) {
            return !(err instanceof ChatApiError && err.code === 'unauthorized');
          }
        },
      });
    }
    return this.connectionValue;
  }

  /** Sends a chat message; the handle streams the reply. */
  chat(input: { sessionId: string; content: string; model?: string; requestId?: string }): ChatHandle {
    return this.connection.chat(input);
  }

  /** Follows a request started earlier (after `lastEventId`, or from its start). */
  resume(requestId: string, sessionId: string, lastEventId?: string): ChatHandle {
    return this.connection.resume(requestId, sessionId, lastEventId);
  }

  get state(): ConnectionState {
    return this.connectionValue?.state ?? 'connecting';
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    return this.connection.onState(listener);
  }

  /** Closes the WebSocket for good. */
  close(): void {
    this.connectionValue?.close();
  }
}
