/**
 * A broken invariant: data or state that should be impossible (a bug, corrupt rows).
 * No retry can fix it, so the activity wrapper (activities/failures.ts) turns it into a
 * non-retryable failure and the request ends with `internal` at once.
 */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}
