/**
 * Call accounting of the local LLM, so tests can count LLM calls (e.g. to prove a
 * chunk was not summarised twice), and the bounded "seen once" memory behind
 * `[[fail_once:...]]` and `[[cut_after:...]]`.
 */

/** One chat-completions call as the local LLM saw it. */
export interface LocalLlmCall {
  model: string;
  stream: boolean;
  messageCount: number;
  /** Raw text of the last user message (directives included), cut to {@link CALL_TEXT_MAX_CHARS}. */
  lastUserMessage: string;
  /** True when the request offered tools. */
  tools: boolean;
  /** The first system message, cut to {@link SYSTEM_TEXT_MAX_CHARS} (tests check the prompt). */
  system?: string;
  /** HTTP status answered. */
  status: number;
  promptTokens: number;
  completionTokens: number;
}

/** Counters and the per-call log; the same object lives as long as the server. */
export interface LocalLlmStats {
  /** Chat-completions calls, whatever their outcome. */
  requests: number;
  /** The most recent calls, oldest first, at most {@link MAX_CALLS_LOGGED}. */
  calls: LocalLlmCall[];
}

export const MAX_CALLS_LOGGED = 10_000;
export const CALL_TEXT_MAX_CHARS = 4_096;
export const SYSTEM_TEXT_MAX_CHARS = 2_048;

/** A fresh, empty stats object. */
export function createStats(): LocalLlmStats {
  return { requests: 0, calls: [] };
}

/** Counts a call and logs it, dropping the oldest entries past the cap. */
export function recordCall(stats: LocalLlmStats, call: LocalLlmCall): void {
  stats.requests++;
  stats.calls.push({
    ...call,
    lastUserMessage: call.lastUserMessage.slice(0, CALL_TEXT_MAX_CHARS),
    ...(call.system === undefined ? {} : { system: call.system.slice(0, SYSTEM_TEXT_MAX_CHARS) }),
  });
  if (stats.calls.length > MAX_CALLS_LOGGED) {
    stats.calls.splice(0, stats.calls.length - MAX_CALLS_LOGGED);
  }
}

/** Empties stats in place, so references held by tests stay valid. */
export function resetStats(stats: LocalLlmStats): void {
  stats.requests = 0;
  stats.calls.length = 0;
}

/** Remembers keys seen, forgetting the oldest past a bound so memory stays flat. */
export class SeenOnce {
  private readonly seen = new Set<string>();

  constructor(private readonly maxKeys = 100_000) {}

  /** True the first time `key` is offered (and remembers it), false afterwards. */
  firstTime(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.maxKeys) {
      const oldest = this.seen.values().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
    return true;
  }
}
