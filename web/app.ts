/**
 * The chat web app (docs/API.md "Web app"): plain TypeScript and DOM over the client
 * library. This file wires the screen's parts together and starts the app:
 * - sign-in.ts: the token from the printed link, the form, or last time;
 * - topbar.ts: the connection's state and the quota meter;
 * - sidebar.ts (+ session-menu.ts): the sessions, with rename and delete;
 * - conversation.ts: a session's messages and sending one; reply.ts draws the reply
 *   streaming in, tool-call.ts the tool calls, markdown.ts the Markdown, messages.ts
 *   the bubbles;
 * - notice.ts and plain-words.ts: every error in plain words.
 * state.ts holds what they share; dom.ts the page's elements.
 */
import { ui } from './dom';
import { newConversation, openSession, send } from './conversation';
import { initSidebar, refreshSessions } from './sidebar';
import { initialToken, showSignin, signIn, signOut } from './sign-in';
import { state } from './state';
import { refreshQuota, renderConnection } from './topbar';

initSidebar({ open: openSession, startNew: newConversation });

/** After sign-in: the connection's state, the sessions, the newest one open, the quota. */
async function opened(): Promise<void> {
  const client = state.client!;
  client.onState(renderConnection);
  renderConnection(client.state);
  await refreshSessions();
  const first = state.sessions[0];
  if (first) await openSession(first.sessionId);
  else newConversation();
  await refreshQuota();
  ui.input.focus();
}

ui.signinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = ui.tokenInput.value.trim();
  if (token) void signIn(token, opened);
});
ui.signout.addEventListener('click', () => signOut());
ui.newSession.addEventListener('click', newConversation);
ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const content = ui.input.value.trim();
  if (!content || state.running) return;
  ui.input.value = '';
  void send(content);
});
ui.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.composer.requestSubmit();
  }
});
ui.cancel.addEventListener('click', () => state.running?.cancel());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && state.running) state.running.cancel();
});
window.addEventListener('online', () => state.client?.connection.reconnectNow());

const token = initialToken();
if (token) void signIn(token, opened);
else showSignin();
