/**
 * What the WebSocket layer records (README "Monitoring"): per chat request started on
 * a connection, the time to its first delta (`chat_time_to_first_token_seconds`) and
 * to its end (`chat_request_duration_seconds{method="ws"}`), both as the client
 * experiences them (from the `chat` frame's arrival to the relayed event); and
 * `active_sessions`: the sessions with such a request in flight on this process.
 *
 * A request is timed on the connection that started it, until its terminal event is
 * relayed there. When that socket closes first, the request is dropped from both
 * (no duration: the client did not see the end here) and its session stops counting
 * as active. Replays of a requestId already started are not new requests: not timed.
 * Request outcomes (`chat_requests_total`) are counted by the workers (see
 * workers/metered-event-log.ts).
 */
import { TERMINAL_EVENT_TYPES, type RequestEvent } from '../contracts/protocol';
import {
  activeSessions,
  chatRequestDuration,
  timeToFirstToken,
  wsFramesTotal,
} from '../lib/metrics';

const IN = { direction: 'in' } as const;
const OUT = { direction: 'out' } as const;
const WS = { method: 'ws' } as const;

/** Counts one frame received from a client. */
export function frameIn(): void {
  wsFramesTotal.inc(IN);
}

/** Counts one frame sent to a client. */
export function frameOut(): void {
  wsFramesTotal.inc(OUT);
}

/**
 * Requests in flight per session on this process. `active_sessions` is the number of
 * sessions in it: set from the map's size, so it can never go negative.
 */
const inFlightBySession = new Map<string, number>();

function holdSession(sessionId: string): void {
  inFlightBySession.set(sessionId, (inFlightBySession.get(sessionId) ?? 0) + 1);
  activeSessions.set(inFlightBySession.size);
}

function releaseSession(sessionId: string): void {
  const n = (inFlightBySession.get(sessionId) ?? 0) - 1;
  if (n > 0) inFlightBySession.set(sessionId, n);
  else inFlightBySession.delete(sessionId);
  activeSessions.set(inFlightBySession.size);
}

interface Timing {
  sessionId: string;
  /** `performance.now()` when the `chat` frame arrived. */
  startedAt: number;
  sawFirstToken: boolean;
  sawLlmCall: boolean;
}

/** The chat requests one connection started and has not yet seen end. */
export class ChatRequestTimings {
  private readonly open = new Map<string, Timing>();

  /**
   * @param onQueueDelay hears, per request, the time from its `chat` frame to its LLM call
   *   starting (`status: calling_llm`): how long our own system kept it waiting.
   */
  constructor(private readonly onQueueDelay?: (ms: number) => void) {}

  /** A new request (not a replay) was started at `startedAt` (`performance.now()`). */
  start(requestId: string, sessionId: string, startedAt: number): void {
    if (this.open.has(requestId)) return;
    this.open.set(requestId, { sessionId, startedAt, sawFirstToken: false, sawLlmCall: false });
    holdSession(sessionId);
  }

  /** Called with every event relayed to the connection. */
  onEvent(requestId: string, event: RequestEvent): void {
    const t = this.open.get(requestId);
    if (!t) return;
    if (event.type === 'status' && event.state === 'calling_llm' && !t.sawLlmCall) {
      t.sawLlmCall = true;
      this.onQueueDelay?.(performance.now() - t.startedAt);
    } else if (event.type === 'delta' && !t.sawFirstToken) {
      t.sawFirstToken = true;
      timeToFirstToken.observe((performance.now() - t.startedAt) / 1000);
    } else if (TERMINAL_EVENT_TYPES.has(event.type)) {
      chatRequestDuration.observe(WS, (performance.now() - t.startedAt) / 1000);
      this.open.delete(requestId);
      releaseSession(t.sessionId);
    }
  }

  /** The socket closed: its requests stop counting (untimed). */
  closeAll(): void {
    for (const t of this.open.values()) releaseSession(t.sessionId);
    this.open.clear();
  }
}
