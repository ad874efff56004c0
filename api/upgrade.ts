/**
 * The WebSocket upgrade (`/v1/ws`): path, origin and token are checked on the HTTP
 * `upgrade` event and refused with an HTTP answer before any upgrade (the ws README
 * pattern). All of it runs in one promise whose failure is caught here: a database
 * error while a new user's socket opens answers 503 and the process goes on (an async
 * step left unhandled would end the whole process).
 */
import http, { type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { ERRORS, type ErrorSpec } from '../contracts/errors';
import { authenticate, tokenOf, type AuthUser } from './auth';
import type { ApiDeps } from './deps';
import { AppError, errorBody } from './errors';

export const WS_PATH = '/v1/ws';

/** Answers the upgrade request with an HTTP error (the contract's error body) and closes it. */
function refuse(socket: Duplex, spec: ErrorSpec, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(errorBody(new AppError(spec, message)));
  socket.end(
    `HTTP/1.1 ${spec.status} ${http.STATUS_CODES[spec.status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Upgrade refusals outside the catalog's statuses, with the contract's codes. */
const FORBIDDEN: ErrorSpec = { code: 'unauthorized', status: 403, message: 'Forbidden' };
const UNAVAILABLE: ErrorSpec = { code: 'internal', status: 503, message: 'Service unavailable' };

/**
 * The server's `upgrade` listener: authenticates, creates the user on first use, then
 * hands the socket to `onSocket`. Never rejects, never throws.
 */
export function upgradeHandler(
  deps: ApiDeps,
  wss: WebSocketServer,
  onSocket: (ws: WebSocket, user: AuthUser) => void,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { config, logger } = deps;
  const open = new OpenSockets(config.wsMaxConnectionsPerUser);

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== WS_PATH) return refuse(socket, ERRORS.NotFound, 'no such endpoint');
    const origin = req.headers.origin;
    if (origin && config.allowedOrigins.length > 0 && !config.allowedOrigins.includes(origin)) {
      return refuse(socket, FORBIDDEN, 'origin not allowed');
    }
    const user = await authenticate(config.jwtSecret, deps.apiKeys, tokenOf(req, true));
    if (!user) return refuse(socket, ERRORS.Unauthorized, 'missing, invalid or expired token');
    if (socket.destroyed) return;
    if (!open.take(user.userId, socket)) {
      const max = config.wsMaxConnectionsPerUser;
      return refuse(socket, ERRORS.RateLimited, `too many WebSocket connections: at most ${max} per user; close one first`);
    }
    await deps.users.ensure(user);
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, user));
  }

  return (req, socket, head) => {
    socket.on('error', () => undefined);
    upgrade(req, socket, head).catch((err: unknown) => {
      logger.error('websocket upgrade failed', { err });
      refuse(socket, UNAVAILABLE, 'service unavailable, retry');
    });
  };
}

/**
 * Open sockets per user in this process. A slot is taken before the upgrade (so
 * concurrent upgrades cannot overshoot) and given back when the underlying TCP socket
 * closes, whichever way: refused, failed, or a WebSocket that ended.
 */
class OpenSockets {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes a slot for the user's socket; false when the user already holds `max`. */
  take(userId: string, socket: Duplex): boolean {
    const n = this.counts.get(userId) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(userId, n + 1);
    socket.once('close', () => {
      const left = (this.counts.get(userId) ?? 1) - 1;
      if (left > 0) this.counts.set(userId, left);
      else this.counts.delete(userId);
    });
    return true;
  }
}
