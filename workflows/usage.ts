/**
 * Token usage in workflows: usage arithmetic (`addUsage`, `NO_USAGE`), and the quota
 * and billing side of one chat request as the chat workflow drives it: reserve before
 * the LLM call, settle after it on every path, start billing.
 *
 * Why the usage is settled from workflow code: the workflow outlives everything else
 * involved (the client may disconnect, the worker may die and be replaced), so cleanup
 * that runs in its `finally`/`catch` paths, inside `CancellationScope.nonCancellable`,
 * runs after success, LLM failure and cancel alike. Only a workflow that is terminated
 * or times out skips it; its reservation then expires by its TTL.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  log,
  ParentClosePolicy,
  startChild,
} from '@temporalio/workflow';
import {
  billingWorkflowId,
  type ChatWorkflowInput,
  type TokenUsage,
  type UsageRecord,
} from '../contracts/definitions';
import { FAILURE_TYPES } from '../contracts/errors';
import { billingWorkflow } from './billing';
import { fast } from './proxies';

export const NO_USAGE: TokenUsage = {
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  estimated: false,
};

/** Adds two usages; the sum is estimated when either part was. */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    estimated: a.estimated || b.estimated,
  };
}

/** Tracks one request's reservation and settles it exactly once. */
export class RequestMeter {
  private reserveStarted = false;
  private dailyLimit: number | undefined;
  private settled = false;
  private reported: TokenUsage = NO_USAGE;
  private billing: Promise<void> = Promise.resolve();

  constructor(private readonly input: ChatWorkflowInput) {}

  /**
   * Reserves `promptTokens` + the completion budget against the user's quotas.
   * Refused: throws the `QuotaExceeded` activity failure (no LLM call may follow).
   */
  async reserve(promptTokens: number): Promise<void> {
    this.reserveStarted = true;
    const r = await fast.reserveQuota({
      userId: this.input.userId,
      requestId: this.input.requestId,
      plan: this.input.plan,
      amount: promptTokens + this.input.settings.maxCompletionTokens,
    });
    this.dailyLimit = r.dailyLimit;
  }

  /**
   * Adds usage the provider reported for one LLM call, so that a request failing after
   * some calls succeeded still bills them (see {@link settleFailed}).
   */
  report(usage: TokenUsage): void {
    this.reported = addUsage(this.reported, usage);
  }

  /** Resolves when the billing child (if any) has started; the workflow awaits it last. */
  billingStarted(): Promise<void> {
    return this.billing;
  }

  /** Settles a request that failed or was cancelled: bills what was reported, or nothing. */
  settleFailed(): Promise<void> {
    return this.settle(this.reported);
  }

  /**
   * Settles the reservation to `usage` (sends the `usage` event) and starts billing.
   * Runs once; never cancelled; a settle that fails (Redis down past its retries) is
   * logged, not thrown: the ledger still gets the usage and the reservation expires.
   * The billing child's start is not awaited here, so `done` need not wait on that
   * server round trip (measured: about 95 ms); the workflow awaits it through
   * {@link billingStarted} before it completes.
   */
  async settle(usage: TokenUsage): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    if (!this.reserveStarted && usage.totalTokens === 0) return;
    await CancellationScope.nonCancellable(async () => {
      let settledAt: string | undefined;
      try {
        const out = await fast.settleUsage({
          userId: this.input.userId,
          requestId: this.input.requestId,
          sessionId: this.input.sessionId,
          model: this.input.model,
          plan: this.input.plan,
          usage,
          dailyLimit: this.dailyLimit,
        });
        settledAt = out.settledAt;
      } catch (err) {
        log.error('usage settle failed; counters miss this request', { error: String(err) });
      }
      if (usage.totalTokens > 0) {
        this.billing = startBilling(this.input, usage, settledAt ?? new Date().toISOString());
        // Awaited later (billingStarted); marked handled so a failure is not reported early.
        this.billing.catch(() => undefined);
      }
    });
  }
}

/**
 * Starts the request's billing workflow as a child with `ParentClosePolicy.ABANDON`.
 *
 * A child rather than an activity that starts it with a Temporal client: the start is
 * a command in the chat workflow's own history, so it happens exactly once across
 * worker crashes and replays, needs no client inside workers, and shows as a link in
 * the Temporal UI. ABANDON lets it outlive the chat workflow (it may retry for hours
 * while Postgres is down). Its id comes from the request, so a second start (an
 * operator's reset of the chat workflow) is refused and ignored.
 */
export async function startBilling(
  input: ChatWorkflowInput,
  usage: TokenUsage,
  createdAt: string,
): Promise<void> {
  const record: UsageRecord = {
    userId: input.userId,
    requestId: input.requestId,
    sessionId: input.sessionId,
    model: input.model,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    totalTokens: usage.totalTokens,
    estimated: usage.estimated,
    createdAt,
  };
  try {
    await startChild(billingWorkflow, {
      workflowId: billingWorkflowId(input.userId, input.requestId),
      taskQueue: input.taskQueues.billing,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      args: [record],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    throw err;
  }
}

/** The refusal's own message (which limit, when it resets) when `err` is a quota refusal. */
export function quotaRefusalMessage(err: unknown): string | undefined {
  // Local activity failures arrive unwrapped; activity ones inside an ActivityFailure.
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.type === FAILURE_TYPES.QuotaExceeded
    ? failure.message
    : undefined;
}
