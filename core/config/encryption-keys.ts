import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';

/**
 * Payload encryption keys, read from a key file (a local file or a mounted Kubernetes Secret), never
 * from a command-line value, so they stay out of shell history and `ps`. One key per line:
 *
 *     # comment
 *     <key-id> <key>
 *
 * `<key-id>`: 1–64 of `A–Z a–z 0–9 . _ -`, stored in the clear in each payload's metadata (it names the
 * key, it is not secret). `<key>`: 32 random bytes (AES-256) as base64 (44 characters) or hex (64
 * digits), e.g. from `openssl rand -base64 32`. The first key encrypts; every key decrypts, so a key is
 * rotated by adding the new one below the old, rolling that out everywhere, then moving it to the top.
 */
export interface EncryptionKey {
  id: string;
  key: Buffer;
}

/** The keys of one process: `keys[0]` encrypts, all decrypt. `file` is where they came from (for messages). */
export interface KeyRing {
  keys: EncryptionKey[];
  file: string;
}

/** The environment variable naming the key file (the `--encryption-key-file` flag and the env config's `encryption.key_file` set it). */
export const KEY_FILE_ENV = 'TESSEL_ENCRYPTION_KEY_FILE';

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

function decodeKey(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return Buffer.from(text, 'base64');
  return undefined;
}

/**
 * Parses a key file's text. Messages name the file and the line, never the key material.
 * @throws ConfigError for a malformed line, a duplicate key id, or a file without keys.
 */
export function parseKeyFile(text: string, file: string): KeyRing {
  const keys: EncryptionKey[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `line ${i + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) {
      throw new ConfigError(`${where}: expected '<key-id> <key>' (two fields), got ${parts.length === 1 ? 'one field (a key without an id?)' : `${parts.length} fields`}`, { file });
    }
    const [id, material] = parts;
    if (!KEY_ID.test(id)) throw new ConfigError(`${where}: key id must be 1–64 of A–Z a–z 0–9 . _ -`, { file });
    const key = decodeKey(material);
    if (!key) throw new ConfigError(`${where}: key '${id}' is not 32 bytes as base64 (44 characters) or hex (64 digits); make one with 'openssl rand -base64 32'`, { file });
    if (keys.some((k) => k.id === id)) throw new ConfigError(`${where}: key id '${id}' appears twice`, { file });
    keys.push({ id, key });
  }
  if (keys.length === 0) throw new ConfigError("no keys in the key file (one '<key-id> <key>' per line; the first encrypts)", { file });
  return { keys, file };
}

/** Reads and parses a key file. @throws ConfigError when it cannot be read or parsed. */
export function loadKeyRing(file: string): KeyRing {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the encryption key file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path, cause: e });
  }
  return parseKeyFile(text, path);
}

/** The key ring named by `TESSEL_ENCRYPTION_KEY_FILE`, or undefined when encryption is off. */
export function keyRingFromEnv(env: NodeJS.ProcessEnv = process.env): KeyRing | undefined {
  const file = env[KEY_FILE_ENV];
  return file ? loadKeyRing(file) : undefined;
}
