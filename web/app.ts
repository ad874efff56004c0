/**
 * The chat web app (docs/API.md "Web app"): plain TypeScript and DOM over the client
 * library. Sign in with a token (`/#token=...` or the form), a sidebar of sessions
 * (new, rename, delete), the conversation with the reply streaming in, tool calls
 * inline with a live progress bar, a quota meter, a cancel button, the connection's
 * state, and every error in plain words.
 */
import {
  ChatApiError,
  ChatClient,
  type ChatEvent,
  type ChatHandle,
  type ConnectionState,
  type Message,
  type Session,
  type StatusState,
} from '../client';
import { dailyResetText, plainWords, type ErrorLike } from './plain-words';

const TOKEN_KEY = 'durable-chat.token';

const STATUS_TEXT: Record<StatusState, string> = {
  pruning: 'Preparing…',
  checking_quota: 'Checking quota…',
  calling_llm: 'Thinking…',
  running_tool: 'Running a tool…',
  awaiting_approval: 'Waiting for your approval…',
  summarizing: 'Summarising earlier messages…',
};

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} missing from index.html`);
  return node as T;
}

const ui = {
  signin: byId('signin'),
  signinForm: byId<HTMLFormElement>('signin-form'),
  tokenInput: byId<HTMLInputElement>('token-input'),
  signinError: byId('signin-error'),
  app: byId('app'),
  connection: byId('connection'),
  quotaMeter: byId<HTMLMeterElement>('quota-meter'),
  quotaText: byId('quota-text'),
  signout: byId<HTMLButtonElement>('signout'),
  newSession: byId<HTMLButtonElement>('new-session'),
  sessions: byId<HTMLUListElement>('sessions'),
  title: byId('session-title'),
  messages: byId<HTMLOListElement>('messages'),
  notice: byId('notice'),
  composer: byId<HTMLFormElement>('composer'),
  input: byId<HTMLTextAreaElement>('composer-input'),
  send: byId<HTMLButtonElement>('send'),
  cancel: byId<HTMLButtonElement>('cancel'),
};

let client: ChatClient | undefined;
let sessions: Session[] = [];
let current: string | undefined;
let running: ChatHandle | undefined;

// ---- sign in -------------------------------------------------------------------------

function tokenFromLink(): string | undefined {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (!token) return undefined;
  // Keep the token out of the address bar (and of anything that copies it).
  history.replaceState(null, '', location.pathname + location.search);
  return token;
}

async function signIn(token: string): Promise<void> {
  const candidate = new ChatClient({ baseUrl: location.origin, token });
  try {
    await candidate.me();
  } catch (err) {
    showSignin(err instanceof ChatApiError ? plainWords(err) : 'Cannot reach the server.');
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  client = candidate;
  ui.signin.hidden = true;
  ui.app.hidden = false;
  client.onState(renderConnection);
  renderConnection(client.state);
  await refreshSessions();
  const first = sessions[0];
  if (first) await openSession(first.sessionId);
  else newConversation();
  await refreshQuota();
  ui.input.focus();
}

function showSignin(error = ''): void {
  client?.close();
  client = undefined;
  ui.app.hidden = true;
  ui.signin.hidden = false;
  ui.signinError.textContent = error;
  ui.tokenInput.focus();
}

function signOut(): void {
  localStorage.removeItem(TOKEN_KEY);
  showSignin();
}

// ---- errors, connection, quota -------------------------------------------------------

function showNotice(text: string | undefined): void {
  ui.notice.textContent = text ?? '';
  ui.notice.hidden = !text;
}

/** Shows a failure in plain words; a refused token goes back to sign-in. */
function fail(err: unknown): void {
  if (err instanceof ChatApiError) return failWith(err);
  showNotice(`Something went wrong: ${String(err)}`);
}

function failWith(err: ErrorLike): void {
  if (err.code === 'unauthorized') {
    localStorage.removeItem(TOKEN_KEY);
    showSignin(plainWords(err));
    return;
  }
  showNotice(plainWords(err));
}

function renderConnection(state: ConnectionState): void {
  ui.connection.textContent = CONNECTION_TEXT[state];
  ui.connection.classList.toggle('ok', state === 'open');
  ui.connection.dataset.state = state;
}

function renderQuota(used: number, limit: number): void {
  ui.quotaMeter.max = Math.max(limit, 1);
  ui.quotaMeter.value = Math.min(used, limit);
  ui.quotaMeter.dataset.used = String(used);
  ui.quotaText.textContent = `${used.toLocaleString('en')} / ${limit.toLocaleString('en')} · resets ${dailyResetText()}`;
}

async function refreshQuota(): Promise<void> {
  if (!client) return;
  try {
    const usage = await client.usage(1);
    renderQuota(usage.quota.daily.used, usage.quota.daily.limit);
  } catch (err) {
    fail(err);
  }
}

// ---- sessions ------------------------------------------------------------------------

function titleOf(s: Session | undefined): string {
  return s?.title ?? 'New chat';
}

async function refreshSessions(): Promise<void> {
  if (!client) return;
  try {
    sessions = (await client.listSessions({ limit: 100 })).sessions;
  } catch (err) {
    return fail(err);
  }
  renderSessions();
}

function renderSessions(): void {
  ui.sessions.replaceChildren(...sessions.map(sessionItem));
  ui.title.textContent = titleOf(sessions.find((s) => s.sessionId === current));
}

function sessionItem(s: Session): HTMLLIElement {
  const title = titleOf(s);
  const open = el('button', { type: 'button', class: 'open', title }, title);
  if (s.sessionId === current) open.setAttribute('aria-current', 'true');
  open.addEventListener('click', () => void openSession(s.sessionId));
  const rename = el('button', { type: 'button', class: 'link', 'aria-label': `Rename “${title}”` }, 'Rename');
  const del = el('button', { type: 'button', class: 'link', 'aria-label': `Delete “${title}”` }, 'Delete');
  const li = el(
    'li',
    { class: s.sessionId === current ? 'current' : '', 'data-session-id': s.sessionId },
    open,
    el('span', { class: 'actions' }, rename, del),
  );
  rename.addEventListener('click', () => startRename(li, s));
  del.addEventListener('click', () => confirmDelete(li, s));
  return li;
}

function startRename(li: HTMLLIElement, s: Session): void {
  const input = el('input', { type: 'text', 'aria-label': 'New title', maxlength: '200', required: '' });
  input.value = s.title ?? '';
  const form = el(
    'form',
    {},
    input,
    el('button', { type: 'submit' }, 'Save'),
    el('button', { type: 'button', class: 'secondary' }, 'Cancel'),
  );
  const close = () => renderSessions();
  form.querySelector('button.secondary')?.addEventListener('click', close);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') close();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      try {
        await client?.renameSession(s.sessionId, input.value);
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
  li.replaceChildren(el('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm delete' }, `Delete “${titleOf(s)}”?`, yes, no));
  no.addEventListener('click', () => renderSessions());
  yes.addEventListener('click', () => {
    void (async () => {
      try {
        await client?.deleteSession(s.sessionId);
      } catch (err) {
        fail(err);
      }
      if (current === s.sessionId) newConversation();
      await refreshSessions();
      ui.newSession.focus();
    })();
  });
  no.focus();
}

function newConversation(): void {
  current = undefined;
  ui.messages.replaceChildren();
  showNotice(undefined);
  renderSessions();
  ui.input.focus();
}

async function openSession(sessionId: string): Promise<void> {
  if (!client) return;
  current = sessionId;
  showNotice(undefined);
  renderSessions();
  try {
    const history = await client.messages(sessionId, 200);
    if (current === sessionId) ui.messages.replaceChildren(...history.map(historyItem));
  } catch (err) {
    fail(err);
  }
  scrollDown();
}

// ---- the conversation ----------------------------------------------------------------

function historyItem(m: Message): HTMLLIElement {
  if (m.role === 'tool') {
    return el('li', { class: 'tool' }, el('strong', {}, 'Tool result '), el('code', {}, m.content));
  }
  return bubble(m.role, m.content);
}

function bubble(role: 'user' | 'assistant', text: string): HTMLLIElement {
  return el(
    'li',
    { class: `message ${role}` },
    el('span', { class: 'role' }, role === 'user' ? 'You' : 'Assistant'),
    el('span', { class: 'text' }, text),
  );
}

function scrollDown(): void {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function setRunning(handle: ChatHandle | undefined): void {
  running = handle;
  ui.cancel.hidden = !handle;
  ui.send.disabled = Boolean(handle);
}

async function send(content: string): Promise<void> {
  if (!client || running) return;
  showNotice(undefined);
  if (!current) {
    try {
      current = (await client.createSession()).sessionId;
    } catch (err) {
      return fail(err);
    }
  }
  const sessionId = current;
  ui.messages.append(bubble('user', content));
  const reply = bubble('assistant', '');
  reply.setAttribute('aria-busy', 'true');
  const text = reply.querySelector('.text')!;
  const state = el('span', { class: 'state' }, 'Sending…');
  reply.append(state);
  ui.messages.append(reply);
  scrollDown();
  void refreshSessions();

  const handle = client.chat({ sessionId, content });
  setRunning(handle);
  const tools = new Map<string, ToolView>();
  handle.on((event) => {
    if (current !== sessionId) return;
    onEvent(event, handle, { reply, text, state, tools });
    scrollDown();
  });
  const end = await handle.terminal;
  setRunning(undefined);
  reply.removeAttribute('aria-busy');
  reply.dataset.state = end.type;
  if (end.type === 'done') {
    text.textContent = end.content;
    state.remove();
  } else {
    state.textContent = end.code === 'cancelled' ? 'Cancelled.' : 'No reply.';
    if (current === sessionId) failWith(end);
  }
  await Promise.all([refreshSessions(), refreshQuota()]);
}

interface ToolView {
  block: HTMLLIElement;
  progress?: HTMLProgressElement;
  message?: HTMLElement;
  outcome: HTMLElement;
}

interface ReplyView {
  reply: HTMLLIElement;
  text: Element;
  state: HTMLElement;
  tools: Map<string, ToolView>;
}

function onEvent(event: ChatEvent, handle: ChatHandle, view: ReplyView): void {
  switch (event.type) {
    case 'status':
      view.state.textContent = STATUS_TEXT[event.state];
      break;
    case 'delta':
      view.text.textContent = handle.text;
      view.state.textContent = 'Writing…';
      break;
    case 'restart':
      view.text.textContent = handle.text;
      view.state.textContent = 'The model was retried; starting the reply again…';
      break;
    case 'tool_call': {
      const outcome = el('span', { class: 'outcome' });
      const block = el(
        'li',
        { class: 'tool', 'data-tool': event.name },
        el('strong', {}, `Tool: ${event.name} `),
        el('code', {}, shorten(JSON.stringify(event.arguments))),
      );
      const tool: ToolView = { block, outcome };
      if (event.taskId) {
        tool.progress = el('progress', { max: '100', 'aria-label': `${event.name} progress` });
        tool.progress.value = 0;
        tool.message = el('span', { class: 'progress-message' }, 'Starting…');
        block.append(el('div', {}, tool.progress, ' ', tool.message));
      }
      block.append(outcome);
      view.tools.set(event.toolCallId, tool);
      if (event.taskId) view.tools.set(event.taskId, tool);
      view.reply.before(block);
      break;
    }
    case 'tool_progress': {
      const tool = view.tools.get(event.taskId);
      if (tool?.progress) tool.progress.value = event.progress;
      if (tool?.message) tool.message.textContent = `${event.progress}% · ${event.message}`;
      break;
    }
    case 'tool_result': {
      const tool = view.tools.get(event.toolCallId);
      if (!tool) break;
      if (event.ok && tool.progress) {
        tool.progress.value = 100;
        if (tool.message) tool.message.textContent = '100% · done';
      }
      tool.outcome.textContent = event.ok
        ? `Result: ${shorten(typeof event.result === 'string' ? event.result : JSON.stringify(event.result))}`
        : `Failed: ${event.error ?? 'unknown error'}`;
      break;
    }
    case 'usage':
      renderQuota(event.quota.dailyUsed, event.quota.dailyLimit);
      break;
    default:
      break;
  }
}

function shorten(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

// ---- wiring ----------------------------------------------------------------------------

ui.signinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = ui.tokenInput.value.trim();
  if (token) void signIn(token);
});
ui.signout.addEventListener('click', signOut);
ui.newSession.addEventListener('click', newConversation);
ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const content = ui.input.value.trim();
  if (!content || running) return;
  ui.input.value = '';
  void send(content);
});
ui.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.composer.requestSubmit();
  }
});
ui.cancel.addEventListener('click', () => running?.cancel());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && running) running.cancel();
});
window.addEventListener('online', () => client?.connection.reconnectNow());

const initial = tokenFromLink() ?? localStorage.getItem(TOKEN_KEY) ?? undefined;
if (initial) void signIn(initial);
else showSignin();
