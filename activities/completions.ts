/**
 * The prompt of an OpenAI-compatible completion (docs/API.md "OpenAI-compatible API"),
 * the counterpart of `prepareChat` for requests that bring their own messages:
 * - stateless (no `X-Session-Id`): the client's messages are the conversation, trimmed
 *   oldest-first to the model's budget (prompt/conversation-trim.ts); nothing is stored;
 * - session: the client's messages are the session's new turn. They are stored (once),
 *   then the prompt is built exactly as on the WebSocket: system prompt, summary, the
 *   pruned window (prompt/pruner.ts). The client's system messages join the system prompt
 *   for this request only (they are not stored).
 */
import type { ChatSettings, CompletionRequest } from '../contracts/chat';
import type { PromptMessage } from '../contracts/common';
import { FAILURE_TYPES, failure } from '../contracts/errors';
import { trimConversation } from '../prompt/conversation-trim';
import { historyWindow, insertMessage, type MessageRole } from '../store/messages';
import { systemPrompt } from '../prompt/system-prompt';
import { ContextTooLargeError } from '../prompt/pruner';
import { countMessageTokens, modelInfo, REPLY_PRIMING_TOKENS } from '../prompt/tokens';
import type { ActivityDeps } from './deps';
import { contextTooLarge, sessionPrompt } from './session-prompt';
import type { PrepareChatOutput } from './chat';

export interface PrepareCompletionInput {
  requestId: string;
  userId: string;
  /** `''` when stateless. */
  sessionId: string;
  model: string;
  settings: ChatSettings;
  completion: CompletionRequest;
}

/** A client message that is stored (system messages join the system prompt instead). */
type StoredPromptMessage = PromptMessage & { role: MessageRole };

/** Creates the completion-prompt activity over its dependencies. */
export function createCompletionActivities(deps: ActivityDeps) {
  const { db, events } = deps;

  /**
   * Builds the prompt of a completion; stores the turn in session mode.
   *
   * The session's owner is not checked here: the OpenAI door checks it in the API, once
   * per request, before the request starts (api/chat.ts `startChat`), so an unknown or
   * foreign session is an HTTP 404 that never reaches a workflow. A session deleted after
   * that check ends the request `cancelled` when its turn is stored (store/messages.ts).
   */
  async function prepareCompletion(input: PrepareCompletionInput): Promise<PrepareChatOutput> {
    await events.append(input.userId, input.requestId, { type: 'status', state: 'pruning' });
    const model = modelInfo(input.model, deps.models);
    const { settings } = input;
    const budget =
      model.contextWindow - settings.maxCompletionTokens - settings.contextSafetyMargin;
    const messages = input.completion.messages;
    const tokensOf = (m: PromptMessage) => countMessageTokens(m, model.encoding);

    if (input.completion.stateless) {
      try {
        const trimmed = trimConversation(
          messages,
          (i) => tokensOf(messages[i] as PromptMessage),
          budget,
        );
        return {
          messages: trimmed.messages,
          promptTokens: trimmed.promptTokens,
          summaryDue: false,
          windowStartId: '0',
        };
      } catch (err) {
        if (err instanceof ContextTooLargeError) throw contextTooLarge(err.message);
        throw err;
      }
    }

    const user = await deps.userService.getContext(input.userId);
    const clientSystem = messages
      .filter((m) => m.role === 'system' && m.content)
      .map((m) => m.content);
    const system = [systemPrompt(user), ...clientSystem].join('\n\n');
    const systemTokens = countMessageTokens({ role: 'system', content: system }, model.encoding);
    const turn = messages.filter((m): m is StoredPromptMessage => m.role !== 'system');
    const last = turn.at(-1);
    if (!last)
      throw failure(FAILURE_TYPES.BadRequest, 'no message to answer', { nonRetryable: true });
    if (REPLY_PRIMING_TOKENS + systemTokens + tokensOf(last) > budget) {
      throw contextTooLarge(
        `the last message needs ${tokensOf(last)} tokens; ${input.model} leaves ${Math.max(0, budget - systemTokens - REPLY_PRIMING_TOKENS)} for it`,
      );
    }
    const lastId = await storeTurn(input, turn, tokensOf);
    const history = await historyWindow(db, input.sessionId, lastId, settings.maxHistoryMessages);
    return sessionPrompt(deps, {
      sessionId: input.sessionId,
      history,
      upToId: lastId,
      system,
      systemTokens,
      budget,
      settings,
    });
  }

  /**
   * Stores the turn's messages in order, once (keys from the user, request and position,
   * so a retried activity writes nothing new); returns the id of the last one.
   */
  async function storeTurn(
    input: PrepareCompletionInput,
    turn: readonly StoredPromptMessage[],
    tokensOf: (m: PromptMessage) => number,
  ): Promise<string> {
    const client = await db.connect();
    let lastId = '0';
    try {
      await client.query('BEGIN');
      for (const [i, m] of turn.entries()) {
        lastId = await insertMessage(client, {
          sessionId: input.sessionId,
          requestId: input.requestId,
          key: `${input.userId}:${input.requestId}:turn:${i}`,
          role: m.role,
          content: m.content ?? '',
          toolCalls: m.tool_calls,
          toolCallId: m.tool_call_id,
          tokens: tokensOf(m),
          model: input.model,
        });
      }
      await client.query('COMMIT');
      return lastId;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  return { prepareCompletion };
}
