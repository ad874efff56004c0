/**
 * The sidebar: the user's sessions, most recent first. Each title takes the row's whole
 * width (two lines before it is cut; the full title on hover); rename and delete sit in
 * a small menu behind the "⋯" button, and edit in place.
 */
import type { Session } from '../client';
import { el, ui } from './dom';
import { fail, showNotice } from './notice';
import { closeMenus, sessionMenu } from './session-menu';
import { state } from './state';

/** What the sidebar asks of the conversation: set by app.ts (the conversation imports us). */
export interface SidebarActions {
  open(sessionId: string): Promise<void>;
  startNew(): void;
}

let actions: SidebarActions = { open: () => Promise.resolve(), startNew: () => undefined };

export function initSidebar(a: SidebarActions): void {
  actions = a;
}

export function titleOf(s: Session | undefined): string {
  return s?.title ?? 'New chat';
}

/** Reloads the session list from the server and redraws it. */
export async function refreshSessions(): Promise<void> {
  if (!state.client) return;
  try {
    state.sessions = (await state.client.listSessions({ limit: 100 })).sessions;
  } catch (err) {
    return fail(err);
  }
  renderSessions();
}

/** Redraws the list (and the open conversation's title) from `state`. */
export function renderSessions(): void {
  closeMenus();
  ui.sessions.replaceChildren(...state.sessions.map(sessionItem));
  ui.title.textContent = titleOf(state.sessions.find((s) => s.sessionId === state.current));
}

function sessionItem(s: Session): HTMLLIElement {
  const title = titleOf(s);
  const current = s.sessionId === state.current;
  const open = el('button', { type: 'button', class: 'open', title }, title);
  if (current) open.setAttribute('aria-current', 'true');
  open.addEventListener('click', () => void actions.open(s.sessionId));
  const li = el('li', { class: current ? 'current' : '', 'data-session-id': s.sessionId }, open);
  li.append(
    ...sessionMenu(title, {
      rename: () => startRename(li, s),
      delete: () => confirmDelete(li, s),
    }),
  );
  return li;
}

function startRename(li: HTMLLIElement, s: Session): void {
  const input = el('input', {
    type: 'text',
    'aria-label': 'New title',
    maxlength: '200',
    required: '',
  });
  input.value = s.title ?? '';
  const cancel = el('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const form = el('form', {}, input, el('button', { type: 'submit' }, 'Save'), cancel);
  cancel.addEventListener('click', renderSessions);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') renderSessions();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      try {
        await state.client?.renameSession(s.sessionId, input.value);
        showNotice(undefined);
      } catch (err) {
        fail(err);
      }
      await refreshSessions();
    })();
  });
  li.replaceChildren(form);
  input.focus();
  input.select();
}

function confirmDelete(li: HTMLLIElement, s: Session): void {
  const yes = el('button', { type: 'button', class: 'danger' }, 'Delete');
  const no = el('button', { type: 'button', class: 'secondary' }, 'Keep');
  const question = `Delete “${titleOf(s)}”?`;
  li.replaceChildren(
    el(
      'div',
      { class: 'confirm', role: 'group', 'aria-label': 'Confirm delete' },
      question,
      yes,
      no,
    ),
  );
  no.addEventListener('click', renderSessions);
  yes.addEventListener('click', () => {
    void (async () => {
      try {
        await state.client?.deleteSession(s.sessionId);
      } catch (err) {
        fail(err);
      }
      if (state.current === s.sessionId) actions.startNew();
      await refreshSessions();
      ui.newSession.focus();
    })();
  });
  no.focus();
}
