/**
 * The chat request's side of tool calls, as local activities: validate a call and run
 * it when it is fast, announce it to the client (`tool_call`, `tool_result`), store the
 * assistant's tool-call message and each tool message so history replays correctly,
 * and count tool executions. Long-running tools run in `toolWorkflow` (see
 * activities/summarize-document.ts).
 */
import { toolMessageContent, type ToolName, type ToolOutcome } from '../contracts/tool';
import type { LlmToolCall, PromptMessage } from '../contracts/common';
import type { RequestEvent } from '../contracts/protocol';
import { insertMessage, type MessageRole } from '../store/messages';
import { toolDuration, toolExecutionsTotal } from '../lib/metrics';
import { countMessageTokens, modelInfo } from '../prompt/tokens';
import { isToolName, runFastTool, validateToolCall } from '../tools/registry';
import type { ActivityDeps } from './deps';

export type { ToolOutcome } from '../contracts/tool';

/** How a tool execution ended, as `tool_executions_total{status}` counts it. */
export type ToolExecutionStatus = 'ok' | 'error' | 'invalid' | 'cancelled';

interface CallContext {
  userId: string;
  requestId: string;
  sessionId: string;
  model: string;
  call: LlmToolCall;
}

export interface BeginToolCallInput extends CallContext {
  /** The task id the call gets if its tool is long-running. */
  taskId: string;
}

export type BeginToolCallOutput =
  | { kind: 'done'; outcome: ToolOutcome }
  | { kind: 'task'; tool: ToolName; args: Record<string, unknown> };

export interface FinishToolCallInput extends CallContext {
  taskId?: string;
  outcome: ToolOutcome;
}

export interface SaveToolCallsInput {
  requestId: string;
  sessionId: string;
  model: string;
  round: number;
  message: PromptMessage;
}

export interface RecordToolOutcomeInput {
  tool: string;
  status: ToolExecutionStatus;
  durationMs: number;
}

/** The arguments as the client sees them: parsed JSON, or the raw text when not JSON. */
function argumentsForClient(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** Tool names from the LLM are free text: label metrics with known names only. */
function metricName(tool: string): string {
  return isToolName(tool) ? tool : 'unknown';
}

/** Creates the tool-call activities over their dependencies. */
export function createToolActivities(deps: ActivityDeps) {
  const { db, events } = deps;

  const append = (c: { userId: string; requestId: string }, event: RequestEvent) =>
    events.append(c.userId, c.requestId, event);

  /**
   * Stores one message once (the key makes retries no-ops). A session deleted meanwhile
   * ends the request `cancelled`, not retried (store/messages.ts, activities/failures.ts).
   */
  async function storeMessage(
    c: { sessionId: string; requestId: string; model: string },
    key: string,
    message: PromptMessage & { role: MessageRole },
  ): Promise<void> {
    const { encoding } = modelInfo(c.model, deps.models);
    await insertMessage(db, {
      sessionId: c.sessionId,
      requestId: c.requestId,
      key,
      role: message.role,
      content: message.content ?? '',
      toolCalls: message.tool_calls,
      toolCallId: message.tool_call_id,
      tokens: countMessageTokens(message, encoding),
      model: c.model,
    });
  }

  function record(tool: string, status: ToolExecutionStatus, seconds: number): void {
    toolExecutionsTotal.inc({ tool_name: metricName(tool), status });
    toolDuration.observe({ tool_name: metricName(tool) }, seconds);
  }

  /** Stores the tool's message, then tells the client the outcome. */
  async function finishToolCall(input: FinishToolCallInput): Promise<void> {
    await storeMessage(input, `${input.requestId}:tool:${input.call.id}`, {
      role: 'tool',
      content: toolMessageContent(input.outcome),
      tool_call_id: input.call.id,
    });
    await append(input, {
      type: 'tool_result',
      toolCallId: input.call.id,
      ...(input.taskId ? { taskId: input.taskId } : {}),
      ok: input.outcome.ok,
      ...(input.outcome.ok ? { result: input.outcome.result } : { error: input.outcome.error }),
    });
  }

  /**
   * Validates a tool call and announces it. A fast tool (or a call that is invalid or
   * names no known tool) is settled here: `done` with its outcome, already stored and
   * sent. A long-running tool answers `task` with its validated arguments: the
   * workflow starts it as a task with the given id.
   */
  async function beginToolCall(input: BeginToolCallInput): Promise<BeginToolCallOutput> {
    const { call } = input;
    const checked = validateToolCall(call.function.name, call.function.arguments);
    const announced = {
      type: 'tool_call' as const,
      toolCallId: call.id,
      name: call.function.name,
      arguments: argumentsForClient(call.function.arguments),
    };
    if (checked.ok && checked.longRunning) {
      await append(input, { type: 'status', state: 'running_tool', detail: checked.tool });
      await append(input, { ...announced, taskId: input.taskId });
      // Progress starts now, not when a tools worker first picks the task up.
      await append(input, {
        type: 'tool_progress',
        taskId: input.taskId,
        progress: 0,
        message: 'queued',
        emittedAt: deps.clock().toISOString(),
      });
      return { kind: 'task', tool: checked.tool, args: checked.args };
    }
    await append(input, announced);
    let outcome: ToolOutcome;
    if (!checked.ok) {
      outcome = { ok: false, error: checked.error };
      record(call.function.name, 'invalid', 0);
    } else {
      const started = performance.now();
      outcome = runFastTool(checked.tool, checked.args);
      record(checked.tool, outcome.ok ? 'ok' : 'error', (performance.now() - started) / 1000);
    }
    await finishToolCall({ ...input, taskId: undefined, outcome });
    return { kind: 'done', outcome };
  }

  /** Stores the assistant message that asked for tools (before any tool message). */
  async function saveToolCalls(input: SaveToolCallsInput): Promise<void> {
    await storeMessage(input, `${input.requestId}:assistant:${input.round}`, {
      ...input.message,
      role: 'assistant',
    });
  }

  /** Counts one finished long-running tool execution (called once by its workflow). */
  function recordToolOutcome(input: RecordToolOutcomeInput): Promise<void> {
    record(input.tool, input.status, input.durationMs / 1000);
    return Promise.resolve();
  }

  return { beginToolCall, finishToolCall, saveToolCalls, recordToolOutcome };
}
