/**
 * Failures that no retry can fix end the request at once instead of spinning until a
 * timeout: every activity runs through {@link withPermanentFailures}, which turns them
 * into non-retryable `ApplicationFailure`s of the error catalog (contracts/errors.ts).
 * Everything else (a connection refused, a timeout) stays retryable: Temporal retries it
 * within the proxy's budget, so a short Postgres or Redis outage is ridden out.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES, failure, type FailureType } from '../contracts/errors';
import { InvariantError } from '../lib/invariant';
import { ContextTooLargeError } from '../prompt/pruner';
import { SessionGoneError } from '../store/sessions';

/** True for an error Postgres answered with a SQLSTATE (pg's DatabaseError). */
function sqlState(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('severity' in err)) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function permanent(type: FailureType, message: string, cause: unknown): ApplicationFailure {
  return failure(type, message, {
    nonRetryable: true,
    cause: cause instanceof Error ? cause : undefined,
  });
}

/**
 * The non-retryable failure `err` should be, or undefined when a retry may help:
 * - SQLSTATE class 22 (data exception: text Postgres cannot store, a value out of
 *   range): the input is at fault, `BadRequest`;
 * - SQLSTATE class 23 (integrity constraint violation) and broken invariants: `Internal`;
 * - a message too large for the model: `ContextTooLarge`;
 * - a message stored into a session deleted meanwhile: `Cancelled` (the request is over).
 */
export function permanentFailure(err: unknown): ApplicationFailure | undefined {
  if (err instanceof ApplicationFailure) return undefined;
  const state = sqlState(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (state?.startsWith('22'))
    return permanent(FAILURE_TYPES.BadRequest, `the data cannot be stored: ${detail}`, err);
  if (state?.startsWith('23'))
    return permanent(FAILURE_TYPES.Internal, `a database constraint failed: ${detail}`, err);
  if (err instanceof InvariantError) return permanent(FAILURE_TYPES.Internal, detail, err);
  if (err instanceof ContextTooLargeError)
    return permanent(FAILURE_TYPES.ContextTooLarge, detail, err);
  if (err instanceof SessionGoneError)
    return permanent(FAILURE_TYPES.Cancelled, 'the session was deleted', err);
  return undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyActivity = (...args: any[]) => Promise<unknown>;

/** The same activities, each throwing {@link permanentFailure}s as non-retryable. */
export function withPermanentFailures<T extends Record<string, AnyActivity>>(activities: T): T {
  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw permanentFailure(err) ?? err;
      }
    };
  }
  return wrapped as T;
}
