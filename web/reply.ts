/** One reply being written: the frames of its request drawn into the conversation. */
import type { ChatEvent, ChatHandle, StatusState } from '../client';
import { el } from './dom';
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

export class ReplyView {
  readonly reply = bubble('assistant', '');
  readonly text: HTMLElement;
  readonly state = el('span', { class: 'state' }, 'Sending…');
  /** Tool views by toolCallId and by taskId. */
  private readonly tools = new Map<string, ToolView>();

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
        this.text.textContent = this.handle.text;
        this.state.textContent = 'Writing…';
        break;
      case 'restart':
        this.text.textContent = this.handle.text;
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

  /** Shows the final text (the `done` frame's, which is the whole reply). */
  finish(content: string): void {
    this.text.textContent = content;
    this.state.remove();
  }
}
