/**
 * The error catalog: every failure a client can see, with its stable contract code
 * (docs/API.md), HTTP status and default message. The API maps failures through this
 * catalog to HTTP answers and WebSocket `error` frames; nothing matches on message text.
 *
 * Activities raise domain failures as `ApplicationFailure.create({ type, nonRetryable })`
 * where `type` is a key of {@link ERRORS}; workflows branch on that type.
 *
 * Pure data: importable from workflows.
 */

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'not_found'
  | 'quota_exceeded'
  | 'rate_limited'
  | 'payload_too_large'
  | 'context_too_large'
  | 'llm_unavailable'
  | 'cancelled'
  | 'internal';

export interface ErrorSpec {
  readonly code: ErrorCode;
  readonly status: number;
  readonly message: string;
}

export const ERRORS = {
  BadRequest: { code: 'bad_request', status: 400, message: 'Bad request' },
  Unauthorized: { code: 'unauthorized', status: 401, message: 'Missing, invalid or expired token' },
  NotFound: { code: 'not_found', status: 404, message: 'Not found' },
  QuotaExceeded: {
    code: 'quota_exceeded',
    status: 429,
    message: 'Daily token quota exceeded, try again tomorrow (quotas reset at 00:00 UTC)',
  },
  RateLimited: { code: 'rate_limited', status: 429, message: 'Too many requests, slow down' },
  PayloadTooLarge: { code: 'payload_too_large', status: 413, message: 'Payload too large' },
  ContextTooLarge: {
    code: 'context_too_large',
    status: 400,
    message: "The message is too long for the model's context window",
  },
  LlmUnavailable: {
    code: 'llm_unavailable',
    status: 503,
    message: 'The language model is unavailable, please try again later',
  },
  Cancelled: { code: 'cancelled', status: 409, message: 'The request was cancelled' },
  /** A tool call whose arguments fail the tool's schema (answered to the LLM, not the client). */
  InvalidToolArguments: { code: 'bad_request', status: 400, message: 'Invalid tool arguments' },
  Internal: { code: 'internal', status: 500, message: 'Internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorType = keyof typeof ERRORS;

/** The catalog entry for an ApplicationFailure type; unknown types are internal errors. */
export function errorSpecForType(type: string | undefined | null): ErrorSpec {
  if (type && Object.prototype.hasOwnProperty.call(ERRORS, type)) {
    return ERRORS[type as ErrorType];
  }
  return ERRORS.Internal;
}

/** The catalog entry for a contract code. */
export function errorSpecForCode(code: ErrorCode): ErrorSpec {
  for (const spec of Object.values(ERRORS)) if (spec.code === code) return spec;
  return ERRORS.Internal;
}
