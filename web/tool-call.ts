/**
 * A tool call inside the conversation: its name, its arguments and its result folded
 * (a `<details>` the user opens), a live progress bar for a long-running tool, and a
 * slot for actions on the call. web/reply.ts routes a request's frames here, keeping
 * each call's view by `toolCallId` (and `taskId`): a frame about a call waiting for the
 * user (Approve / Deny) finds its view there and fills `actions`, between the progress
 * bar and the outcome.
 */
import type { FrameOf, Message } from '../client';
import { el } from './dom';

/** Longest argument or result text put in the page; a 10 MB result is cut, not drawn. */
const MAX_SHOWN_CHARS = 20_000;
/** Length of the one-line preview beside "Result". */
const PREVIEW_CHARS = 80;

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

/** JSON as people read it (indented); strings as they are. */
function readable(value: unknown): string {
  const text =
    typeof value === 'string' ? value : (JSON.stringify(value, null, 2) ?? String(value));
  return text.length <= MAX_SHOWN_CHARS
    ? text
    : `${text.slice(0, MAX_SHOWN_CHARS)}\n… (${text.length - MAX_SHOWN_CHARS} more characters)`;
}

function oneLine(value: unknown): string {
  const text = (typeof value === 'string' ? value : (JSON.stringify(value) ?? '')).replace(
    /\s+/g,
    ' ',
  );
  return text.length <= PREVIEW_CHARS ? text : `${text.slice(0, PREVIEW_CHARS)}…`;
}

/** A folded block: `summary` always shown, `value` when opened. */
function folded(className: string, summary: string, value: unknown): HTMLDetailsElement {
  return el(
    'details',
    { class: className },
    el('summary', {}, summary),
    el('pre', {}, el('code', {}, readable(value))),
  );
}

/** The block for a `tool_call` frame. */
export function toolCallView(call: FrameOf<'tool_call'>): ToolView {
  const block = el(
    'li',
    { class: 'tool', 'data-tool': call.name },
    el('strong', {}, `Tool: ${call.name}`),
  );
  block.append(folded('arguments', 'Arguments', call.arguments));
  const view: ToolView = {
    block,
    actions: el('div', { class: 'tool-actions', hidden: '' }),
    outcome: el('div', { class: 'outcome' }),
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
  view.outcome.replaceChildren(
    result.ok
      ? folded('result', `Result: ${oneLine(result.result)}`, result.result)
      : el('span', { class: 'failed' }, `Failed: ${result.error ?? 'unknown error'}`),
  );
}

/** A stored tool message (history): its result, folded. */
export function toolResultItem(m: Message): HTMLLIElement {
  return el(
    'li',
    { class: 'tool' },
    folded('result', `Tool result: ${oneLine(m.content)}`, m.content),
  );
}
