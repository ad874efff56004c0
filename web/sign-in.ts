/**
 * The sign-in screen: a token from the link `npm start` prints (`/#token=...`), from the
 * form, or remembered from last time; a refused token says why in plain words.
 */
import { ChatApiError, ChatClient } from '../client';
import { ui } from './dom';
import { plainWords } from './plain-words';
import { state } from './state';

const TOKEN_KEY = 'durable-chat.token';

/** The token of the page's address (removed from the address bar), else the remembered one. */
export function initialToken(): string | undefined {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (!token) return localStorage.getItem(TOKEN_KEY) ?? undefined;
  // Keep the token out of the address bar (and of anything that copies it).
  history.replaceState(null, '', location.pathname + location.search);
  return token;
}

/** Checks the token with the server; when accepted, shows the app and runs `opened`. */
export async function signIn(token: string, opened: () => Promise<void>): Promise<void> {
  const candidate = new ChatClient({ baseUrl: location.origin, token });
  try {
    await candidate.me();
  } catch (err) {
    showSignin(err instanceof ChatApiError ? plainWords(err) : 'Cannot reach the server.');
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  state.client = candidate;
  ui.signin.hidden = true;
  ui.app.hidden = false;
  await opened();
}

/** Back to the sign-in form (closing the connection), with `error` shown under it. */
export function showSignin(error = ''): void {
  state.client?.close();
  state.client = undefined;
  ui.app.hidden = true;
  ui.signin.hidden = false;
  ui.signinError.textContent = error;
  ui.tokenInput.focus();
}

/** Forgets the token: a refused one, or the user signing out. */
export function signOut(error = ''): void {
  localStorage.removeItem(TOKEN_KEY);
  showSignin(error);
}
