/**
 * The chat request's side of tool calls, as local activities: validate a call and run
 * it when it is fast, announce it to the client (`tool_call`, `tool_result`), store the
 * assistant's tool-call message and each tool message so history replays correctly,
 * and count tool executions. Long-running tools run in `toolWorkflow` (see
 * activities/summarize-document.ts).
 */
import { TOOL_NAMES, toolMessageContent, type McpCallSpec, type ToolOutcome } from '../contracts/tool';
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
  | {
      kind: 'task';
      tool: string;
      args: Record<string, unknown>;
      /** Present for an MCP tool: how its task calls the server. */
      mcp?: McpCallSpec;
      /**
       * True when the call waits for the user's decision first: then nothing was
       * announced yet (`announceToolCall` does it once approved).
       */
      approval?: boolean;
    };

/** A call that becomes a task once approved: announced then. */
export type AnnounceToolCallInput = BeginToolCallInput;

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
export function argumentsForClient(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/**
 * Tool names from the LLM are free text: label metrics with known names only (a
 * built-in tool, or an MCP tool's name once the catalog resolved it: `known`).
 */
function metricName(tool: string, known = false): string {
  return known || isToolName(tool) ? tool : 'unknown';
}

/** What checking a call against the built-in tools and the MCP catalog found. */
type CheckedCall =
  | { ok: true; tool: string; args: Record<string, unknown>; longRunning: boolean; mcp?: McpCallSpec; approval?: boolean }
  | { ok: false; error: string };

/** Parses a call's JSON arguments into an object, or says why it cannot. */
function parseArguments(name: string, raw: string): Record<string, unknown> | string {
  try {
    const value: unknown = raw.trim() === '' ? {} : JSON.parse(raw);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    return `invalid arguments for ${name}: not a JSON object`;
  } catch {
    return `invalid arguments for ${name}: not valid JSON`;
  }
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

  function record(tool: string, status: ToolExecutionStatus, seconds: number, known = false): void {
    toolExecutionsTotal.inc({ tool_name: metricName(tool, known), status });
    toolDuration.observe({ tool_name: metricName(tool, known) }, seconds);
  }

  /**
   * Checks a call: a built-in tool against its schema, an MCP tool (`<server>__<tool>`)
   * against the catalog (its server up, its input schema), with the server's rules for
   * approval and retries.
   */
  async function checkCall(name: string, raw: string): Promise<CheckedCall> {
    if (isToolName(name) || !name.includes('__')) {
      const checked = validateToolCall(name, raw);
      if (checked.ok || isToolName(name)) return checked;
    }
    const ref = await deps.mcpCatalog.find(name);
    if (!ref) {
      const names = [...TOOL_NAMES, ...(await deps.mcpCatalog.liveTools()).map((t) => t.name)];
      const shown = names.slice(0, 30).join(', ') + (names.length > 30 ? ', ...' : '');
      return { ok: false, error: `unknown tool "${name.slice(0, 100)}"; available tools: ${shown}` };
    }
    if (ref.status.status !== 'up') {
      return { ok: false, error: `the MCP server "${ref.server.name}" is unavailable right now; try again later` };
    }
    const args = parseArguments(name, raw);
    if (typeof args === 'string') return { ok: false, error: args };
    const problem = deps.mcpCatalog.check(ref, args);
    if (problem) return { ok: false, error: `invalid arguments for ${name}: ${problem}` };
    const policy = deps.mcpCatalog.policy(ref);
    return {
      ok: true,
      tool: name,
      args,
      longRunning: true,
      mcp: { server: ref.server.name, tool: ref.tool.tool, retryable: policy.retryable, timeoutS: ref.server.timeoutS },
      approval: policy.approval,
    };
  }

  /** Tells the client a task starts: `status`, `tool_call` with its task id, `queued` progress. */
  async function announceToolCall(input: AnnounceToolCallInput): Promise<void> {
    const { call } = input;
    await append(input, { type: 'status', state: 'running_tool', detail: call.function.name });
    await append(input, {
      type: 'tool_call',
      toolCallId: call.id,
      name: call.function.name,
      arguments: argumentsForClient(call.function.arguments),
      taskId: input.taskId,
    });
    // Progress starts now, not when a tools worker first picks the task up.
    await append(input, {
      type: 'tool_progress',
      taskId: input.taskId,
      progress: 0,
      message: 'queued',
      emittedAt: deps.clock().toISOString(),
    });
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
      ...(input.outcome.result !== undefined ? { result: input.outcome.result } : {}),
      ...(input.outcome.ok ? {} : { error: input.outcome.error }),
      ...(input.outcome.detail ? { detail: input.outcome.detail } : {}),
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
    const checked = await checkCall(call.function.name, call.function.arguments);
    if (checked.ok && checked.longRunning) {
      const task = {
        kind: 'task' as const,
        tool: checked.tool,
        args: checked.args,
        ...(checked.mcp ? { mcp: checked.mcp } : {}),
      };
      if (checked.approval) return { ...task, approval: true };
      await announceToolCall(input);
      return task;
    }
    await append(input, {
      type: 'tool_call',
      toolCallId: call.id,
      name: call.function.name,
      arguments: argumentsForClient(call.function.arguments),
    });
    let outcome: ToolOutcome;
    if (!checked.ok) {
      outcome = { ok: false, error: checked.error };
      record(call.function.name, 'invalid', 0);
    } else {
      const started = performance.now();
      outcome = isToolName(checked.tool)
        ? runFastTool(checked.tool, checked.args)
        : { ok: false, error: `${checked.tool} is not a fast tool` };
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
    // Called by a tool workflow: its tool was resolved when the call began.
    record(input.tool, input.status, input.durationMs / 1000, true);
    return Promise.resolve();
  }

  return { beginToolCall, announceToolCall, finishToolCall, saveToolCalls, recordToolOutcome };
}
