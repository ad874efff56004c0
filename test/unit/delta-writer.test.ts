/** The LLM activity's token coalescing (activities/delta-writer.ts), with no service. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeltaWriter, flushIntervalMs } from '../../activities/delta-writer';
import type { Appended } from '../../store/event-log';

/** A write that resolves when the test says so, recording what was written. */
function controlledWrites() {
  const written: string[] = [];
  const pending: Array<(a: Appended | null) => void> = [];
  return {
    written,
    write: (content: string) =>
      new Promise<Appended | null>((resolve) => {
        written.push(content);
        pending.push(resolve);
      }),
    /** Answers the oldest write in flight. */
    answer(a: Appended | null = { seq: written.length, fresh: false }) {
      pending.shift()?.(a);
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('delta writer', () => {
  it('writes the first token at once and coalesces what arrives while a write is in flight', async () => {
    const w = controlledWrites();
    const writer = new DeltaWriter({
      write: w.write,
      onLost: async () => {},
      onStop: () => {},
      settings: { writesPerSecond: 1e9, maxMs: 0 },
    });
    writer.push('a');
    assert.deepEqual(w.written, ['a'], 'the first token does not wait');
    writer.push('b');
    writer.push('c');
    assert.deepEqual(w.written, ['a'], 'one write in flight at a time');
    w.answer();
    await settle();
    assert.deepEqual(w.written, ['a', 'bc'], 'what waited goes out as one delta');
    const drained = writer.drain();
    w.answer();
    await drained;
    assert.equal(writer.writes, 2);
  });

  it('waits the flush interval between writes, and drain writes what is left', async () => {
    const writes: string[] = [];
    const writer = new DeltaWriter({
      write: (c) => Promise.resolve((writes.push(c), { seq: writes.length, fresh: false })),
      onLost: async () => {},
      onStop: () => {},
      settings: { writesPerSecond: 1, maxMs: 60_000 },
    });
    writer.push('x');
    await settle();
    for (const p of ['1', '2', '3']) writer.push(p);
    await settle();
    assert.deepEqual(writes, ['x'], 'later tokens wait for the interval');
    await writer.drain();
    assert.deepEqual(writes, ['x', '123']);
  });

  it('stops on a refused write: no more writes, onStop once, superseded', async () => {
    const w = controlledWrites();
    let stops = 0;
    const writer = new DeltaWriter({
      write: w.write,
      onLost: async () => {},
      onStop: () => stops++,
    });
    writer.push('a');
    writer.push('b');
    w.answer(null);
    await settle();
    writer.push('c');
    await writer.drain();
    assert.deepEqual(w.written, ['a']);
    assert.equal(stops, 1);
    assert.equal(writer.superseded, true);
  });

  it('a failed write stops the writer and drain throws it', async () => {
    let stops = 0;
    const writer = new DeltaWriter({
      write: () => Promise.reject(new Error('redis down')),
      onLost: async () => {},
      onStop: () => stops++,
    });
    writer.push('a');
    await assert.rejects(writer.drain(), /redis down/);
    assert.equal(stops, 1);
    assert.equal(writer.superseded, false);
  });

  it('after Redis lost the events, onLost gets all text written so far', async () => {
    const lost: string[] = [];
    let n = 0;
    const writer = new DeltaWriter({
      write: () => Promise.resolve({ seq: ++n, fresh: n === 2 }),
      onLost: (text) => Promise.resolve(void lost.push(text)),
      onStop: () => {},
      settings: { writesPerSecond: 1e9, maxMs: 0 },
    });
    writer.push('hello ');
    await settle();
    writer.push('world');
    await writer.drain();
    assert.deepEqual(lost, ['hello world']);
  });

  it('the interval grows with the streams of the process, up to the cap', () => {
    const s = { writesPerSecond: 1000, maxMs: 250 };
    assert.equal(flushIntervalMs(1, s), 1);
    assert.equal(flushIntervalMs(100, s), 100);
    assert.equal(flushIntervalMs(1000, s), 250);
  });
});
