/**
 * The conversation step of an OpenAI-compatible completion (docs/API.md
 * "OpenAI-compatible API"): one LLM call with the client's tools and sampling
 * parameters. Tool calls the LLM makes are the client's to run: they are returned
 * (`finish_reason: "tool_calls"`), never run here, and the server's own tools are not
 * offered. Retries, fencing and `restart` events are the LLM activity's, as on the
 * WebSocket chat.
 */
import type { ChatWorkflowInput, CompletionRequest } from '../contracts/chat';
import type { LlmToolCall, PromptMessage, TokenUsage } from '../contracts/common';
import { llmActivities } from './proxies';

export interface CompletionReply {
  content: string;
  usage: TokenUsage;
  toolCalls: LlmToolCall[];
  /** OpenAI's finish reason: `tool_calls` when there are calls, else the LLM's (`stop` default). */
  finishReason: string;
}

/** Calls the LLM once for a completion; `onUsage` hears the usage as soon as it is known. */
export async function converseForClient(
  input: ChatWorkflowInput,
  completion: CompletionRequest,
  messages: PromptMessage[],
  onUsage: (usage: TokenUsage) => void,
): Promise<CompletionReply> {
  const llm = llmActivities(input.settings);
  const cap = input.settings.maxCompletionTokens;
  const result = await llm.callLlm({
    requestId: input.requestId,
    userId: input.userId,
    model: input.model,
    messages,
    maxTokens: Math.min(completion.sampling.maxTokens ?? cap, cap),
    round: 0,
    ...(completion.tools?.length
      ? { clientTools: completion.tools, toolChoice: completion.toolChoice }
      : {}),
    sampling: completion.sampling,
  });
  onUsage(result.usage);
  const toolCalls = result.toolCalls.map((c, i) => ({ ...c, id: c.id || `call_${i}` }));
  const finishReason = toolCalls.length > 0 ? 'tool_calls' : (result.finishReason ?? 'stop');
  return { content: result.content, usage: result.usage, toolCalls, finishReason };
}
