import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, ModelChecksumError, ModelContractError, NotFoundError, isTesselError } from '../errors';
import { readZip, writeZip } from '../formats/zip';
import { storeFor } from '../storage';
import { ModelMetadata } from './metadata';
import { readTestTensors, type TestTensorData } from './test-tensors';

/**
 * Model collections: one ZIP holding `segmentation/model.onnx`, `segmentation/model_metadata.json`
 * and `manifest.json` with the SHA-256 and size of every other file, verified on every load, so a
 * model, its metadata and its post-processing defaults are pinned together (HiTMicTools-style).
 */
export const ONNX_ENTRY = 'segmentation/model.onnx';
export const METADATA_ENTRY = 'segmentation/model_metadata.json';
export const MANIFEST_ENTRY = 'manifest.json';

export const CollectionManifest = z.object({
  schemaVersion: z.literal(1),
  files: z.record(z.string(), z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() })),
});
export type CollectionManifest = z.infer<typeof CollectionManifest>;

export interface ModelCollection {
  uri: string;
  metadata: ModelMetadata;
  onnx: Uint8Array;
  /** SHA-256 (hex) of the whole ZIP: the collection's identity (session cache key, benchmark rows). */
  sha256: string;
  /** The test tensors its metadata names, decoded (core/model/test-tensors.ts). */
  testTensors?: TestTensorData;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Per-file verdict of a manifest check. */
export interface ChecksumResult {
  name: string;
  expected?: string;
  actual?: string;
  ok: boolean;
}

/** Compare every manifest entry with the archive (missing and unlisted files count as failures). */
export function checkManifest(entries: Map<string, Uint8Array>, manifest: CollectionManifest): ChecksumResult[] {
  const results: ChecksumResult[] = [];
  for (const [name, want] of Object.entries(manifest.files)) {
    const data = entries.get(name);
    const actual = data ? sha256Hex(data) : undefined;
    results.push({ name, expected: want.sha256, actual, ok: !!data && actual === want.sha256 && data.length === want.bytes });
  }
  for (const name of entries.keys()) {
    if (name !== MANIFEST_ENTRY && !name.endsWith('/') && !(name in manifest.files)) results.push({ name, actual: sha256Hex(entries.get(name)!), ok: false });
  }
  return results;
}

/** Parse and validate metadata JSON; the error names the collection and every failing key. */
export function parseModelMetadata(text: string, file: string): ModelMetadata {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelContractError(file, `${METADATA_ENTRY} is not valid JSON (${(e as Error).message})`);
  }
  const parsed = ModelMetadata.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelContractError(file, `${METADATA_ENTRY} is invalid: ${issues}`);
  }
  const md = parsed.data;
  if (new Set(md.outputs.map((o) => o.meaning)).size !== 4) {
    throw new ModelContractError(file, `${METADATA_ENTRY} is invalid: outputs must name each of the four Mesmer heads once`);
  }
  return md;
}

/** Encode a collection ZIP from model bytes and metadata (validated first), plus `extra` files (test tensors). */
export function encodeModelCollection(onnx: Uint8Array, metadata: ModelMetadata | string, file = 'model collection', extra: readonly { name: string; data: Uint8Array }[] = []): Uint8Array {
  const text = typeof metadata === 'string' ? metadata : JSON.stringify(metadata, null, 2) + '\n';
  parseModelMetadata(text, file);
  // The model is stored, not deflated: float weights shrink ~5% and inflating them cost 1.9 s of every load of a
  // 100 MB Mesmer on 2 busy cores (0.3 s stored).
  return encodeCollection([{ name: ONNX_ENTRY, data: onnx, compress: false }, { name: METADATA_ENTRY, data: new TextEncoder().encode(text) }, ...extra]);
}

/**
 * Encode any collection ZIP: `manifest.json` (SHA-256 and size of every file) first, then the files in
 * order. Segmentation models and cell classifiers (`classifier/…`, see `core/classify/bundle.ts`) are
 * entries of the same format, so one collection may carry both.
 */
