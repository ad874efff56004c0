/**
 * One authenticated WebSocket connection: parses client frames, starts, resumes and
 * cancels requests, and relays their events. Nothing a client sends can crash the
 * server: every bad frame answers `error` and the connection stays open.
 */
import type WebSocket from 'ws';
import type { ServerFrame } from '../contracts/protocol';
import { TERMINAL_EVENT_TYPES } from '../contracts/protocol';
import { ERRORS, type ErrorSpec } from '../contracts/errors';
import { requestKeys, toEventId } from '../store/event-log';
import type { AuthUser } from './auth';
import { cancelChat, requestExists, startChat } from './chat';
import type { ApiDeps } from './deps';
import { AppError, toAppError } from './errors';
import { TokenBucket } from './rate-limit';
import { watchRequestEnd } from './request-end';
import { quotaRefusalsTotal, wsConnections } from '../lib/metrics';
import { parseClientFrame, type ClientFrame } from './frames';
import { ChatRequestTimings, frameIn, frameOut } from './ws-metrics';

/** A socket whose unsent data passes this is too slow: it is closed (it can resume). */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Close code for a client too slow to keep up (RFC 6455 "try again later"). */
export const CLOSE_TRY_AGAIN_LATER = 1013;

export class ChatConnection {
  /** requestId -> stops relaying that request's events to this socket. */
  private readonly subscriptions = new Map<string, () => void>();
  private closed = false;
  /** Frames this connection may send (a flood answers `rate_limited`, the socket stays). */
  private readonly frameBudget: TokenBucket;
  /** Metrics of the chat requests started here (api/ws-metrics.ts). */
  private readonly timings: ChatRequestTimings;

  constructor(
    private readonly ws: WebSocket,
    private readonly user: AuthUser,
    private readonly deps: ApiDeps,
  ) {
    this.frameBudget = new TokenBucket(deps.config.wsFrameRate, deps.config.wsFrameBurst);
    this.timings = new ChatRequestTimings((ms) => deps.admission.observeQueueDelay(ms));
    wsConnections.inc();
    ws.on('message', (data, isBinary) => {
      this.onMessage(data, isBinary).catch((err: unknown) => {
        deps.logger.error('websocket frame failed', { err });
      });
    });
    ws.on('close', () => this.dispose());
    ws.on('error', () => this.dispose());
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    wsConnections.dec();
    this.timings.closeAll();
    for (const stop of this.subscriptions.values()) stop();
    this.subscriptions.clear();
  }

  /** Sends a frame unless the socket is gone; closes sockets that fall too far behind. */
  send(frame: ServerFrame): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.deps.logger.warn('closing slow websocket client', { buffered: this.ws.bufferedAmount });
      this.ws.close(CLOSE_TRY_AGAIN_LATER, 'too slow; resume to continue');
      this.dispose();
      return;
    }
    this.ws.send(JSON.stringify(frame));
    frameOut();
  }

  private sendError(
    spec: ErrorSpec,
    message: string,
    requestId?: string,
    retryAfter?: number,
  ): void {
    this.send({
      type: 'error',
      code: spec.code,
      message,
      ...(requestId ? { requestId } : {}),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }

  private async onMessage(data: WebSocket.RawData, isBinary: boolean): Promise<void> {
    frameIn();
    if (!this.frameBudget.take()) {
      // Dropped unread: a flood costs no parsing. One error per dropped frame.
      quotaRefusalsTotal.inc({ reason: 'ws_flood' });
      this.sendError(
        ERRORS.RateLimited,
        `too many frames: at most ${this.deps.config.wsFrameRate} per second; this frame was dropped`,
        undefined,
        this.frameBudget.retryAfterSeconds(),
      );
      return;
    }
    const bytes = Array.isArray(data)
      ? data.reduce((n, b) => n + b.length, 0)
      : data instanceof ArrayBuffer
        ? data.byteLength
        : data.length;
    if (bytes > this.deps.config.maxPayloadBytes) {
      this.sendError(
        ERRORS.PayloadTooLarge,
        `frame exceeds ${this.deps.config.maxPayloadBytes} bytes`,
      );
      return;
    }
    if (isBinary) {
      this.sendError(ERRORS.BadRequest, 'binary frames are not supported; send JSON text');
      return;
    }
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data as ArrayBuffer).toString('utf8');
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.sendError(ERRORS.BadRequest, parsed.message, parsed.requestId);
      return;
    }
    const frame = parsed.frame;
    try {
      await this.handle(frame);
    } catch (err) {
      const appErr = toAppError(err);
      if (appErr.spec === ERRORS.Internal) {
        this.deps.logger.error('websocket frame failed', { err, type: frame.type });
      }
      const requestId = 'requestId' in frame ? frame.requestId : undefined;
      this.sendError(appErr.spec, appErr.message, requestId, appErr.retryAfterSeconds);
    }
  }

  private async handle(frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'ping':
        this.send({ type: 'pong' });
        return;
      case 'chat': {
        const startedAt = performance.now();
        const { requestId, duplicate } = await startChat(this.deps, this.user, frame);
        // A socket that closed meanwhile would never release the request's session.
        if (!duplicate && !this.closed) this.timings.start(requestId, frame.sessionId, startedAt);
        this.send({ type: 'accepted', requestId, sessionId: frame.sessionId });
        this.follow(requestId, 0);
        return;
      }
      case 'resume': {
        const requestId = frame.requestId.toLowerCase();
        if (!(await requestExists(this.deps, this.user.userId, requestId))) {
          throw new AppError(ERRORS.NotFound, 'request not found');
        }
        this.follow(requestId, frame.lastEventId ? Number(frame.lastEventId) : 0);
        return;
      }
      case 'cancel':
        await cancelChat(this.deps, this.user.userId, frame.requestId.toLowerCase());
        return;
    }
  }

  /**
   * Relays the request's events after `afterSeq` to this socket, until its end (written
   * by the API from the workflow's outcome if Redis no longer has it: api/request-end.ts).
   */
  private follow(requestId: string, afterSeq: number): void {
    if (this.closed) return;
    this.subscriptions.get(requestId)?.();
    const stream = requestKeys(this.user.userId, requestId).stream;
    let lastEventAt = Date.now();
    const unsubscribe = this.deps.relay.subscribe(stream, afterSeq, (event, seq) => {
      lastEventAt = Date.now();
      this.send({ ...event, requestId, eventId: toEventId(seq) });
      this.timings.onEvent(requestId, event);
      if (TERMINAL_EVENT_TYPES.has(event.type)) {
        stop();
        if (this.subscriptions.get(requestId) === stop) this.subscriptions.delete(requestId);
      }
    });
    const unwatch = watchRequestEnd(this.deps, this.user.userId, requestId, () => lastEventAt);
    const stop = () => {
      unsubscribe();
      unwatch();
    };
    this.subscriptions.set(requestId, stop);
  }
}
