import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { TesselError } from '../../core/errors';
import type { EncryptionKey, KeyRing } from '../../core/config/encryption-keys';

/** `encoding` metadata of an encrypted payload (the name Temporal's encryption samples use). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key holding the id of the key a payload is encrypted under. */
export const KEY_ID_METADATA = 'encryption-key-id';

const NONCE_BYTES = 12; // 96 bits: GCM's native nonce size (NIST SP 800-38D §8.2)
const TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';
const PayloadProto = temporal.api.common.v1.Payload;

/**
 * A payload that this process cannot decrypt: encrypted under a key id it does not hold, not encrypted
 * at all while encryption is on, or failing authentication. Not retryable here: another process
 * holding the key can read it, this one never will.
 */
export class EncryptionKeyError extends TesselError {
  constructor(message: string, readonly keyId: string | undefined) {
    super('ENCRYPTION_KEY', message, { retryable: false, details: { keyId } });
    this.name = 'EncryptionKeyError';
  }
}

export interface AesGcmCodecOptions {
  /** Called (before the error is thrown) when a payload names a key id this process does not hold. */
  onUnknownKey?: (error: EncryptionKeyError) => void;
}

/** Payloads this process encrypted or decrypted, their bytes and the seconds it took (for bench/scale.ts). */
export const codecStats = { payloads: 0, bytes: 0, seconds: 0 };

function timed<T>(bytes: number, f: () => T): T {
  const t0 = process.hrtime.bigint();
  try {
    return f();
  } finally {
    codecStats.payloads++;
    codecStats.bytes += bytes;
    codecStats.seconds += Number(process.hrtime.bigint() - t0) / 1e9;
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * Temporal payload codec: AES-256-GCM (node:crypto) over the whole serialized Payload, so its
 * `encoding` and other metadata are hidden too. A fresh random 96-bit nonce per payload; data is
 * `nonce ‖ ciphertext ‖ tag`; the key id is in the clear in the metadata and bound to the ciphertext
 * as additional authenticated data, so a payload cannot be passed off as under another key.
 *
 * With a random nonce a key must encrypt fewer than 2^32 payloads (NIST SP 800-38D §8.3); rotate
 * long before that (a run of 10,000 images makes roughly 10^5 payloads).
 *
 * Decoding refuses unencrypted payloads: with encryption on, a payload the server could have written
 * in plaintext (an injected signal, a forged input) is not trusted.
 */
export class AesGcmCodec implements PayloadCodec {
  private readonly byId: Map<string, EncryptionKey>;

  constructor(private readonly ring: KeyRing, private readonly opts: AesGcmCodecOptions = {}) {
    this.byId = new Map(ring.keys.map((k) => [k.id, k]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => timed(p.data?.length ?? 0, () => this.encrypt(p)));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => timed(p.data?.length ?? 0, () => this.decrypt(p)));
  }

  /** Encrypts one payload under the ring's first key. */
  encrypt(payload: Payload): Payload {
    const { id, key } = this.ring.keys[0];
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(utf8.encode(id));
    const body = cipher.update(PayloadProto.encode(payload).finish());
    const data = Buffer.concat([nonce, body, cipher.final(), cipher.getAuthTag()]);
    return { metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(id) }, data };
  }

  /** Decrypts one payload. @throws EncryptionKeyError naming the key id when it cannot. */
  decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding ? fromUtf8.decode(payload.metadata.encoding) : undefined;
    if (encoding !== ENCRYPTED_ENCODING) {
      throw new EncryptionKeyError(`payload is not encrypted (encoding '${encoding ?? 'none'}'); with encryption on, only payloads encrypted under one of this process's keys are accepted`, undefined);
    }
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    const id = idBytes ? fromUtf8.decode(idBytes) : undefined;
    const entry = id === undefined ? undefined : this.byId.get(id);
    if (!entry) {
      const err = new EncryptionKeyError(
        `payload is encrypted under key id '${id ?? '(none)'}', which is not in this process's key file ${this.ring.file} ` +
        `(it holds ${this.ring.keys.map((k) => `'${k.id}'`).join(', ')}); add that key to the key file of every worker and client`, id);
      this.opts.onUnknownKey?.(err);
      throw err;
    }
    const data = payload.data ?? new Uint8Array(0);
    if (data.length < NONCE_BYTES + TAG_BYTES) throw new EncryptionKeyError(`payload under key id '${entry.id}' is too short to be encrypted data (${data.length} bytes)`, entry.id);
    const nonce = data.subarray(0, NONCE_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    const decipher = createDecipheriv(ALGORITHM, entry.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(utf8.encode(entry.id));
    decipher.setAuthTag(tag);
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new EncryptionKeyError(`payload under key id '${entry.id}' fails authentication: it was altered, or encrypted with a different key of the same id`, entry.id);
    }
    return PayloadProto.decode(plain);
  }
}
