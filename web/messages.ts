/**
 * Message bubbles: the user's text as typed, the assistant's as Markdown, stored tool
 * results folded; a long message collapsed behind "Show more".
 */
import type { Message } from '../client';
import { el } from './dom';
import { renderMarkdown } from './markdown';
import { toolResultItem } from './tool-call';

/** A message longer than this (characters or lines) starts collapsed. */
const LONG_CHARS = 1500;
const LONG_LINES = 24;

export function historyItem(m: Message): HTMLLIElement {
  if (m.role === 'tool') return toolResultItem(m);
  const li = bubble(m.role, m.content);
  collapseIfLong(li, m.content);
  return li;
}

/** A bubble for `role` showing `text` (Markdown for the assistant). */
export function bubble(role: 'user' | 'assistant', text: string): HTMLLIElement {
  const body = el('div', { class: role === 'assistant' ? 'text markdown' : 'text' });
  if (role === 'assistant') renderMarkdown(body, text);
  else body.textContent = text;
  return el(
    'li',
    { class: `message ${role}` },
    el('span', { class: 'role' }, role === 'user' ? 'You' : 'Assistant'),
    body,
  );
}

/** Collapses a long message's bubble to its first lines, with a button to show it all. */
export function collapseIfLong(li: HTMLLIElement, text: string): void {
  if (text.length <= LONG_CHARS && text.split('\n').length <= LONG_LINES) return;
  const body = li.querySelector('.text');
  if (!body || li.querySelector(':scope > .more')) return;
  body.id ||= `message-${crypto.randomUUID()}`;
  li.classList.add('collapsed');
  const more = el(
    'button',
    { type: 'button', class: 'link more', 'aria-expanded': 'false', 'aria-controls': body.id },
    'Show more',
  );
  more.addEventListener('click', () => {
    const expanded = !li.classList.toggle('collapsed');
    more.textContent = expanded ? 'Show less' : 'Show more';
    more.setAttribute('aria-expanded', String(expanded));
  });
  li.append(more);
}
