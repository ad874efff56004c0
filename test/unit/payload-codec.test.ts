/**
 * lib/payload-codec.ts and TEMPORAL_PAYLOAD_KEYS, on pure values: payloads round-trip,
 * hold no plaintext, name their key, decrypt after a rotation, pass through when not
 * encrypted (histories from before), and refuse tampering or an unknown key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { ConfigError, loadConfig } from '../../lib/config';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../lib/payload-codec';

const key = (id: string) => ({ id, key: randomBytes(32) });
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');
const secretInput = { content: 'my secret conversation 🤫', n: 42 };

describe('payload encryption', () => {
  it('round-trips payloads and leaves no plaintext; each names its key', async () => {
    const codec = new AesGcmPayloadCodec([key('k1')]);
    const plain = defaultPayloadConverter.toPayload(secretInput);
    const [sealed] = await codec.encode([plain]);
    assert.equal(text(sealed!.metadata!.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(sealed!.metadata![KEY_ID_METADATA]), 'k1');
    assert.ok(
      !Buffer.from(sealed!.data!).includes(Buffer.from('secret conversation')),
      'no plaintext',
    );
    const [opened] = await codec.decode([sealed!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(opened!), secretInput);
    // A fresh IV each time: the same payload never encrypts the same way twice.
    const [again] = await codec.encode([plain]);
    assert.notDeepEqual(Buffer.from(again!.data!), Buffer.from(sealed!.data!));
  });

  it('rotates: a new first key encrypts, the old one still decrypts', async () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const [old] = await new AesGcmPayloadCodec([k1]).encode([
      defaultPayloadConverter.toPayload(secretInput),
    ]);
    const rotated = new AesGcmPayloadCodec([k2, k1]);
    assert.deepEqual(
      defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!),
      secretInput,
    );
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload(1)]);
    assert.equal(text(fresh!.metadata![KEY_ID_METADATA]), 'k2');
  });

  it('passes payloads without the encryption metadata through (histories from before)', async () => {
    const plain = defaultPayloadConverter.toPayload(secretInput);
    assert.deepEqual(await new AesGcmPayloadCodec([key('k1')]).decode([plain]), [plain]);
  });

  it('refuses a tampered payload and an unknown key id', async () => {
    const codec = new AesGcmPayloadCodec([key('k1')]);
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(secretInput)]);
    const data = Buffer.from(sealed!.data!);
    data[20] = data[20]! ^ 1;
    await assert.rejects(codec.decode([{ ...sealed!, data }]));
    await assert.rejects(new AesGcmPayloadCodec([key('k9')]).decode([sealed!]), /key "k1"/);
  });

  it('reads TEMPORAL_PAYLOAD_KEYS, naming keys by id only in its errors', () => {
    const a = randomBytes(32).toString('base64');
    const b = randomBytes(32).toString('base64');
    const keys = loadConfig({ TEMPORAL_PAYLOAD_KEYS: `new:${a},old:${b}` }).payloadKeys;
    assert.deepEqual(
      keys.map((k) => [k.id, k.key.toString('base64')]),
      [
        ['new', a],
        ['old', b],
      ],
    );
    assert.deepEqual(loadConfig({}).payloadKeys, []);
    const short = randomBytes(16).toString('base64');
    for (const bad of [`k:${short}`, `:${a}`, `k ${a}`, `k:${a},k:${b}`, `k:${a}:x`]) {
      assert.throws(
        () => loadConfig({ TEMPORAL_PAYLOAD_KEYS: bad }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.ok(
            !err.message.includes(a) && !err.message.includes(short),
            'no key in the message',
          );
          return true;
        },
      );
    }
  });
});
