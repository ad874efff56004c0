/**
 * Trims a client-supplied conversation (a stateless OpenAI-compatible completion,
 * docs/API.md "OpenAI-compatible API") to the model's prompt budget:
 * - the oldest messages go first;
 * - system messages are always kept, where they stand;
 * - an assistant message with tool calls and the tool results that answer it are kept
 *   or dropped together, and the prompt never starts on an orphaned tool result;
 * - the last message (with its tool-call group) is always kept: when it does not fit
 *   alone, {@link ContextTooLargeError}.
 * Pure: the caller counts tokens (prompt/tokens.ts) and decides the budget.
 */
import type { PromptMessage } from '../contracts/common';
import { ContextTooLargeError } from './pruner';
import { REPLY_PRIMING_TOKENS } from './tokens';

export interface TrimResult {
  messages: PromptMessage[];
  /** Prompt tokens of `messages` (reply priming included). */
  promptTokens: number;
  /** Messages left out. */
  dropped: number;
}

interface Group {
  /** Indexes into the input, ascending. */
  indexes: number[];
  tokens: number;
}

/**
 * Keeps the newest non-system groups that fit `budget` beside every system message.
 * `tokensOf(i)` is the prompt cost of message i (chat-format overhead included).
 */
export function trimConversation(
  messages: readonly PromptMessage[],
  tokensOf: (index: number) => number,
  budget: number,
): TrimResult {
  if (messages.length === 0) throw new Error('trimConversation: no messages');
  let fixed = REPLY_PRIMING_TOKENS;
  const groups: Group[] = [];
  messages.forEach((m, i) => {
    if (m.role === 'system') {
      fixed += tokensOf(i);
      return;
    }
    const last = groups.at(-1);
    const head = last ? messages[last.indexes[0] as number] : undefined;
    if (m.role === 'tool' && last && head?.role === 'assistant' && head.tool_calls?.length) {
      last.indexes.push(i);
      last.tokens += tokensOf(i);
      return;
    }
    groups.push({ indexes: [i], tokens: tokensOf(i) });
  });
  const newest = groups.at(-1);
  if (newest && fixed + newest.tokens > budget) {
    throw new ContextTooLargeError(
      `the last message needs ${fixed + newest.tokens} prompt tokens; the model allows ${budget}`,
    );
  }
  if (!newest && fixed > budget) {
    throw new ContextTooLargeError(
      `the system messages need ${fixed} prompt tokens; the model allows ${budget}`,
    );
  }
  let total = fixed + groups.reduce((n, g) => n + g.tokens, 0);
  let first = 0;
  while (first < groups.length - 1 && total > budget) {
    total -= (groups[first] as Group).tokens;
    first++;
  }
  // A leading tool result whose call was dropped (or never sent) is an orphan: dropped.
  while (first < groups.length - 1) {
    const g = groups[first] as Group;
    if (messages[g.indexes[0] as number]?.role !== 'tool') break;
    total -= g.tokens;
    first++;
  }
  const keep = new Set<number>();
  messages.forEach((m, i) => m.role === 'system' && keep.add(i));
  for (const g of groups.slice(first)) for (const i of g.indexes) keep.add(i);
  return {
    messages: messages.filter((_, i) => keep.has(i)),
    promptTokens: total,
    dropped: messages.length - keep.size,
  };
}
