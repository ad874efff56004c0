/** Every error the app can meet, said in plain words (docs/API.md error codes). */
import { nextDailyReset, type ClientErrorCode } from '../client';

export interface ErrorLike {
  code: ClientErrorCode;
  message: string;
  retryAfter?: number;
}

/** "5 h 12 min", "3 min", "40 s". */
export function duration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** When the daily quota resets, e.g. "00:00 UTC, in 5 h 12 min". */
export function dailyResetText(now: Date = new Date()): string {
  return `00:00 UTC, in ${duration(nextDailyReset(now).getTime() - now.getTime())}`;
}

export function plainWords(err: ErrorLike, now: Date = new Date()): string {
  switch (err.code) {
    case 'quota_exceeded':
      if (/month/i.test(err.message)) {
        return 'You have used this month’s token quota. It resets on the 1st of next month at 00:00 UTC.';
      }
      return `You have used today’s token quota. It resets at ${dailyResetText(now)}.`;
    case 'rate_limited':
      return err.retryAfter !== undefined
        ? `You are sending messages too fast. Try again in ${duration(err.retryAfter * 1000)}.`
        : 'You are sending messages too fast. Wait a moment and try again.';
    case 'llm_unavailable':
      return 'The language model is unavailable right now. Please try again in a moment.';
    case 'overloaded':
      return err.retryAfter !== undefined
        ? `The service is busy right now. Try again in ${duration(err.retryAfter * 1000)}.`
        : 'The service is busy right now. Try again in a moment.';
    case 'context_too_large':
      return 'That message is too long for the model. Try a shorter one.';
    case 'payload_too_large':
      return 'That message is too large to send.';
    case 'cancelled':
      return 'The reply was cancelled.';
    case 'not_found':
      return 'This conversation no longer exists.';
    case 'unauthorized':
      return 'Your access token was refused (wrong or expired). Please sign in again.';
    case 'model_not_found':
      return 'That model is not offered here.';
    case 'bad_request':
      return `The server could not accept that: ${err.message}`;
    case 'conflict':
      return 'That was already decided otherwise.';
    case 'connection_closed':
      return 'The connection to the server was closed.';
    case 'internal':
      return 'Something went wrong on the server. Please try again.';
  }
}
