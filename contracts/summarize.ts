/**
 * The summarize workflow's contract (workflows/summarize.ts): one session's older turns
 * folded into its summary.
 */

/** One summarisation per session at a time: the workflow id is the session's. */
export function summaryWorkflowId(sessionId: string): string {
  return `summary-${sessionId}`;
}

export interface SummarizeWorkflowInput {
  sessionId: string;
  model: string;
  /** Messages kept verbatim in prompts (the window): they are not summarised. */
  keepRecent: number;
  /**
   * Fold only messages with a smaller id: the first message of the window of the prompt
   * that asked for this run. It makes the watermark a function of the conversation, not
   * of when the run reads it (the triggering request's reply may or may not be stored
   * yet). Absent (runs started before it existed): the `keepRecent` newest are kept.
   */
  foldBefore?: string;
  /**
   * Skip the run when fewer messages than this are left to fold: the request that asked
   * may have judged against a watermark an earlier run was just moving, and summaries
   * run in batches (`SUMMARY_MIN_NEW_MESSAGES`). Absent: any number is folded.
   */
  minNewMessages?: number;
  maxSummaryTokens: number;
}

export type SummarizeWorkflowResult =
  | { status: 'summarized'; watermark: string; foldedMessages: number }
  | { status: 'skipped'; reason: 'nothing_new' | 'breaker_open' };

/** A message of an LLM prompt, in the OpenAI chat format (JSON-safe). */
