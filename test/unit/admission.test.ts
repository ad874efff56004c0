/** Admission control's signals (api/admission.ts), with no service. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission, QUEUE_MIN_SAMPLES } from '../../api/admission';
import { AppError } from '../../api/errors';

const limits = {
  maxStreams: 3,
  maxEventLoopLagMs: 10_000,
  maxPendingStarts: 2,
  maxQueueDelayMs: 1000,
};

async function refusal(admission: Admission): Promise<string | undefined> {
  try {
    await admission.admit(() => Promise.resolve());
    return undefined;
  } catch (err) {
    assert.ok(err instanceof AppError);
    assert.equal(err.spec.code, 'overloaded');
    assert.ok((err.retryAfterSeconds ?? 0) >= 1, 'a retry delay');
    return err.message;
  }
}

describe('admission', () => {
  it('refuses once the process relays its maximum of streams, counting starts under way', async () => {
    let streams = 2;
    const admission = new Admission(limits, () => streams);
    assert.equal(await refusal(admission), undefined);
    let release!: () => void;
    const pending = admission.admit(() => new Promise<void>((r) => (release = r)));
    assert.match((await refusal(admission)) ?? '', /streams/, 'two relayed + one starting = three');
    release();
    await pending;
    streams = 1;
    assert.equal(await refusal(admission), undefined);
    admission.close();
  });

  it('refuses while too many starts wait on Temporal', async () => {
    const admission = new Admission({ ...limits, maxStreams: 100 }, () => 0);
    const releases: Array<() => void> = [];
    const starts = [1, 2].map(() =>
      admission.admit(() => new Promise<void>((r) => releases.push(r))),
    );
    assert.match((await refusal(admission)) ?? '', /backlog/);
    for (const r of releases) r();
    await Promise.all(starts);
    assert.equal(await refusal(admission), undefined);
    admission.close();
  });

  it('refuses while recent chats waited too long for their LLM call, and forgets old waits', async () => {
    let now = 0;
    const admission = new Admission(
      limits,
      () => 0,
      () => now,
    );
    for (let i = 0; i < QUEUE_MIN_SAMPLES - 1; i++) admission.observeQueueDelay(5000);
    assert.equal(await refusal(admission), undefined, 'too few samples say nothing');
    admission.observeQueueDelay(5000);
    assert.match((await refusal(admission)) ?? '', /backlog/);
    now += 3_500;
    assert.equal(await refusal(admission), undefined, 'seconds later the waits no longer count');
    for (let i = 0; i < QUEUE_MIN_SAMPLES; i++) admission.observeQueueDelay(100);
    assert.equal(await refusal(admission), undefined, 'short waits admit');
    admission.close();
  });
});
