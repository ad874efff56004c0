/**
 * Errors the client library raises: always a {@link ChatApiError} carrying the
 * contract's `code` (docs/API.md), plus `retryAfter` (seconds) when the server said
 * when to try again, and the HTTP `status` for HTTP calls.
 */
import type { ErrorCode } from '../contracts/errors';

/**
 * The contract's codes, plus `connection_closed`: the client was closed (or can never
 * reconnect) before the request ended. The request may still finish on the server.
 */
export type ClientErrorCode = ErrorCode | 'connection_closed';

export class ChatApiError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly details: { status?: number; retryAfter?: number; requestId?: string } = {},
  ) {
    super(message);
    this.name = 'ChatApiError';
  }

  /** HTTP status, for HTTP calls. */
  get status(): number | undefined {
    return this.details.status;
  }

  /** Seconds to wait before trying again (`rate_limited`, `quota_exceeded`), when known. */
  get retryAfter(): number | undefined {
    return this.details.retryAfter;
  }

  get requestId(): string | undefined {
    return this.details.requestId;
  }
}