export function encodeCollection(files: { name: string; data: Uint8Array; compress?: boolean }[]): Uint8Array {
  const manifest: CollectionManifest = { schemaVersion: 1, files: {} };
  for (const f of files) manifest.files[f.name] = { sha256: sha256Hex(f.data), bytes: f.data.length };
  return writeZip([{ name: MANIFEST_ENTRY, data: new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n') }, ...files]);
}

/** A collection's bytes, its entries by name and its manifest (absent when it has none). */
export interface CollectionEntries { bytes: Uint8Array; entries: Map<string, Uint8Array>; manifest?: CollectionManifest }

/** Open a collection's entries and manifest without judging them (for `tessel model inspect`). */
export async function readModelCollectionEntries(uri: string): Promise<CollectionEntries> {
  const store = storeFor(uri);
  if (!(await store.stat(uri))) throw new NotFoundError(uri);
  return collectionEntriesFromBytes(await store.readAll(uri), uri);
}

/** {@link readModelCollectionEntries} of a collection's bytes already in memory; `uri` names it in messages. */
export function collectionEntriesFromBytes(bytes: Uint8Array, uri: string): CollectionEntries {
  let entries: Map<string, Uint8Array>;
  try {
    entries = readZip(bytes, uri);
  } catch (e) {
    // A corrupt archive is the same failure as a checksum mismatch for the caller: do not use this file.
    const why = isTesselError(e) ? e.message.replace(`${uri}: `, '') : (e as Error).message;
    throw new ModelChecksumError(uri, `not a readable model collection ZIP (${why})`);
  }
  const manifestBytes = entries.get(MANIFEST_ENTRY);
  if (!manifestBytes) return { bytes, entries };
  let manifest: CollectionManifest;
  try {
    manifest = CollectionManifest.parse(JSON.parse(new TextDecoder().decode(manifestBytes)));
  } catch (e) {
    throw new ModelChecksumError(uri, `${MANIFEST_ENTRY} is malformed (${(e as Error).message.split('\n')[0]})`);
  }
  return { bytes, entries, manifest };
}

/**
 * Read a collection and verify every file against `manifest.json` (SHA-256 and size); nothing about
 * which entries it holds.
 *
 * @throws NotFoundError when the URI does not exist.
 * @throws ModelChecksumError on a corrupt archive, a missing/malformed manifest, a mismatching, missing or unlisted file.
 */
export async function readVerifiedCollection(uri: string): Promise<{ entries: Map<string, Uint8Array>; sha256: string }> {
  return verifiedEntries(await readModelCollectionEntries(uri), uri);
}

/** The manifest checks of {@link readVerifiedCollection} on entries already read (see {@link collectionEntriesFromBytes}). */
export function verifiedEntries({ bytes, entries, manifest }: CollectionEntries, uri: string): { entries: Map<string, Uint8Array>; sha256: string } {
  if (!manifest) throw new ModelChecksumError(uri, `no ${MANIFEST_ENTRY} with checksums in the collection`);
  const bad = checkManifest(entries, manifest).filter((r) => !r.ok);
  if (bad.length > 0) {
    const why = bad.map((r) => !r.expected ? `${r.name} is not in the manifest` : !r.actual ? `${r.name} is missing` : `${r.name} has SHA-256 ${r.actual.slice(0, 12)}…, manifest says ${r.expected.slice(0, 12)}…`);
    throw new ModelChecksumError(uri, `checksum mismatch: ${why.join('; ')}`);
  }
  return { entries, sha256: sha256Hex(bytes) };
}

/**
 * Load and verify a model collection: every file must match `manifest.json` (SHA-256 and size), the
 * model and metadata must be present, and the metadata must satisfy the schema.
 *
 * @throws NotFoundError when the URI does not exist.
 * @throws ModelChecksumError on a missing/malformed manifest, a mismatching, missing or unlisted file.
 * @throws ModelContractError when the metadata is not valid JSON or fails the schema.
 */
export async function loadModelCollection(uri: string): Promise<ModelCollection> {
  return verifyModelCollection(await readModelCollectionEntries(uri), uri);
}

/** The checks of {@link loadModelCollection} on entries already read (see {@link collectionEntriesFromBytes}). */
export function verifyModelCollection(collection: CollectionEntries, uri: string): ModelCollection {
  const { entries, sha256 } = verifiedEntries(collection, uri);
  for (const required of [ONNX_ENTRY, METADATA_ENTRY]) {
    if (!entries.has(required)) throw new ModelChecksumError(uri, `collection has no ${required}`);
  }
  const metadata = parseModelMetadata(new TextDecoder().decode(entries.get(METADATA_ENTRY)!), uri);
  const testTensors = metadata.testTensors && readTestTensors(entries, metadata.testTensors, uri);
  return { uri, metadata, onnx: entries.get(ONNX_ENTRY)!, sha256, testTensors };
}

/**
 * Bundle an ONNX file and its metadata JSON into a collection ZIP with a manifest, written atomically.
 * @throws NotFoundError for a missing input; ModelContractError for bad metadata; ConfigError for a bad output name.
 */
export async function bundleModelCollection(opts: { onnxPath: string; metadataPath: string; out: string }): Promise<void> {
  if (!/\.zip$/i.test(opts.out)) throw new ConfigError(`model collection output must end in .zip, got '${opts.out}'`);
  const read = async (uri: string) => {
    const store = storeFor(uri);
    if (!(await store.stat(uri))) throw new NotFoundError(uri);
    return store.readAll(uri);
  };
  const onnx = await read(opts.onnxPath);
  const metadata = new TextDecoder().decode(await read(opts.metadataPath));
  await storeFor(opts.out).writeAtomic(opts.out, encodeModelCollection(onnx, metadata, opts.metadataPath));
}
