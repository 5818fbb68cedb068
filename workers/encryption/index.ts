import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec, type AesGcmCodecOptions } from './codec';
import type { KeyRing } from '../../core/config/encryption-keys';

export { AesGcmCodec, EncryptionKeyError, ENCRYPTED_ENCODING, KEY_ID_METADATA } from './codec';
export { KEY_FILE_ENV, keyRingFromEnv, loadKeyRing, parseKeyFile, type EncryptionKey, type KeyRing } from '../../core/config/encryption-keys';

/** Module path of the encrypting failure converter, for `failureConverterPath` and the workflow bundle. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter for a client or worker: with a key ring, payloads go through {@link AesGcmCodec}
 * and failures through the attribute-encoding failure converter; without one, Temporal's defaults.
 */
export function dataConverterFor(ring: KeyRing | undefined, opts: AesGcmCodecOptions = {}): DataConverter | undefined {
  if (!ring) return undefined;
  return { payloadCodecs: [new AesGcmCodec(ring, opts)], failureConverterPath: FAILURE_CONVERTER_PATH };
}
