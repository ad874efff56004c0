/**
 * The error catalog: every failure a client can see, with its stable contract code
 * (docs/API.md), HTTP status and default message. The API maps failures through this
 * catalog to HTTP answers and WebSocket `error` frames; nothing matches on message text.
 *
 * It is also the one home of the `ApplicationFailure` types the activities throw and the
 * workflows branch on ({@link FAILURE_TYPES}): activities raise them with {@link failure},
 * workflows test them with {@link failureType} or list them in retry policies as
 * {@link FailureType} arrays, so a misspelt type is a compile error, not a silent retry.
 *
 * Pure data and pure functions: importable from workflows.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ApplicationFailureCategory,
} from '@temporalio/common';

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
  | 'overloaded'
  | 'conflict'
  | 'model_not_found'
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
  /** Refused at the door, before any work: the process is past its capacity (api/admission.ts). */
  Overloaded: {
    code: 'overloaded',
    status: 503,
    message: 'The server is at capacity, please retry shortly',
  },
  /** A model no entry of `LLM_CONFIG` offers, on the OpenAI doors (the WebSocket answers `bad_request`). */
  ModelNotFound: { code: 'model_not_found', status: 404, message: 'The model does not exist' },
  /** A tool call whose arguments fail the tool's schema (answered to the LLM, not the client). */
  InvalidToolArguments: { code: 'bad_request', status: 400, message: 'Invalid tool arguments' },
  /** The other decision was already made for a tool call (`POST /v1/approvals/...`). */
  Conflict: { code: 'conflict', status: 409, message: 'Conflict' },
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

/**
 * Failure types that carry no contract code of their own: clients see them as
 * `internal` (or, for the LLM's, as `llm_unavailable` once retries run out).
 */
type BackendFailureType =
  /** The LLM call failed in a way a retry may fix (5xx, 429, stalled stream, connection). */
  | 'LlmTransient'
  /** The billing insert failed in a way a retry may fix (Postgres down, timeout). */
  | 'BillingUnavailable'
  /** The database refused a billing record outright: no retry can land it. */
  | 'InvalidBillingRecord'
  /** The summary LLM call failed; the summariser retries it. */
  | 'SummaryLlmFailed'
  /** An MCP server is not connected (down, or not configured on this worker). */
  | 'ToolUnavailable'
  /** An MCP call that may not run twice was cut off mid-call: it may or may not have acted. */
  | 'ToolInterrupted'
  /** An MCP call got no answer within its server's `timeoutS`. */
  | 'ToolTimedOut'
  /** The MCP server answered the call with a protocol error. */
  | 'ToolFailed'
  /** An MCP result larger than is kept. */
  | 'ToolResultTooLarge';

/** Every `ApplicationFailure` type raised or matched in this codebase. */
export type FailureType = ErrorType | BackendFailureType;

/**
 * The failure types as constants: `FAILURE_TYPES.QuotaExceeded` instead of the string,
 * so a typo does not compile. The mapped type keeps the list exhaustive.
 */
export const FAILURE_TYPES: { readonly [T in FailureType]: T } = {
  BadRequest: 'BadRequest',
  Unauthorized: 'Unauthorized',
  NotFound: 'NotFound',
  QuotaExceeded: 'QuotaExceeded',
  RateLimited: 'RateLimited',
  PayloadTooLarge: 'PayloadTooLarge',
  ContextTooLarge: 'ContextTooLarge',
  LlmUnavailable: 'LlmUnavailable',
  Cancelled: 'Cancelled',
  Overloaded: 'Overloaded',
  ModelNotFound: 'ModelNotFound',
  InvalidToolArguments: 'InvalidToolArguments',
  Conflict: 'Conflict',
  Internal: 'Internal',
  LlmTransient: 'LlmTransient',
  BillingUnavailable: 'BillingUnavailable',
  InvalidBillingRecord: 'InvalidBillingRecord',
  SummaryLlmFailed: 'SummaryLlmFailed',
  ToolUnavailable: 'ToolUnavailable',
  ToolInterrupted: 'ToolInterrupted',
  ToolTimedOut: 'ToolTimedOut',
  ToolFailed: 'ToolFailed',
  ToolResultTooLarge: 'ToolResultTooLarge',
};

/** Options of {@link failure}; `nonRetryable` defaults to false (Temporal retries it). */
export interface FailureOptions {
  readonly nonRetryable?: boolean;
  readonly details?: unknown[];
  readonly cause?: Error;
  /**
   * An expected outcome caused by the client (e.g. a chat into a missing session), not a
   * fault: the worker logs it at debug level instead of a warning with a stack trace.
   */
  readonly benign?: boolean;
}

/** An `ApplicationFailure` of a catalogued type: how activities and workflows raise failures. */
export function failure(
  type: FailureType,
  message: string,
  options: FailureOptions = {},
): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: options.nonRetryable ?? false,
    details: options.details,
    cause: options.cause,
    ...(options.benign ? { category: ApplicationFailureCategory.BENIGN } : {}),
  });
}

/**
 * The catalogued type of a failure, looking through the `ActivityFailure` wrapper that
 * regular activities' failures arrive in (local activities' non-retryable failures
 * arrive unwrapped). Undefined for anything else (cancellation, timeouts, bugs).
 */
export function failureType(err: unknown): FailureType | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure) || !cause.type) return undefined;
  return Object.prototype.hasOwnProperty.call(FAILURE_TYPES, cause.type)
    ? (cause.type as FailureType)
    : undefined;
}
