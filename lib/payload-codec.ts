/**
 * Encryption of everything the workers and clients put into Temporal (workflow and
 * activity inputs and results, heartbeat details, signals, queries, memos): a Temporal
 * `PayloadCodec` with AES-256-GCM, as Temporal's encryption sample does it. Whoever can
 * read Temporal's histories then reads no conversation.
 *
 * Each encrypted payload names its key (`encryption-key-id` metadata), so keys rotate:
 * `TEMPORAL_PAYLOAD_KEYS` lists `id:base64key` pairs, the first encrypts, all decrypt.
 * A payload without the encryption metadata passes through as it is, so histories
 * written before encryption (and the replay fixtures) still decode.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { WorkflowClient } from '@temporalio/client';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { PAYLOAD_KEY_BYTES, type PayloadKey } from './config';

/** The `encoding` of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** The metadata key naming the key a payload was encrypted with. */
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/** AES-256-GCM over whole serialized payloads; the first key encrypts, any listed key decrypts. */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: ReadonlyMap<string, Buffer>;
  private readonly current: PayloadKey;

  constructor(keys: readonly PayloadKey[]) {
    const [current] = keys;
    if (!current) throw new Error('AesGcmPayloadCodec needs at least one key');
    for (const k of keys) if (k.key.length !== PAYLOAD_KEY_BYTES) throw new Error(`payload key ${k.id} is not ${PAYLOAD_KEY_BYTES} bytes`);
    this.current = current;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  // Synchronous work in a promise: a failure (a tampered payload) rejects, never throws.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((p) => this.encrypt(p))));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((p) => this.decrypt(p))));
  }

  private encrypt(payload: Payload): Payload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(this.current.id) },
      data: new Uint8Array(sealed),
    };
  }

  private decrypt(payload: Payload): Payload {
    if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
    const keyId = text(payload.metadata?.[KEY_ID_METADATA]) ?? '';
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`payload encrypted with key ${JSON.stringify(keyId)}, which TEMPORAL_PAYLOAD_KEYS does not hold`);
    const sealed = Buffer.from(payload.data ?? new Uint8Array());
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('encrypted payload is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

/** The data converter of every client and worker: encrypting when keys are configured. */
export function dataConverter(keys: readonly PayloadKey[]): DataConverter {
  return keys.length > 0 ? { payloadCodecs: [new AesGcmPayloadCodec(keys)] } : {};
}

/**
 * Decodes a payload read raw from Temporal (a description's heartbeat details, a
 * history's input) the way the client decodes everything else: codecs, then JSON.
 */
export function decodeRaw<T>(workflows: WorkflowClient, payload: Payload): Promise<T | null | undefined> {
  return decodeOptionalSinglePayload<T>(workflows.options.loadedDataConverter, payload);
}
