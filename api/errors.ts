/** Errors the API answers with, from the catalog in contracts/errors.ts. */
import type { Response } from 'express';
import { ERRORS, type ErrorSpec } from '../contracts/errors';

export class AppError extends Error {
  constructor(
    readonly spec: ErrorSpec,
    message: string = spec.message,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** Wraps anything thrown into an AppError; unknown failures become `internal`. */
export function toAppError(err: unknown): AppError {
  return err instanceof AppError ? err : new AppError(ERRORS.Internal);
}

/** Sends `{error:{code,message}}` with the catalog's status (and Retry-After). */
export function sendError(res: Response, err: AppError): void {
  if (err.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  res.status(err.spec.status).json({ error: { code: err.spec.code, message: err.message } });
}
