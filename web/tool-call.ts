/**
 * A tool call inside the conversation: its name and arguments, a live progress bar for
 * a long-running tool, its result, and a slot for actions on the call.
 */
import type { FrameOf, Message } from '../client';
import { el } from './dom';

export interface ToolView {
  block: HTMLLIElement;
  progress?: HTMLProgressElement;
  message?: HTMLElement;
  /**
   * Buttons that act on the call (e.g. Approve / Deny for a call awaiting the user's
   * decision): empty and hidden until something puts buttons in it.
   */
  actions: HTMLElement;
  outcome: HTMLElement;
}

function shorten(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** The block for a `tool_call` frame. */
export function toolCallView(call: FrameOf<'tool_call'>): ToolView {
  const block = el(
    'li',
    { class: 'tool', 'data-tool': call.name },
    el('strong', {}, `Tool: ${call.name} `),
    el('code', {}, shorten(JSON.stringify(call.arguments))),
  );
  const view: ToolView = {
    block,
    actions: el('div', { class: 'tool-actions', hidden: '' }),
    outcome: el('span', { class: 'outcome' }),
  };
  if (call.taskId) {
    view.progress = el('progress', { max: '100', 'aria-label': `${call.name} progress` });
    view.progress.value = 0;
    view.message = el('span', { class: 'progress-message' }, 'Starting…');
    block.append(el('div', {}, view.progress, ' ', view.message));
  }
  block.append(view.actions, view.outcome);
  return view;
}

export function showProgress(view: ToolView, progress: FrameOf<'tool_progress'>): void {
  if (view.progress) view.progress.value = progress.progress;
  if (view.message) view.message.textContent = `${progress.progress}% · ${progress.message}`;
}

export function showResult(view: ToolView, result: FrameOf<'tool_result'>): void {
  if (result.ok && view.progress) {
    view.progress.value = 100;
    if (view.message) view.message.textContent = '100% · done';
  }
  view.outcome.textContent = result.ok
    ? `Result: ${shorten(typeof result.result === 'string' ? result.result : JSON.stringify(result.result))}`
    : `Failed: ${result.error ?? 'unknown error'}`;
}

/** A stored tool message (history). */
export function toolResultItem(m: Message): HTMLLIElement {
  return el('li', { class: 'tool' }, el('strong', {}, 'Tool result '), el('code', {}, m.content));
}
