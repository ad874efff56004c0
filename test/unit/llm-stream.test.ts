/**
 * The LLM stream reader (activities/llm-stream.ts) against a tiny local HTTP server, no
 * other service: chunks in order, and every failure as the `openai` client's own error
 * class, so activities/llm.ts classifies it as before.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { APIConnectionError, APIError } from 'openai';
import { agents, streamChatCompletion } from '../../activities/llm-stream';
import { freePort } from '../../testkit/free-port';
import { eventually } from '../../testkit/poll';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler;
let server: http.Server;
let baseUrl: string;

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, res, body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const chunk = (content: string) => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 0,
  model: 'm',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});

async function collect(url = baseUrl): Promise<string[]> {
  const out: string[] = [];
  for await (const c of streamChatCompletion(
    url,
    'key-1',
    { model: 'm', stream: true },
    new AbortController().signal,
  )) {
    out.push(c.choices[0]?.delta.content ?? '');
  }
  return out;
}

describe('LLM stream reader', () => {
  it('posts the body with the key and yields each chunk, events split across writes included', async () => {
    let seen: { auth?: string; path?: string; body?: string } = {};
    handler = (req, res, body) => {
      seen = { auth: req.headers.authorization, path: req.url, body };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const text =
        ['a', 'b', 'c'].map((t) => `data: ${JSON.stringify(chunk(t))}\n\n`).join('') +
        'data: [DONE]\n\n';
      // Cut mid-event: the reader must join the pieces (the server's pause, not a wait).
      res.write(text.slice(0, 37));
      setTimeout(() => res.end(text.slice(37)), 10);
    };
    assert.deepEqual(await collect(), ['a', 'b', 'c']);
    assert.equal(seen.auth, 'Bearer key-1');
    assert.equal(seen.path, '/v1/chat/completions');
    assert.deepEqual(JSON.parse(seen.body!), { model: 'm', stream: true });
  });

  it('a whole answer leaves its connection to the next stream (keep-alive)', async () => {
    const ports: number[] = [];
    handler = (req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify(chunk('a'))}\n\ndata: [DONE]\n\n`);
    };
    assert.deepEqual(await collect(), ['a']);
    // The socket goes back to the pool once the response's end is read (a tick or two).
    await eventually(
      'the connection back in the pool',
      () =>
        Object.values(agents['http:'].freeSockets).some((free) =>
          free?.some((s) => s.localPort === ports[0]),
        ),
      { timeoutMs: 5000, everyMs: 5 },
    );
    assert.deepEqual(await collect(), ['a']);
    assert.equal(ports.length, 2);
    assert.equal(ports[0], ports[1], "the second stream reused the first one's connection");
  });

  it('a response left open after [DONE] still ends the stream, whole', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk('a'))}\n\ndata: [DONE]\n\n`);
    };
    assert.deepEqual(await collect(), ['a']);
  });

  it('a non-2xx answer is the client error of its status, with its code', async () => {
    handler = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'too long', code: 'context_length_exceeded' } }));
    };
    const err = await collect().catch((e: unknown) => e);
    assert.ok(err instanceof APIError && !(err instanceof APIConnectionError));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'context_length_exceeded');
    handler = (_req, res) => {
      res.writeHead(503);
      res.end('not json');
    };
    const err5 = await collect().catch((e: unknown) => e);
    assert.ok(err5 instanceof APIError);
    assert.equal(err5.status, 503);
  });

  it('an error event mid-stream, a stream cut before [DONE] and a refused connection each throw', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.end(
        `data: ${JSON.stringify(chunk('x'))}\n\ndata: {"error":{"message":"overloaded"}}\n\n`,
      );
    };
    const midStream = await collect().catch((e: unknown) => e);
    assert.ok(midStream instanceof APIError && !(midStream instanceof APIConnectionError));
    handler = (_req, res) => {
      res.writeHead(200);
      res.end(`data: ${JSON.stringify(chunk('x'))}\n\n`);
    };
    assert.ok(
      (await collect().catch((e: unknown) => e)) instanceof APIConnectionError,
      'cut stream',
    );
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(`data: ${JSON.stringify(chunk('x'))}\n\n`);
      setTimeout(() => res.destroy(), 10);
    };
    assert.ok(
      (await collect().catch((e: unknown) => e)) instanceof APIConnectionError,
      'dropped connection',
    );
    const refused = await collect(`http://127.0.0.1:${await freePort()}/v1`).catch(
      (e: unknown) => e,
    );
    assert.ok(refused instanceof APIConnectionError, 'refused connection');
  });
});
