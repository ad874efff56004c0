/**
 * The short steps of a chat request, run as local activities (they are fast and close
 * to the workflow, so they cost no extra round trip through the Temporal server).
 */
import type { ChatMethod, ChatSettings } from '../contracts/chat';
import type { LlmToolCall, PromptMessage, TokenUsage } from '../contracts/common';
import type { UsageRecord } from '../contracts/billing';
import { FAILURE_TYPES, failure } from '../contracts/errors';
import type { RequestEvent } from '../contracts/protocol';
import { lostTextRecovery } from '../store/event-log';
import type { Queryable } from '../store/db';
import { InvariantError } from '../lib/invariant';
import { historyWindow, insertMessage } from '../store/messages';
import { systemPrompt } from '../prompt/system-prompt';
import { countMessageTokens, modelInfo, REPLY_PRIMING_TOKENS } from '../prompt/tokens';
import { ownsSession } from '../store/sessions';
import { insertUsage } from '../usage/ledger';
import type { ActivityDeps } from './deps';
import { sessionPrompt } from './session-prompt';

export interface PrepareChatInput {
  requestId: string;
  userId: string;
  sessionId: string;
  content: string;
  model: string;
  settings: ChatSettings;
}

export interface PrepareChatOutput {
  messages: PromptMessage[];
  /** Prompt tokens of `messages`, counted with the model's encoding. */
  promptTokens: number;
  /** True when older turns should now be summarised (asynchronously). */
  summaryDue: boolean;
  /**
   * The first message of this prompt's window: a summarisation this request starts
   * folds exactly the messages before it (see {@link SummarizeWorkflowInput.foldBefore}).
   */
  windowStartId: string;
}

/** The reply step: the reply, and the request's ledger row when it used tokens. */
export interface SaveReplyInput {
  requestId: string;
  userId: string;
  sessionId: string;
  model: string;
  content: string;
  usage: TokenUsage;
  /** False for a stateless completion: nothing is stored, `done` has messageId `''`. */
  store?: boolean;
  /** A completion's client tool calls: stored with the reply and sent in `done`. */
  toolCalls?: LlmToolCall[];
  /** The LLM's finish reason, sent in `done` (OpenAI-compatible API). */
  finishReason?: string;
  /** Counted in `chat_requests_total{method}` with the terminal event. */
  method?: ChatMethod;
  /**
   * A summary of the session's older turns starts after this step: `status: summarizing`
   * goes out just before `done` (nothing may follow a terminal event).
   */
  summarizing?: boolean;
  /** The usage record to write in the same transaction (absent: nothing to bill). */
  ledger?: UsageRecord;
}

export interface SaveReplyOutput {
  messageId: string;
}

export interface EmitEventInput {
  userId: string;
  requestId: string;
  event: RequestEvent;
  /** Counted in `chat_requests_total{method}` when the event is terminal. */
  method?: ChatMethod;
}

const SUMMARIZING: RequestEvent = {
  type: 'status',
  state: 'summarizing',
  detail: 'summarising earlier messages',
};

