/**
 * api/codec-server.ts on its own (no stack): Temporal's codec server shape, so the
 * Temporal UI can show encrypted payloads to an operator who has the token.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { startCodecServer, type CodecServer } from '../../api/codec-server';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../lib/payload-codec';
import { devServerArgs } from '../../scripts/services/temporal';

const TOKEN = 'operator-token';
const UI = 'http://127.0.0.1:8233';
let server: CodecServer;

before(async () => {
  const codec = new AesGcmPayloadCodec([{ id: 'k1', key: randomBytes(32) }]);
  server = await startCodecServer({ codec, port: 0, token: TOKEN, origins: [UI] });
});
after(async () => {
  await server?.close();
});

const toJson = (value: unknown) => {
  const p = defaultPayloadConverter.toPayload(value);
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data!).toString('base64'),
  };
};

async function post(path: string, body: string, auth: string | null = `Bearer ${TOKEN}`) {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Namespace': 'default',
      Origin: UI,
      ...(auth ? { Authorization: auth } : {}),
    },
    body,
  });
  return {
    status: res.status,
    body: (await res.json()) as any,
    cors: res.headers.get('access-control-allow-origin'),
  };
}

describe('codec server', () => {
  it('encodes and decodes payloads in the codec server shape, for the UI origin', async () => {
    const value = { content: 'a conversation' };
    const encoded = await post('/encode', JSON.stringify({ payloads: [toJson(value)] }));
    assert.equal(encoded.status, 200);
    assert.equal(encoded.cors, UI);
    const sealed = encoded.body.payloads[0];
    assert.equal(Buffer.from(sealed.metadata.encoding, 'base64').toString(), ENCRYPTED_ENCODING);
    const decoded = await post(
      '/decode',
      JSON.stringify({ payloads: [sealed, toJson('in clear')] }),
    );
    assert.equal(decoded.status, 200);
    assert.deepEqual(
      JSON.parse(Buffer.from(decoded.body.payloads[0].data, 'base64').toString()),
      value,
    );
    assert.equal(
      Buffer.from(decoded.body.payloads[1].data, 'base64').toString(),
      '"in clear"',
      'clear payloads pass through',
    );
  });

  it('asks for the operator token, answers the preflight, and refuses bad bodies with 400', async () => {
    const body = JSON.stringify({ payloads: [toJson(1)] });
    assert.equal((await post('/decode', body, null)).status, 401);
    assert.equal((await post('/decode', body, 'Bearer wrong-token-xx')).status, 401);
    const preflight = await fetch(`http://127.0.0.1:${server.port}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: UI, 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-Namespace/);
    for (const bad of [
      'not json',
      '{"payloads":3}',
      `{"payloads":${'['.repeat(100)}${']'.repeat(100)}}`,
    ]) {
      assert.equal((await post('/decode', bad)).status, 400, bad.slice(0, 40));
    }
    const foreign = {
      metadata: {
        encoding: Buffer.from(ENCRYPTED_ENCODING).toString('base64'),
        'encryption-key-id': Buffer.from('k0').toString('base64'),
      },
      data: 'AAAA',
    };
    assert.equal(
      (await post('/decode', JSON.stringify({ payloads: [foreign] }))).status,
      400,
      'an unknown key is a 400, not a crash',
    );
  });

  it("npm start points the dev server's Web UI at the codec server", () => {
    const base = { namespace: 'default', dataDir: '/tmp/x', port: 7233, uiPort: 8233 };
    const args = devServerArgs({ ...base, uiCodecEndpoint: 'http://127.0.0.1:8888' });
    assert.equal(args[args.indexOf('--ui-codec-endpoint') + 1], 'http://127.0.0.1:8888');
    assert.ok(!devServerArgs(base).includes('--ui-codec-endpoint'), 'none without encryption');
  });
});
