/** Message bubbles: the user's and the assistant's text, stored tool results. */
import type { Message } from '../client';
import { el } from './dom';
import { toolResultItem } from './tool-call';

export function historyItem(m: Message): HTMLLIElement {
  if (m.role === 'tool') return toolResultItem(m);
  return bubble(m.role, m.content);
}

export function bubble(role: 'user' | 'assistant', text: string): HTMLLIElement {
  return el(
    'li',
    { class: `message ${role}` },
    el('span', { class: 'role' }, role === 'user' ? 'You' : 'Assistant'),
    el('span', { class: 'text' }, text),
  );
}
