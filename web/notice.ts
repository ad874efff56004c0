/** Errors in plain words, in the notice above the message box; a refused token signs out. */
import { ChatApiError } from '../client';
import { ui } from './dom';
import { plainWords, type ErrorLike } from './plain-words';
import { signOut } from './sign-in';

export function showNotice(text: string | undefined): void {
  ui.notice.textContent = text ?? '';
  ui.notice.hidden = !text;
}

/** Shows a failure in plain words; a refused token goes back to sign-in. */
export function fail(err: unknown): void {
  if (err instanceof ChatApiError) return failWith(err);
  showNotice(`Something went wrong: ${String(err)}`);
}

export function failWith(err: ErrorLike): void {
  if (err.code === 'unauthorized') return signOut(plainWords(err));
  showNotice(plainWords(err));
}
