/**
 * The conversation step of a chat request: calls the LLM with the prompt and returns
 * the reply, with the usage of every LLM call it made added up.
 */
import type { ChatWorkflowInput, PromptMessage, TokenUsage } from '../contracts/definitions';
import { llmActivities } from './proxies';

export interface Reply {
  content: string;
  usage: TokenUsage;
}

/** Adds two usages; the sum is estimated when either part was. */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    estimated: a.estimated || b.estimated,
  };
}

export const NO_USAGE: TokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, estimated: false };

export async function converse(input: ChatWorkflowInput, messages: PromptMessage[]): Promise<Reply> {
  const llm = llmActivities(input.settings);
  const result = await llm.callLlm({
    requestId: input.requestId,
    userId: input.userId,
    model: input.model,
    messages,
    maxTokens: input.settings.maxCompletionTokens,
  });
  return { content: result.content, usage: addUsage(NO_USAGE, result.usage) };
}
