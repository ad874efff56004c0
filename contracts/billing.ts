/**
 * The billing workflow's contract (workflows/billing.ts): one request's usage, written
 * to the ledger exactly once.
 */

/**
 * The billing workflow id of a request. Like {@link chatWorkflowId} it includes the
 * user: request ids are client-chosen, and two users sending the same one must never
 * share (or suppress) each other's billing record.
 */
export function billingWorkflowId(userId: string, requestId: string): string {
  return `billing-${userId}-${requestId}`;
}

/** One request's token usage, as billed (the billing workflow's input; JSON-safe). */
export interface UsageRecord {
  userId: string;
  requestId: string;
  sessionId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  estimated: boolean;
  /** What the tokens cost in US dollars (absent: no price configured, or recorded before prices). */
  costUsd?: number;
  /** When the usage was settled (ISO-8601 UTC): decides its quota day and month. */
  createdAt: string;
}

export interface BillingResult {
  /** False when the row already existed (a retry or a re-run): nothing was added. */
  inserted: boolean;
}
