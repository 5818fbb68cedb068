import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AesGcmCodec, ENCRYPTED_ENCODING, EncryptionKeyError, KEY_ID_METADATA } from '../../../workers/encryption/codec';
import { loadKeyRing, parseKeyFile, type KeyRing } from '../../../core/config/encryption-keys';

/**
 * The payload codec and its key files: round trips, a fresh nonce per payload, the key id in the clear
 * and bound to the ciphertext, rotation (first key encrypts, all decrypt), and clear errors that name
 * the key id or the key file's line but never key material.
 */
const b64 = () => randomBytes(32).toString('base64');
const ring = (...ids: string[]): KeyRing => parseKeyFile(ids.map((id) => `${id} ${b64()}`).join('\n'), 'keys.txt');
const json = (v: unknown): Payload => defaultPayloadConverter.toPayload(v);
const text = (p: Payload) => Buffer.from(p.data ?? []).toString('latin1') + Object.values(p.metadata ?? {}).map((m) => Buffer.from(m).toString('latin1')).join('');

describe('key files', () => {
  it('reads ids and base64 or hex keys, skipping comments and blank lines; the first key encrypts', () => {
    const hex = randomBytes(32).toString('hex');
    const r = parseKeyFile(`# rotated 2025-06\n\n2025-06 ${b64()}\n  2025-01\t${hex}  \n`, 'k');
    expect(r.keys.map((k) => k.id)).toEqual(['2025-06', '2025-01']);
    expect(r.keys[1].key.toString('hex')).toBe(hex);
    expect(r.keys.every((k) => k.key.length === 32)).toBe(true);
  });

  it.each([
    ['a key without an id', `${'A'.repeat(43)}=`, /line 1: expected '<key-id> <key>' \(two fields\), got one field/],
    ['a short key', 'k1 c2hvcnQ=', /line 1: key 'k1' is not 32 bytes/],
    ['a bad id', `k/1 ${'A'.repeat(43)}=`, /line 1: key id must be/],
    ['a duplicate id', `k1 ${'A'.repeat(43)}=\nk1 ${'B'.repeat(43)}=`, /line 2: key id 'k1' appears twice/],
    ['no keys', '# nothing\n', /no keys in the key file/],
  ])('refuses %s, naming the file and line but not the key', (_what, body, why) => {
    let err: unknown;
    try {
      parseKeyFile(body, '/etc/tessel/keys');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toContain('/etc/tessel/keys');
    expect((err as Error).message).not.toMatch(/AAAA|BBBB|c2hvcnQ/);
  });

  it('names an unreadable key file', () => {
    expect(() => loadKeyRing('/nonexistent/keys')).toThrow(/\/nonexistent\/keys: cannot read the encryption key file \(ENOENT\)/);
  });
});

describe('AesGcmCodec', () => {
  const r = ring('k-2025');
  const codec = new AesGcmCodec(r);

  it('round-trips payloads, metadata included, and hides everything but the key id', async () => {
    const inputs = [json({ imageUri: '/data/secret-patient-42.ome.tiff', channels: ['CD8a'] }), json(undefined), defaultPayloadConverter.toPayload(new Uint8Array([1, 2, 3]))];
    const enc = await codec.encode(inputs);
    for (const p of enc) {
      expect(Buffer.from(p.metadata!.encoding).toString()).toBe(ENCRYPTED_ENCODING);
      expect(Buffer.from(p.metadata![KEY_ID_METADATA]).toString()).toBe('k-2025');
      expect(Object.keys(p.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA].sort());
      expect(text(p)).not.toMatch(/secret-patient|CD8a|json\/plain|binary\/null/);
    }
    const dec = await codec.decode(enc);
    expect(dec.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
      { imageUri: '/data/secret-patient-42.ome.tiff', channels: ['CD8a'] }, undefined, new Uint8Array([1, 2, 3]),
    ]);
  });

  it('uses a fresh 96-bit nonce for every payload', async () => {
    const enc = await codec.encode(Array.from({ length: 200 }, () => json('same')));
    const nonces = new Set(enc.map((p) => Buffer.from(p.data!.subarray(0, 12)).toString('hex')));
    expect(nonces.size).toBe(200);
    expect(new Set(enc.map((p) => Buffer.from(p.data!).toString('hex'))).size).toBe(200);
  });

  it('rotates: the new first key encrypts, the old one still decrypts', async () => {
    const old = ring('old');
    const oldPayload = await new AesGcmCodec(old).encode([json('from before the rotation')]);
    const rotated: KeyRing = { keys: [ring('new').keys[0], old.keys[0]], file: 'keys.txt' };
    const c = new AesGcmCodec(rotated);
    expect(defaultPayloadConverter.fromPayload((await c.decode(oldPayload))[0])).toBe('from before the rotation');
    const fresh = await c.encode([json('after')]);
    expect(Buffer.from(fresh[0].metadata![KEY_ID_METADATA]).toString()).toBe('new');
  });

  it('names the key id of a payload under a key it does not hold, and tells the caller once', async () => {
    const foreign = await new AesGcmCodec(ring('k-other')).encode([json(1)]);
    const seen: EncryptionKeyError[] = [];
    const c = new AesGcmCodec(r, { onUnknownKey: (e) => seen.push(e) });
    await expect(c.decode(foreign)).rejects.toThrow(/encrypted under key id 'k-other', which is not in this process's key file keys\.txt \(it holds 'k-2025'\)/);
    expect(seen.map((e) => [e.code, e.keyId])).toEqual([['ENCRYPTION_KEY', 'k-other']]);
  });

  it('refuses altered ciphertext, a relabelled key id and plaintext payloads', async () => {
    const [p] = await codec.encode([json('x')]);
    const flipped = { ...p, data: Uint8Array.from(p.data!, (b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(codec.decode([flipped])).rejects.toThrow(/key id 'k-2025' fails authentication/);
    // Same key bytes under another id: the id is authenticated data, so relabelling is caught.
    const twin: KeyRing = { keys: [r.keys[0], { id: 'k-twin', key: r.keys[0].key }], file: 'k' };
    const relabelled = { metadata: { ...p.metadata, [KEY_ID_METADATA]: Buffer.from('k-twin') }, data: p.data };
    await expect(new AesGcmCodec(twin).decode([relabelled])).rejects.toThrow(/fails authentication/);
    await expect(codec.decode([json('plain')])).rejects.toThrow(/payload is not encrypted \(encoding 'json\/plain'\)/);
  });
});

describe('loadKeyRing', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessel-keys-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a key file from disk and records where it came from', () => {
    writeFileSync(join(dir, 'keys'), `main ${b64()}\n`);
    const r = loadKeyRing(join(dir, 'keys'));
    expect(r.file).toBe(join(dir, 'keys'));
    expect(r.keys[0].id).toBe('main');
  });
});
