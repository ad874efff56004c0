/**
 * The conversation: opening a session (its history), starting a new one, and sending a
 * message whose reply streams in (web/reply.ts) with a cancel button while it runs.
 */
import type { ChatHandle } from '../client';
import { scrollDown, ui } from './dom';
import { bubble, collapseIfLong, historyItem } from './messages';
import { fail, failWith, showNotice } from './notice';
import { ReplyView } from './reply';
import { refreshSessions, renderSessions } from './sidebar';
import { state } from './state';
import { refreshQuota } from './topbar';

export function newConversation(): void {
  state.current = undefined;
  ui.messages.replaceChildren();
  showNotice(undefined);
  renderSessions();
  ui.input.focus();
}

export async function openSession(sessionId: string): Promise<void> {
  if (!state.client) return;
  state.current = sessionId;
  showNotice(undefined);
  renderSessions();
  try {
    const history = await state.client.messages(sessionId, 200);
    if (state.current === sessionId) ui.messages.replaceChildren(...history.map(historyItem));
  } catch (err) {
    fail(err);
  }
  scrollDown();
}

function setRunning(handle: ChatHandle | undefined): void {
  state.running = handle;
  ui.cancel.hidden = !handle;
  ui.send.disabled = Boolean(handle);
}

/** Sends `content` in the open conversation (creating it first when new). */
export async function send(content: string): Promise<void> {
  const { client } = state;
  if (!client || state.running) return;
  showNotice(undefined);
  if (!state.current) {
    try {
      state.current = (await client.createSession()).sessionId;
    } catch (err) {
      return fail(err);
    }
  }
  const sessionId = state.current;
  const question = bubble('user', content);
  collapseIfLong(question, content);
  ui.messages.append(question);

  const handle = client.chat({ sessionId, content });
  const view = new ReplyView(handle);
  ui.messages.append(view.reply);
  scrollDown();
  void refreshSessions();
  setRunning(handle);
  handle.on((event) => {
    if (state.current !== sessionId) return;
    view.onEvent(event);
    scrollDown();
  });
  const end = await handle.terminal;
  setRunning(undefined);
  view.reply.removeAttribute('aria-busy');
  view.reply.dataset.state = end.type;
  if (end.type === 'done') {
    view.finish(end.content);
    collapseIfLong(view.reply, end.content);
  } else {
    view.state.textContent = end.code === 'cancelled' ? 'Cancelled.' : 'No reply.';
    if (state.current === sessionId) failWith(end);
  }
  await Promise.all([refreshSessions(), refreshQuota()]);
}
