/**
 * Token usage in workflows: the quota and billing side of one chat request as the chat
 * workflow drives it: reserve before the LLM call, settle after it on every path, write
 * the ledger row (by the reply step, or `recordUsage` on failure), and only when that
 * write fails hand the record to a `billingWorkflow` (one workflow execution per request
 * on the happy path). Usage arithmetic (`addUsage`, `NO_USAGE`) is in contracts/.
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
import { addUsage, NO_USAGE, type TokenUsage } from '../contracts/common';
import { billingWorkflowId, type UsageRecord } from '../contracts/billing';
import type { ChatWorkflowInput } from '../contracts/chat';
import { FAILURE_TYPES } from '../contracts/errors';
import { billingWorkflow } from './billing';
import { fast, storeActivities } from './proxies';
import { reserveQuotaInput, settleUsageInput, usageRecord } from './steps';

/**
 * Tracks one request's reservation and settles it exactly once.
 *
 * The ledger row is written by the request's
 * own reply step (or, on failure, by `recordUsage` inside the chat workflow): the
 * billing child only runs when that write could not be done.
 */
export class RequestMeter {
  private reserveStarted = false;
  /** The prompt's tokens: the reservation is these plus the completion budget. */
  private promptTokens = 0;
  /** True while the reservation is released for an approval wait (see {@link pause}). */
  private paused = false;
  /** Parts settled before approval waits, and the tokens they counted. */
  private parts = 0;
  private counted = 0;
  private dailyLimit: number | undefined;
  private settled: Promise<string | undefined> | undefined;
  private reported: TokenUsage = NO_USAGE;

  constructor(private readonly input: ChatWorkflowInput) {}

  /**
   * Reserves `promptTokens` + the completion budget against the user's quotas.
   * Refused: throws the `QuotaExceeded` activity failure (no LLM call may follow).
   */
  async reserve(promptTokens: number): Promise<void> {
    this.reserveStarted = true;
    this.promptTokens = promptTokens;
    await this.hold();
  }

  private async hold(): Promise<void> {
    const r = await fast.reserveQuota(reserveQuotaInput(this.input, this.promptTokens));
    this.dailyLimit = r.dailyLimit;
  }

  /**
   * Before a wait for the user's approval (which may last a day): settles the usage so
   * far as a part of the request (the counters move now) and so drops the reservation.
   * No quota is held while the request waits; {@link resume} reserves again.
   */
  async pause(): Promise<void> {
    if (this.paused || !this.reserveStarted) return;
    this.paused = true;
    const part = ++this.parts;
    const usage = this.reported;
    await CancellationScope.nonCancellable(async () => {
      try {
        await fast.settleUsage({ ...this.settleInput(usage), counted: this.counted, part });
        this.counted = usage.totalTokens;
      } catch (err) {
        log.error('usage part settle failed; the reservation expires by its TTL', {
          error: String(err),
        });
      }
    });
  }

  /** Before the next LLM call after a wait: reserves again (may refuse: quota exceeded). */
  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    await this.hold();
  }

  private settleInput(usage: TokenUsage) {
    return settleUsageInput(this.input, usage, this.dailyLimit);
  }

  /**
   * Adds usage the provider reported for one LLM call, so that a request failing after
   * some calls succeeded still bills them.
   */
  report(usage: TokenUsage): void {
    this.reported = addUsage(this.reported, usage);
  }

  /** What the LLM calls reported so far (a failed or cancelled request bills this). */
  get reportedUsage(): TokenUsage {
    return this.reported;
  }

  /**
   * Settles the reservation to `usage` (counters, `usage` event), once; never cancelled.
   * Returns when the usage was settled (the ledger row's `createdAt`: it decides the
   * quota day), or undefined when there was nothing to settle or the settle failed
   * (Redis down past its retries: logged, not thrown; the reservation then expires and
   * the ledger still gets the usage).
   */
  settle(usage: TokenUsage): Promise<string | undefined> {
    this.settled ??= this.doSettle(usage);
    return this.settled;
  }

  private async doSettle(usage: TokenUsage): Promise<string | undefined> {
    if (!this.reserveStarted && usage.totalTokens === 0) return undefined;
    return await CancellationScope.nonCancellable(async () => {
      try {
        const out = await fast.settleUsage({
          ...this.settleInput(usage),
          ...(this.counted > 0 ? { counted: this.counted } : {}),
        });
        return out.settledAt;
      } catch (err) {
        log.error('usage settle failed; counters miss this request', { error: String(err) });
        return undefined;
      }
    });
  }

  /** The ledger record of `usage`, settled at `settledAt` (workflow time when unknown). */
  record(usage: TokenUsage, settledAt: string | undefined): UsageRecord {
    return usageRecord(this.input, usage, settledAt);
  }

  /**
   * Writes the ledger row of a request that failed or was cancelled (what its LLM calls
   * reported), inside the chat workflow; when Postgres stays down past the step's
   * retries, hands the record to a billing workflow instead. Nothing to bill: no-op.
   */
  async billFailed(): Promise<void> {
    const usage = this.reported;
    const settledAt = await this.settle(usage);
    if (usage.totalTokens === 0) return;
    const record = this.record(usage, settledAt);
    try {
      await storeActivities(this.input.settings).recordUsage(record);
    } catch (err) {
      log.warn('ledger write failed; handing the record to a billing workflow', {
        error: String(err),
      });
      await handOffBilling(this.input, record);
    }
  }
}

/**
 * Hands a usage record whose ledger write failed to a `billingWorkflow`, which retries
 * until it lands (ops list and retry those). Awaited: the child must have started before
 * the chat workflow may complete, or the server would drop the start.
 */
export async function handOffBilling(input: ChatWorkflowInput, record: UsageRecord): Promise<void> {
  await CancellationScope.nonCancellable(() => startBilling(input, record));
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
export async function startBilling(input: ChatWorkflowInput, record: UsageRecord): Promise<void> {
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
