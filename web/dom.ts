/** DOM helpers and the page's fixed elements (web/index.html), looked up once. */

/** A new element with attributes (`class` sets className) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
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

/** The elements of index.html the app fills in or listens to. */
export const ui = {
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

/** Keeps the newest message in view. */
export function scrollDown(): void {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}
