/**
 * The short steps of a chat request, run as local activities (they are fast and close
 * to the workflow, so they cost no extra round trip through the Temporal server).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Plan, PromptMessage, TokenUsage } from '../contracts/definitions';
import type { RequestEvent } from '../contracts/protocol';
import { systemPrompt, toPromptMessages, type StoredMessage } from '../lib/prompt';
import { countMessageTokens, modelInfo } from '../lib/tokens';
import { loadUserContext } from '../lib/users';
import type { ActivityDeps } from './deps';

export interface PrepareChatInput {
  requestId: string;
  userId: string;
  sessionId: string;
  content: string;
  model: string;
  maxHistoryMessages: number;
}

export interface PrepareChatOutput {
  messages: PromptMessage[];
}

export interface FinishChatInput {
  requestId: string;
  userId: string;
  sessionId: string;
  plan: Plan;
  model: string;
  content: string;
  usage: TokenUsage;
}

export interface FinishChatOutput {
  messageId: string;
  dailyUsed: number;
}

export interface EmitEventInput {
  userId: string;
  requestId: string;
  event: RequestEvent;
}

interface MessageRow {
  id: string;
  role: StoredMessage['role'];
  content: string;
  tool_calls: StoredMessage['toolCalls'];
  tool_call_id: string | null;
  tokens: number;
}

/** Creates the chat-step activities over their dependencies. */
export function createChatActivities(deps: ActivityDeps) {
  const { db, events } = deps;

  /** Stores the user's message (once) and builds the prompt for this request. */
  async function prepareChat(input: PrepareChatInput): Promise<PrepareChatOutput> {
    await events.append(input.userId, input.requestId, { type: 'status', state: 'pruning' });
    const owner = await db.query<{ user_id: string }>(
      'SELECT user_id FROM chat_sessions WHERE id = $1',
      [input.sessionId],
    );
    if (owner.rows[0]?.user_id !== input.userId) {
      throw ApplicationFailure.create({
        type: 'NotFound',
        message: 'session not found',
        nonRetryable: true,
      });
    }
    const { encoding } = modelInfo(input.model, deps.models);
    const tokens = countMessageTokens({ role: 'user', content: input.content }, encoding);
    const inserted = await db.query<{ id: string }>(
      `INSERT INTO chat_messages (session_id, request_id, message_key, role, content, tokens, model)
       VALUES ($1, $2, $3, 'user', $4, $5, $6)
       ON CONFLICT (message_key) DO UPDATE SET message_key = EXCLUDED.message_key
       RETURNING id`,
      [input.sessionId, input.requestId, `${input.requestId}:user`, input.content, tokens, input.model],
    );
    const userMessageId = inserted.rows[0]?.id;
    // The window ends at this request's own message: messages of later requests in
    // the same session never leak into this prompt, even on a retry.
    const { rows } = await db.query<MessageRow>(
      `SELECT id, role, content, tool_calls, tool_call_id, tokens FROM chat_messages
        WHERE session_id = $1 AND id <= $2 ORDER BY id DESC LIMIT $3`,
      [input.sessionId, userMessageId, input.maxHistoryMessages],
    );
    const history: StoredMessage[] = rows.reverse().map((r) => ({
      role: r.role,
      content: r.content,
      toolCalls: r.tool_calls,
      toolCallId: r.tool_call_id,
      tokens: r.tokens,
    }));
    const user = await loadUserContext(db, input.userId);
    return {
      messages: [
        { role: 'system', content: systemPrompt(user) },
        ...toPromptMessages(history),
      ],
    };
  }

  /** Stores the reply (once), records usage (once), then sends `usage` and `done`. */
  async function finishChat(input: FinishChatInput): Promise<FinishChatOutput> {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO chat_messages
         (session_id, request_id, message_key, role, content, tokens, tokens_estimated, model)
       VALUES ($1, $2, $3, 'assistant', $4, $5, $6, $7)
       ON CONFLICT (message_key) DO UPDATE SET message_key = EXCLUDED.message_key
       RETURNING id`,
      [
        input.sessionId,
        input.requestId,
        `${input.requestId}:assistant`,
        input.content,
        input.usage.completionTokens,
        input.usage.estimated,
        input.model,
      ],
    );
    const messageId = String(rows[0]?.id);
    const dailyUsed = await deps.usage.record(
      input.userId,
      input.sessionId,
      input.requestId,
      input.usage.totalTokens,
      deps.clock(),
    );
    const dailyLimit =
      input.plan === 'pro' ? deps.limits.proDailyTokens : deps.limits.freeDailyTokens;
    await events.append(input.userId, input.requestId, {
      type: 'usage',
      promptTokens: input.usage.promptTokens,
      completionTokens: input.usage.completionTokens,
      totalTokens: input.usage.totalTokens,
      quota: { dailyUsed, dailyLimit },
    });
    await events.append(input.userId, input.requestId, {
      type: 'done',
      messageId,
      content: input.content,
    });
    return { messageId, dailyUsed };
  }

  /** Writes one event to the request's stream (used by workflows for `error`). */
  async function emitEvent(input: EmitEventInput): Promise<void> {
    await events.append(input.userId, input.requestId, input.event);
  }

  return { prepareChat, finishChat, emitEvent };
}

