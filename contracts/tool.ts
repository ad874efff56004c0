/**
 * Tools (docs/SPEC.md "P2") and the tool workflow's contract (workflows/tool.ts): fast
 * tools run inside the chat request; long-running ones run as their own `toolWorkflow` on
 * the tools task queue, a child of the chat workflow.
 */
import { defineQuery } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { TaskQueues, TokenUsage } from './common';

/** Every tool the LLM is offered. The registry (tools/registry.ts) defines each one. */
export const TOOL_NAMES = ['calculator', 'summarize_document'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** A tool call's outcome as the client (`tool_result`) and the LLM (`tool` message) see it. */
export interface ToolOutcome {
  ok: boolean;
  result?: unknown;
  /**
   * Why it failed. `denied`, `expired` and `interrupted` are codes (docs/API.md
   * "Approving tool calls", "Tools from MCP servers"), explained in `detail`.
   */
  error?: string;
  /** More about the error for the LLM and the user (a denial's reason). */
  detail?: string;
}

/**
 * The `tool` message content the LLM reads: the result as JSON, or `{"error": ...}`
 * (with the detail, and the result of an MCP call the server marked `isError`).
 */
export function toolMessageContent(outcome: ToolOutcome): string {
  if (outcome.ok) return JSON.stringify(outcome.result ?? null);
  return JSON.stringify({
    error: outcome.error,
    ...(outcome.detail ? { detail: outcome.detail } : {}),
    ...(outcome.result !== undefined ? { result: outcome.result } : {}),
  });
}

/** Most LLM rounds that may end in tool calls per request; the next round gets no tools. */
export const MAX_TOOL_ROUNDS = 5;

/**
 * The id of a long-running tool's workflow, which is also the client's `taskId`.
 * Derived from the user, the request and the LLM's tool call id, so a replayed or
 * retried chat workflow finds the same task instead of starting a second one, and two
 * users sending the same (client-chosen) requestId never share a task.
 */
export function toolWorkflowId(userId: string, requestId: string, toolCallId: string): string {
  return `tool-${userId}-${requestId}-${toolCallId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}`;
}

/**
 * The task id chat workflows started before task ids held the user used
 * (`tool-<requestId>-<toolCallId>`); kept so their replays start the same child.
 */
export function legacyToolWorkflowId(requestId: string, toolCallId: string): string {
  return `tool-${requestId}-${toolCallId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}`;
}

/** Search attributes of tool workflows (Temporal UI: `ToolName = 'summarize_document'`). */
export const TOOL_NAME_SEARCH_ATTRIBUTE = defineSearchAttributeKey(
  'ToolName',
  SearchAttributeType.KEYWORD,
);

export type ToolStatus = 'running' | 'completed' | 'failed' | 'cancelled';

/** A task as `GET /v1/tasks/:taskId` answers it (docs/API.md). */
export interface ToolState {
  taskId: string;
  tool: string;
  status: ToolStatus;
  /** 0-100. */
  progress: number;
  message: string;
  result?: unknown;
  error?: string;
}

/** Where a long-running tool is: answered by the tool workflow, running or closed. */
export const toolStateQuery = defineQuery<ToolState>('toolState');

/** The memo of a tool workflow: who owns the task (ids only, no personal data). */
export interface ToolTaskMemo {
  userId: string;
  requestId: string;
  toolCallId: string;
}

/** What a tool's heartbeat carries; `checkpoint` lets a retried attempt resume. */
export interface ToolHeartbeat<C = unknown> {
  progress: number;
  message: string;
  checkpoint: C;
}

/**
 * An MCP call as its `toolWorkflow` runs it (docs/API.md "Tools from MCP servers"),
 * decided when the call began: which server and tool, whether a call interrupted by a
 * worker's death may run again, and its time limit.
 */
export interface McpCallSpec {
  server: string;
  /** The server's own name for the tool (the LLM sees `<server>__<tool>`). */
  tool: string;
  retryable: boolean;
  timeoutS: number;
}

export interface ToolWorkflowInput {
  taskId: string;
  /** A long-running tool's name, or an MCP tool's `<server>__<tool>`. */
  tool: string;
  /** Present for an MCP tool. */
  mcp?: McpCallSpec;
  /** Arguments already validated against the tool's schema. */
  args: Record<string, unknown>;
  userId: string;
  requestId: string;
  sessionId: string;
  toolCallId: string;
  model: string;
  taskQueues: TaskQueues;
}

export interface ToolWorkflowResult {
  result: unknown;
  /** False when the tool answered an error as its result (MCP `isError`); absent = true. */
  ok?: boolean;
  /** LLM tokens the tool spent (added to the request's usage). */
  usage: TokenUsage;
}