/** Creates the chat-step activities over their dependencies. */
export function createChatActivities(deps: ActivityDeps) {
  const { db, events } = deps;

  /**
   * Stores the user's message (once) and builds the pruned prompt for this request.
   * A message that cannot fit the model even alone is refused before anything is
   * stored or billed.
   *
   * A message whose session is deleted later in the request (the insert meets the
   * foreign key) ends the request `cancelled` (store/messages.ts, activities/failures.ts).
   */
  async function prepareChat(input: PrepareChatInput): Promise<PrepareChatOutput> {
    // The one ownership check of a WebSocket chat (docs/API.md "The session is checked
    // inside the request"): the API accepts chats without touching Postgres, so they
    // ride out a short outage. Before any event: a foreign session shows nothing.
    if (!(await ownsSession(db, input.userId, input.sessionId))) {
      // A client's mistake, not a fault: one line here, no stack trace from the worker.
      deps.logger.info('chat into a missing session', {
        sessionId: input.sessionId,
        requestId: input.requestId,
      });
      throw failure(FAILURE_TYPES.NotFound, 'session not found', {
        nonRetryable: true,
        benign: true,
      });
    }
    // Once per request: a retried attempt must not repeat what the client has seen.
    await events.append(
      input.userId,
      input.requestId,
      { type: 'status', state: 'pruning' },
      { once: 'pruning' },
    );
    const user = await deps.userService.getContext(input.userId);
    const { settings } = input;
    const model = modelInfo(input.model, deps.models);
    const system = systemPrompt(user);
    const systemTokens = countMessageTokens({ role: 'system', content: system }, model.encoding);
    const tokens = countMessageTokens({ role: 'user', content: input.content }, model.encoding);
    const budget =
      model.contextWindow - settings.maxCompletionTokens - settings.contextSafetyMargin;
    if (REPLY_PRIMING_TOKENS + systemTokens + tokens > budget) {
      throw failure(
        FAILURE_TYPES.ContextTooLarge,
        `the message needs ${tokens} tokens; ${input.model} leaves ${Math.max(0, budget - systemTokens - REPLY_PRIMING_TOKENS)} for it`,
        { nonRetryable: true },
      );
    }
    const userMessageId = await insertMessage(db, {
      sessionId: input.sessionId,
      requestId: input.requestId,
      key: `${input.requestId}:user`,
      role: 'user',
      content: input.content,
      tokens,
      model: input.model,
    });
    const history = await historyWindow(
      db,
      input.sessionId,
      userMessageId,
      settings.maxHistoryMessages,
    );
    const newest = history.at(-1);
    if (newest === undefined || newest.id !== userMessageId || newest.role !== 'user') {
      // The stored message is not this request's (it would prune someone else's turn).
      throw new InvariantError(
        `message ${userMessageId} is not the newest user message of the session`,
      );
    }
    return sessionPrompt(deps, {
      sessionId: input.sessionId,
      history,
      upToId: userMessageId,
      system,
      systemTokens,
      budget,
      settings,
    });
  }

  /** Inserts the assistant's reply (once per request); returns its message id. */
  function insertReply(q: Queryable, input: SaveReplyInput): Promise<string> {
    return insertMessage(q, {
      sessionId: input.sessionId,
      requestId: input.requestId,
      key: `${input.requestId}:assistant`,
      role: 'assistant',
      content: input.content,
      toolCalls: input.toolCalls,
      tokens: input.usage.completionTokens,
      tokensEstimated: input.usage.estimated,
      model: input.model,
    });
  }

  /** Sends the request's `done` (a completion's tool calls and finish reason with it). */
  async function sendDone(input: SaveReplyInput, messageId: string): Promise<void> {
    if (input.summarizing) {
      await events.append(input.userId, input.requestId, SUMMARIZING);
    }
    await events.append(
      input.userId,
      input.requestId,
      {
        type: 'done',
        messageId,
        content: input.content,
        ...(input.toolCalls?.length ? { toolCalls: input.toolCalls } : {}),
        ...(input.finishReason ? { finishReason: input.finishReason } : {}),
      },
      { method: input.method, ifLost: lostTextRecovery(input.content) },
    );
  }

  /**
   * The reply step: stores the reply (unless the request is stateless) and the
   * request's ledger row in one transaction (both idempotent: a retry changes nothing),
   * then sends `done`. Usage was settled (counters, `usage` event) just before, by the
   * workflow (workflows/usage.ts). When this step fails past its retries, the
   * workflow's failure path writes the ledger row or hands it to a billing workflow,
   * so usage reaches the ledger exactly once either way.
   */
  async function saveReply(input: SaveReplyInput): Promise<SaveReplyOutput> {
    const client = await db.connect();
    let messageId = '';
    let failed: Error | undefined;
    try {
      await client.query('BEGIN');
      if (input.store !== false) messageId = await insertReply(client, input);
      if (input.ledger) await insertUsage(client, input.ledger);
      await client.query('COMMIT');
    } catch (err) {
      failed = err instanceof Error ? err : new Error(String(err));
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      // A connection that failed mid-transaction is discarded, not reused.
      client.release(failed);
    }
    await sendDone(input, messageId);
    return { messageId };
  }

  /** Writes one event to the request's stream (used by workflows for `error`). */
  async function emitEvent(input: EmitEventInput): Promise<void> {
    await events.append(input.userId, input.requestId, input.event, { method: input.method });
  }

  return { prepareChat, saveReply, emitEvent };
}
