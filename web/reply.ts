/**
 * One reply being written: the frames of its request drawn into the conversation. The
 * Markdown is drawn again as text arrives, at most once per animation frame and less
 * often when drawing takes long, so a long reply costs a bounded share of the page's
 * time however many deltas it has (not one full render per delta).
 */
import type { ChatEvent, ChatHandle, StatusState } from '../client';
import { el, scrollDown } from './dom';
import { renderMarkdown } from './markdown';
import { bubble } from './messages';
import { renderQuota } from './topbar';
import { showProgress, showResult, toolCallView, type ToolView } from './tool-call';

const STATUS_TEXT: Record<StatusState, string> = {
  pruning: 'Preparing…',
  checking_quota: 'Checking quota…',
  calling_llm: 'Thinking…',
  running_tool: 'Running a tool…',
  summarizing: 'Summarising earlier messages…',
};

/** Drawing may take at most this share of the time while a reply streams in. */
const MAX_DRAW_SHARE = 0.25;

export class ReplyView {
  readonly reply = bubble('assistant', '');
  readonly text: HTMLElement;
  readonly state = el('span', { class: 'state' }, 'Sending…');
  /** Tool views by toolCallId and by taskId. */
  private readonly tools = new Map<string, ToolView>();
  private drawPending = false;
  private nextDrawAt = 0;
  /** How many times the Markdown was drawn (a page attribute, for tests and curious readers). */
  private draws = 0;

  constructor(private readonly handle: ChatHandle) {
    this.text = this.reply.querySelector<HTMLElement>('.text')!;
    this.reply.setAttribute('aria-busy', 'true');
    this.reply.append(this.state);
  }

  /** Draws one frame of the request. */
  onEvent(event: ChatEvent): void {
    switch (event.type) {
      case 'status':
        this.state.textContent = STATUS_TEXT[event.state];
        break;
      case 'delta':
        this.scheduleDraw();
        this.state.textContent = 'Writing…';
        break;
      case 'restart':
        this.scheduleDraw();
        this.state.textContent = 'The model was retried; starting the reply again…';
        break;
      case 'tool_call': {
        const tool = toolCallView(event);
        this.tools.set(event.toolCallId, tool);
        if (event.taskId) this.tools.set(event.taskId, tool);
        this.reply.before(tool.block);
        break;
      }
      case 'tool_progress': {
        const tool = this.tools.get(event.taskId);
        if (tool) showProgress(tool, event);
        break;
      }
      case 'tool_result': {
        const tool = this.tools.get(event.toolCallId);
        if (tool) showResult(tool, event);
        break;
      }
      case 'usage':
        renderQuota(event.quota.dailyUsed, event.quota.dailyLimit);
        break;
      default:
        break;
    }
  }

  /** Draws the final text (the `done` frame's, which is the whole reply). */
  finish(content: string): void {
    this.draw(content);
    this.state.remove();
  }

  private scheduleDraw(): void {
    if (this.drawPending) return;
    this.drawPending = true;
    const frame = () => {
      if (performance.now() < this.nextDrawAt) return void requestAnimationFrame(frame);
      this.drawPending = false;
      if (!this.handle.finished) this.draw(this.handle.text);
    };
    requestAnimationFrame(frame);
  }

  private draw(text: string): void {
    const started = performance.now();
    renderMarkdown(this.text, text);
    this.reply.dataset.draws = String(++this.draws);
    const took = performance.now() - started;
    this.nextDrawAt = started + took / MAX_DRAW_SHARE;
    scrollDown();
  }
}
