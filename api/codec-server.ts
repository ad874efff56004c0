/**
 * The codec server: Temporal's remote codec HTTP shape (`POST /encode`, `POST /decode`,
 * body and answer `{payloads:[{metadata:{k: base64}, data: base64}]}`), so the Temporal
 * UI and CLI show encrypted payloads (inputs, results, heartbeat details) to operators.
 * It listens on 127.0.0.1 only, answers the UI's CORS preflight for the allowed origins,
 * and asks for `Authorization: Bearer <CODEC_SERVER_TOKEN>` when a token is configured.
 */
import { timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { jsonTooDeep } from '../lib/json-depth';

/** Largest request body (the UI sends a page of payloads at a time). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface CodecServerOptions {
  codec: PayloadCodec;
  port: number;
  /** Required bearer token; undefined = none (the port is loopback-only either way). */
  token?: string;
  /** Browser origins allowed to call it (the Temporal UI's). */
  origins: readonly string[];
}

export interface CodecServer {
  port: number;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [
      k,
      new Uint8Array(Buffer.from(String(v), 'base64')),
    ]),
  ),
  data: new Uint8Array(Buffer.from(String(p.data ?? ''), 'base64')),
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return resolve(undefined);
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Starts the codec server on 127.0.0.1:port (0 = a free port). */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = req.headers.origin;
    if (origin && options.origins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'POST' || (path !== '/encode' && path !== '/decode'))
      return send(res, 404, { error: 'POST /encode or /decode' });
    if (!authorized(req, options.token))
      return send(res, 401, { error: 'missing or wrong bearer token' });
    const body = await readBody(req);
    if (!body) return send(res, 413, { error: `body over ${MAX_BODY_BYTES} bytes` });
    if (jsonTooDeep(body)) return send(res, 400, { error: 'JSON nested too deep' });
    let payloads: Payload[];
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { payloads?: unknown };
      if (!Array.isArray(parsed.payloads)) throw new Error('no payloads');
      payloads = (parsed.payloads as JsonPayload[]).map(fromJson);
    } catch {
      return send(res, 400, {
        error: 'body must be {"payloads":[{"metadata":{...},"data":"..."}]}',
      });
    }
    try {
      const out =
        path === '/encode'
          ? await options.codec.encode(payloads)
          : await options.codec.decode(payloads);
      send(res, 200, { payloads: out.map(toJson) });
    } catch (err) {
      send(res, 400, { error: err instanceof Error ? err.message : 'cannot decode' });
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { error: 'internal' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
