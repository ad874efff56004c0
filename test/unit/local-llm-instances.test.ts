/**
 * Several embedded LLM instances (local-llm/instances.ts): the `--instance` flags, the
 * name each puts in its replies, and the outages they play: failing every request,
 * hanging, cutting every stream after N tokens. Each test starts its own servers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI, { APIError } from 'openai';
import { InstanceFlagError, parseInstanceFlags } from '../../local-llm/instances';
import { startLocalLlm } from '../../local-llm/server';
import { eventually } from '../../testkit/poll';

const ask = (client: OpenAI, content: string, signal?: AbortSignal) =>
  client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }, { signal });

async function streamText(client: OpenAI, content: string): Promise<string> {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  return text;
}

describe('--instance flags', () => {
  it('parses name, port and faults, in order', () => {
    assert.deepEqual(parseInstanceFlags(['--instance', 'main=8787', '--instance=backup=8788,fail=503', '--instance', 'slow=0,hang,cut=5']), [
      { name: 'main', port: 8787, faults: {} },
      { name: 'backup', port: 8788, faults: { failStatus: 503 } },
      { name: 'slow', port: 0, faults: { hang: true, cutAfter: 5 } },
    ]);
    assert.deepEqual(parseInstanceFlags([]), []);
  });

  it('refuses bad flags with the expected form', () => {
    for (const argv of [['--instance'], ['--instance', 'main'], ['--instance', 'a=1,fail=200'], ['--instance', 'a=1,cut=x'], ['--port', '1'], ['--instance', 'a=1', '--instance', 'b=1']]) {
      assert.throws(() => parseInstanceFlags(argv), InstanceFlagError, argv.join(' '));
    }
  });
});

describe('instance faults', () => {
  it('a named instance starts its replies with its name; unnamed ones as before', async () => {
    const named = await startLocalLlm({ port: 0, name: 'backup' });
    const plain = await startLocalLlm({ port: 0 });
    try {
      const a = await ask(new OpenAI({ baseURL: named.url, apiKey: 'x', maxRetries: 0 }), 'hello [[tokens:12]]');
      assert.match(a.choices[0]?.message.content ?? '', /^\[backup\] /);
      assert.equal(a.usage?.completion_tokens, 12, '[[tokens:N]] still exact');
      const b = await ask(new OpenAI({ baseURL: plain.url, apiKey: 'x', maxRetries: 0 }), 'hello');
      assert.match(b.choices[0]?.message.content ?? '', /^\(messages: 1\)/);
    } finally {
      await Promise.all([named.close(), plain.close()]);
    }
  });

  it('fails every request with the given status until told otherwise', async () => {
    const llm = await startLocalLlm({ port: 0, name: 'down', faults: { failStatus: 503 } });
    const client = new OpenAI({ baseURL: llm.url, apiKey: 'x', maxRetries: 0 });
    try {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(ask(client, `hi ${i}`), (e: unknown) => e instanceof APIError && e.status === 503);
      }
      llm.setFaults({});
      assert.match((await ask(client, 'hi')).choices[0]?.message.content ?? '', /^\[down\] /);
      assert.deepEqual(llm.stats.calls.map((c) => c.status), [503, 503, 200]);
    } finally {
      await llm.close();
    }
  });

  it('hangs: accepts the request and never answers, until the client gives up', async () => {
    const llm = await startLocalLlm({ port: 0, faults: { hang: true } });
    const client = new OpenAI({ baseURL: llm.url, apiKey: 'x', maxRetries: 0 });
    try {
      const abort = new AbortController();
      const pending = ask(client, 'anyone?', abort.signal);
      // The call is logged when it arrives; it stays unanswered.
      await eventually('the call arrives', () => llm.stats.requests === 1);
      assert.equal(llm.stats.calls[0]?.status, 0, 'received, not answered');
      abort.abort();
      await assert.rejects(pending);
    } finally {
      await llm.close();
    }
  });

  it('cuts every stream after N tokens, not only the first time', async () => {
    const llm = await startLocalLlm({ port: 0, faults: { cutAfter: 3 } });
    const client = new OpenAI({ baseURL: llm.url, apiKey: 'x', maxRetries: 0 });
    try {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(streamText(client, 'a long one [[tokens:20]]'), 'the stream breaks off');
      }
      llm.setFaults({});
      const whole = await streamText(client, 'a long one [[tokens:20]]');
      assert.ok(whole.length > 0);
    } finally {
      await llm.close();
    }
  });
});
