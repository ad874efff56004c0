/**
 * The failure-type catalog (contracts/errors.ts) and the chat workflow's `classify`,
 * on pure values (no services needed): types raised with `failure` are found again by
 * `failureType` through the `ActivityFailure` wrapper, and map to the contract's codes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  RetryState,
} from '@temporalio/common';
import {
  ERRORS,
  errorSpecForType,
  FAILURE_TYPES,
  failure,
  failureType,
  type FailureType,
} from '../../contracts/errors';
import { classify } from '../../workflows/chat';
import { LLM_ACTIVITY, NON_RETRYABLE } from '../../workflows/proxies';

/** A failure as a regular activity's caller sees it. */
function fromActivity(cause: Error, activityType = 'prepareChat'): ActivityFailure {
  return new ActivityFailure(
    'activity failed',
    activityType,
    '1',
    RetryState.NON_RETRYABLE_FAILURE,
    'w',
    cause,
  );
}

describe('failure catalog', () => {
  it('names every type by itself', () => {
    for (const [key, value] of Object.entries(FAILURE_TYPES)) assert.equal(key, value);
    for (const key of Object.keys(ERRORS))
      assert.ok(key in FAILURE_TYPES, `${key} is a failure type`);
  });

  it('builds ApplicationFailures of catalogued types, retryable unless told', () => {
    const retryable = failure(FAILURE_TYPES.LlmTransient, 'stalled');
    assert.ok(retryable instanceof ApplicationFailure);
    assert.equal(retryable.type, FAILURE_TYPES.LlmTransient);
    assert.equal(retryable.message, 'stalled');
    assert.equal(retryable.nonRetryable, false);

    const cause = new Error('root');
    const final = failure(FAILURE_TYPES.QuotaExceeded, 'over', {
      nonRetryable: true,
      details: [{ scope: 'daily' }],
      cause,
    });
    assert.equal(final.nonRetryable, true);
    assert.deepEqual(final.details, [{ scope: 'daily' }]);
    assert.equal(final.cause, cause);
  });

  it('rejects a misspelt type at compile time', () => {
    // @ts-expect-error 'QuotaExeeded' is not a FailureType
    const typo: FailureType = 'QuotaExeeded';
    // @ts-expect-error FAILURE_TYPES has no such key
    assert.equal(FAILURE_TYPES.LlmTransiant, undefined);
    assert.equal(typo, 'QuotaExeeded');
  });

  it('reads the type of local (unwrapped) and regular (wrapped) activity failures', () => {
    const quota = failure(FAILURE_TYPES.QuotaExceeded, 'over', { nonRetryable: true });
    assert.equal(failureType(quota), FAILURE_TYPES.QuotaExceeded);
    assert.equal(failureType(fromActivity(quota)), FAILURE_TYPES.QuotaExceeded);
    assert.equal(failureType(new ApplicationFailure('x', 'SomethingElse')), undefined);
    assert.equal(failureType(new ApplicationFailure('no type')), undefined);
    assert.equal(failureType(new CancelledFailure('cancelled')), undefined);
    assert.equal(failureType(new Error('bug')), undefined);
    assert.equal(failureType(undefined), undefined);
  });

  it('maps backend-only types to internal', () => {
    const backendOnly = [
      FAILURE_TYPES.LlmTransient,
      FAILURE_TYPES.BillingUnavailable,
      FAILURE_TYPES.InvalidBillingRecord,
      FAILURE_TYPES.SummaryLlmFailed,
    ];
    for (const type of backendOnly) assert.equal(errorSpecForType(type), ERRORS.Internal);
  });

  it('keeps the non-retryable list to catalogued types', () => {
    for (const type of NON_RETRYABLE) assert.equal(FAILURE_TYPES[type], type);
  });
});

describe('classify', () => {
  it('maps catalogued types to their contract codes, wrapped or not', () => {
    const quota = failure(FAILURE_TYPES.QuotaExceeded, 'over', { nonRetryable: true });
    assert.equal(classify(quota), ERRORS.QuotaExceeded);
    assert.equal(classify(fromActivity(quota)), ERRORS.QuotaExceeded);
    const notFound = failure(FAILURE_TYPES.NotFound, 'no session', { nonRetryable: true });
    assert.equal(classify(fromActivity(notFound)), ERRORS.NotFound);
    const tooLarge = failure(FAILURE_TYPES.ContextTooLarge, 'long', { nonRetryable: true });
    assert.equal(classify(fromActivity(tooLarge, LLM_ACTIVITY)), ERRORS.ContextTooLarge);
  });

  it('answers llm_unavailable when the LLM activity gives up on a transient failure', () => {
    const transient = failure(FAILURE_TYPES.LlmTransient, 'LLM answered 500');
    assert.equal(classify(fromActivity(transient, LLM_ACTIVITY)), ERRORS.LlmUnavailable);
    // The same transient type from another activity is a system failure.
    assert.equal(classify(fromActivity(transient, 'prepareChat')), ERRORS.Internal);
  });

  it('answers cancelled for cancellation and internal for anything unknown', () => {
    assert.equal(classify(new CancelledFailure('cancelled')), ERRORS.Cancelled);
    assert.equal(classify(new Error('bug')), ERRORS.Internal);
    assert.equal(classify(new ApplicationFailure('x', 'Unheard')), ERRORS.Internal);
  });
});
