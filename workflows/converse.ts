/**
 * The conversation step of a chat request: the LLM tool loop. Each round calls the LLM
 * with the prompt (and the tools it may use); when it answers with tool calls, the
 * calls run (fast ones inline, long-running ones as child `toolWorkflow`s), their
 * results join the prompt as `tool` messages and the LLM is called again. After
 * `MAX_TOOL_ROUNDS` rounds of tool calls the LLM gets no tools, so it must answer. A call
 * that needs the user's approval waits for it in the round (workflows/approvals.ts).
 * Returns the final reply with the usage of every LLM call (tools' included) added up.
 */
import {
  addUsage,
  NO_USAGE,
  type LlmToolCall,
  type PromptMessage,
  type TokenUsage,
} from '../contracts/common';
import { MAX_TOOL_ROUNDS } from '../contracts/tool';
import type { ChatWorkflowInput } from '../contracts/chat';
import { fast, llmActivities } from './proxies';
import type { ApprovalDesk } from './approvals';
import { callLlmInput } from './steps';
import { runToolCalls } from './tool-calls';

export interface Reply {
  content: string;
  usage: TokenUsage;
}

/** Gives every call a usable, unique id (some providers may leave it empty). */
function normalizeCalls(calls: readonly LlmToolCall[], round: number): LlmToolCall[] {
  const seen = new Set<string>();
  return calls.map((c, i) => {
    let id = c.id;
    if (!id || seen.has(id)) id = `call_r${round}_${i}`;
    seen.add(id);
    return {
      id,
      type: 'function',
      function: { name: c.function.name, arguments: c.function.arguments },
    };
  });
}

/** What the chat workflow hooks into the conversation. */
export interface ConverseHooks {
  /** Hears each step's usage as soon as it is known. */
  onUsage?: (usage: TokenUsage) => void;
  /** Runs before every LLM call (the meter reserves quota again after an approval wait). */
  beforeLlm?: () => Promise<void>;
  /** Where tool calls that need the user's yes wait for it. */
  approvals?: ApprovalDesk;
}

/**
 * Talks with the LLM, running the tools it calls, until it gives its final reply.
 * `onUsage` hears each step's usage as soon as it is known, so a request that fails
 * after some LLM calls succeeded still bills them.
 */
export async function converse(
  input: ChatWorkflowInput,
  messages: PromptMessage[],
  hooks: ConverseHooks = {},
): Promise<Reply> {
  const onUsage = hooks.onUsage ?? (() => undefined);
  const llm = llmActivities(input.settings);
  const prompt = [...messages];
  let usage = NO_USAGE;
  for (let round = 0; ; round++) {
    const offerTools = round < MAX_TOOL_ROUNDS;
    await hooks.beforeLlm?.();
    // MCP servers' tools too when offered (as the catalog has them at this call).
    const result = await llm.callLlm(callLlmInput(input, prompt, round, offerTools));
    usage = addUsage(usage, result.usage);
    onUsage(result.usage);
    if (!offerTools || result.toolCalls.length === 0) return { content: result.content, usage };

    const calls = normalizeCalls(result.toolCalls, round);
    const asked: PromptMessage = {
      role: 'assistant',
      content: result.content || null,
      tool_calls: calls,
    };
    // Stored before any tool message so a later request's history replays in order.
    await fast.saveToolCalls({
      requestId: input.requestId,
      sessionId: input.sessionId,
      model: input.model,
      round,
      message: asked,
    });
    prompt.push(asked);
    const ran = await runToolCalls(input, calls, hooks.approvals);
    usage = addUsage(usage, ran.usage);
    onUsage(ran.usage);
    prompt.push(...ran.messages);
  }
}
