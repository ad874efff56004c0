/** Errors the API answers with, from the catalog in contracts/errors.ts. */
import type { Response } from 'express';
import { ERRORS, type ErrorCode, type ErrorSpec } from '../contracts/errors';

export class AppError extends Error {
  constructor(
    readonly spec: ErrorSpec,
    message: string = spec.message,
    readonly retryAfterSeconds?: number,
    /** The request field at fault, when one is (OpenAI's `param`). */
    readonly param?: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** Wraps anything thrown into an AppError; unknown failures become `internal`. */
export function toAppError(err: unknown): AppError {
  return err instanceof AppError ? err : new AppError(ERRORS.Internal);
}

/**
 * OpenAI's error `type` for a contract code, so OpenAI clients classify our errors as
 * they would OpenAI's (the SDKs map the HTTP status; `type` is for humans and logs).
 */
export function openAiErrorType(code: ErrorCode): string {
  switch (code) {
    case 'unauthorized':
      return 'authentication_error';
    case 'rate_limited':
      return 'rate_limit_error';
    case 'quota_exceeded':
      return 'insufficient_quota';
    case 'llm_unavailable':
    case 'overloaded':
    case 'internal':
      return 'server_error';
    default:
      return 'invalid_request_error';
  }
}

/**
 * The error body: the contract's `{error:{code, message}}`, plus OpenAI's `type` and
 * `param` (docs/API.md "OpenAI-compatible API"), so every door answers one shape.
 */
export function errorBody(err: AppError) {
  return {
    error: {
      code: err.spec.code,
      message: err.message,
      type: openAiErrorType(err.spec.code),
      param: err.param ?? null,
    },
  };
}

/** Sends the error body with the catalog's status (and Retry-After). */
export function sendError(res: Response, err: AppError): void {
  if (err.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  res.status(err.spec.status).json(errorBody(err));
}
