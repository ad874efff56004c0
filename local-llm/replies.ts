/**
 * What the local LLM answers: a pure, deterministic function of the request and the
 * directives of its last user message (docs/API.md "The embedded local LLM").
 */
import type { TiktokenEncoding } from 'tiktoken';
import { countTextTokens } from '../prompt/tokens';
import type { Directives } from './directives';
import type { ChatMessage, ChatRequest } from './request';
import { fillerWords, fitToTokens, seededWords, sha256, truncateToTokens } from './text';

/** One tool call of a reply, in OpenAI's terms. */
export interface PlannedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** The reply, decided before anything is sent. */
export type PlannedReply =
  | { kind: 'text'; text: string; finishReason: 'stop' | 'length'; completionTokens: number }
  | { kind: 'tool_calls'; calls: PlannedToolCall[]; completionTokens: number };

/** Words of the user's message echoed by the default reply. */
const ECHO_WORDS = 8;
const ECHO_MAX_CHARS = 80;
/** Words of the content a summary keeps. */
const SUMMARY_WORDS = 12;
/** A tool result is quoted up to this many characters. */
const TOOL_RESULT_MAX_CHARS = 8_000;
/** Asks for a summary: the verb (summarise/summarize/summarising...), not "summary". */
const SUMMARY_REQUEST_RE = /summari[sz]/i;

/** The first `max` whitespace-separated words of `text`, with "..." when cut. */
function firstWords(text: string, max: number, maxChars: number): string {
  const words = text.split(/\s+/).filter((w) => w !== '');
  const kept = words.slice(0, max).join(' ');
  const out = kept.slice(0, maxChars);
  return words.length > max || out.length < kept.length ? `${out}...` : out;
}

/** The default answer: `(messages: N)`, an echo of the user, a few seeded words. */
export function defaultReplyText(messageCount: number, userText: string, seed: string): string {
  const echo = firstWords(userText, ECHO_WORDS, ECHO_MAX_CHARS);
  const words = seededWords(seed, 3, fillerWords('o200k_base')).join(', ');
  const said = echo === '' ? 'You said nothing.' : `You said: ${echo}`;
  return `(messages: ${messageCount}) ${said} Noted: ${words}.`;
}

/** Text of the messages before `upTo` that are neither system nor tool messages. */
function conversationText(messages: readonly ChatMessage[], upTo: number): string {
  return messages
    .slice(0, upTo)
    .filter((m) => m.role !== 'system' && m.role !== 'tool' && m.content)
    .map((m) => m.content ?? '')
    .join('\n');
}

/**
 * `Summary: <first words>` when the system prompt or the last user message asks for a
 * summary; undefined otherwise.
 */
export function summaryReplyText(
  messages: readonly ChatMessage[],
  userIndex: number,
  userText: string,
): string | undefined {
  const inSystem = messages.some(
    (m) => m.role === 'system' && SUMMARY_REQUEST_RE.test((m.content ?? '').slice(0, 500)),
  );
  const lines = userText.split('\n');
  const askLine = lines.findIndex((l) => SUMMARY_REQUEST_RE.test(l));
  if (!inSystem && askLine < 0) return undefined;
  // The content follows the instruction line; an instruction alone means "the above".
  let content = askLine >= 0 ? lines.slice(askLine + 1).join('\n') : userText;
  if (content.trim() === '') content = conversationText(messages, Math.max(userIndex, 0));
  if (content.trim() === '' && askLine >= 0) content = userText;
  const words = content.replace(/\bSummary:\s*/g, ' ');
  return `Summary: ${firstWords(words, SUMMARY_WORDS, 200)}`;
}

/** The function name a tool message answers, from its `name` or the matching call. */
function toolName(messages: readonly ChatMessage[], msg: ChatMessage): string {
  if (msg.name) return msg.name;
  for (const m of messages) {
    if (m.role !== 'assistant' || !Array.isArray(m.tool_calls)) continue;
    for (const call of m.tool_calls as unknown[]) {
      const c = call as { id?: unknown; function?: { name?: unknown } } | null;
      if (c?.id === msg.tool_call_id && typeof c?.function?.name === 'string') {
        return c.function.name;
      }
    }
  }
  return 'tool';
}

/** `Tool NAME returned: <content>`, one line per tool message. */
export function toolResultsReplyText(
  messages: readonly ChatMessage[],
  toolMessages: readonly ChatMessage[],
): string {
  return toolMessages
    .map((m) => {
      const content = (m.content ?? '').slice(0, TOOL_RESULT_MAX_CHARS);
      return `Tool ${toolName(messages, m)} returned: ${content}`;
    })
    .join('\n');
}

/**
 * Plans the reply to `req`: a tool call when the message scripts one and no tool
 * result has come back yet, otherwise text (tool results quoted, the scripted reply, a
 * summary, or the default answer), fitted to `[[tokens:N]]` and cut to `max_tokens`. A
 * named instance starts its text with `[name] `, so tests see which one answered.
 */
export function planReply(
  req: ChatRequest,
  userIndex: number,
  rawUserText: string,
  d: Directives,
  encoding: TiktokenEncoding,
  name?: string,
): PlannedReply {
  const seed = sha256(`${req.messages.length}\n${rawUserText}`);
  const after = userIndex >= 0 ? req.messages.slice(userIndex + 1) : [];
  const toolMessages = after.filter((m) => m.role === 'tool');

  if (d.tools.length > 0 && toolMessages.length === 0) {
    const calls = d.tools.map((t, i) => ({
      id: `call_${sha256(`${seed}:${i}:${t.name}:${t.arguments}`).slice(0, 24)}`,
      name: t.name,
      arguments: t.arguments,
    }));
    const completionTokens = calls.reduce(
      (n, c) => n + countTextTokens(c.name, encoding) + countTextTokens(c.arguments, encoding),
      0,
    );
    return { kind: 'tool_calls', calls, completionTokens };
  }

  let text =
    toolMessages.length > 0
      ? toolResultsReplyText(req.messages, toolMessages)
      : (d.reply ??
        summaryReplyText(req.messages, userIndex, d.text) ??
        defaultReplyText(req.messages.length, d.text, seed));
  if (name) text = `[${name}] ${text}`;
  if (d.tokens !== undefined) text = fitToTokens(text, d.tokens, encoding, seed);

  let finishReason: 'stop' | 'length' = 'stop';
  if (req.maxTokens !== null && countTextTokens(text, encoding) > req.maxTokens) {
    text = truncateToTokens(text, req.maxTokens, encoding);
    finishReason = 'length';
  }
  return { kind: 'text', text, finishReason, completionTokens: countTextTokens(text, encoding) };
}
