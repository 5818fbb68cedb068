import { createHash } from 'node:crypto';
import type { ImagePlan, ManifestInput } from '../contracts';
import { storeFor, joinUri } from '../storage';

/**
 * Per-image manifest, written last (atomically) when an image completes: the input's content hash, the
 * settings hash, and every output with its size and hash. A later run skips the image when the input
 * and settings are unchanged and every output is still there; `--force` redoes it.
 */
export interface ImageManifest {
  version: 1;
  name: string;
  imageUri: string;
  input: { sha256: string; size: number; generation?: string };
  settingsHash: string;
  runId: string;
  status: 'done' | 'failed';
  error?: string;
  completedAt: string;
  outputs: Record<string, { uri: string; size: number; sha256: string }>;
  /** Kept intermediates, reusable by `--from-stage`. */
  intermediates: { npzUri?: string; predictionsUri?: string };
}

export function manifestUri(jobsUri: string, name: string): string {
  return joinUri(jobsUri, 'manifests', `${name}.json`);
}

/** SHA-256 of an object's bytes, read in ranges so large images never sit whole in memory. */
export async function hashObject(uri: string): Promise<{ sha256: string; size: number }> {
  const { hex, size } = await digestObject(uri, 'sha256');
  return { sha256: hex, size };
}

/** Hex digest of an object's bytes with any node:crypto algorithm, read in 8 MiB ranges. */
export async function digestObject(uri: string, algorithm: string, chunk = 8 << 20): Promise<{ hex: string; size: number }> {
  const reader = await storeFor(uri).openRange(uri);
  try {
    const size = await reader.size();
    const h = createHash(algorithm);
    for (let off = 0; off < size; off += chunk) h.update(await reader.read(off, Math.min(chunk, size - off)));
    return { hex: h.digest('hex'), size };
  } finally {
    await reader.close();
  }
}

/** Stable JSON (sorted keys) so equal settings hash equally. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Hash of everything that changes an image's outputs: channels, model bytes, postprocess and quantify settings, and the
 * classifier's bytes when there is one (absent, the hash is what it was before classifiers existed).
 */
export function settingsHash(parts: { channels: unknown; modelSha256: string; postprocess: unknown; quantify: unknown; classifierSha256?: string }): string {
  return createHash('sha256').update(stableStringify(parts)).digest('hex');
}

export async function readManifest(uri: string): Promise<ImageManifest | undefined> {
  const store = storeFor(uri);
  if (!(await store.stat(uri))) return undefined;
  try {
    return JSON.parse(Buffer.from(await store.readAll(uri)).toString('utf8')) as ImageManifest;
  } catch {
    return undefined; // an unreadable manifest means "unknown": the image is redone
  }
}

/**
 * What a run would do with an image. The input is re-hashed only when its size or generation differ
 * from the manifest's, so planning a large unchanged workspace costs a stat per file.
 */
export async function planImage(imageUri: string, manifest: ImageManifest | undefined, currentSettingsHash: string): Promise<{ plan: ImagePlan; inputSha256?: string }> {
  if (!manifest) return { plan: 'new' };
  const st = await storeFor(imageUri).stat(imageUri);
  if (!st) return { plan: 'new' };
  let sameInput = st.size === manifest.input.size && st.generation !== undefined && st.generation === manifest.input.generation;
  let inputSha256: string | undefined;
  if (!sameInput) {
    inputSha256 = (await hashObject(imageUri)).sha256;
    sameInput = inputSha256 === manifest.input.sha256;
  }
  if (!sameInput) return { plan: 'input-changed', inputSha256 };
  if (manifest.status === 'failed') return { plan: 'failed-before', inputSha256 };
  if (manifest.settingsHash !== currentSettingsHash) return { plan: 'settings-changed', inputSha256 };
  for (const o of Object.values(manifest.outputs)) {
    const os = await storeFor(o.uri).stat(o.uri);
    if (!os || os.size !== o.size) return { plan: 'outputs-missing', inputSha256 };
  }
  return { plan: 'done', inputSha256 };
}

/** The manifest of an image's outcome: its input's hash and, for a completed image, every output's size and hash. */
export async function buildManifest(input: ManifestInput): Promise<ImageManifest> {
  const { result } = input;
  const inputHash = await hashObject(result.imageUri);
  const st = await storeFor(result.imageUri).stat(result.imageUri);
  const outputs: ImageManifest['outputs'] = {};
  if (result.status === 'done' && result.outputs) {
    const o = result.outputs;
    const files: Record<string, string | undefined> = {
      npz: o.npzUri, wholeCellMask: o.wholeCellMaskUri, nucleusMask: o.nucleusMaskUri, tsv: o.tsvUri, geojson: o.geojsonUri,
      wholeCellBoxes: o.wholeCellBoxesUri, nucleusBoxes: o.nucleusBoxesUri,
    };
    for (const [k, uri] of Object.entries(files)) {
      if (!uri) continue;
      const h = await hashObject(uri);
      outputs[k] = { uri, size: h.size, sha256: h.sha256 };
    }
  }
  return {
    version: 1, name: result.name, imageUri: result.imageUri,
    input: { sha256: inputHash.sha256, size: inputHash.size, generation: st?.generation },
    settingsHash: input.settingsHash, runId: input.runId, status: result.status === 'done' ? 'done' : 'failed',
    error: result.error, completedAt: new Date().toISOString(), outputs, intermediates: input.intermediates,
  };
}

/** Writes the image's manifest atomically; written last, its presence means every listed output is complete. */
export async function writeManifest(input: ManifestInput): Promise<void> {
  const manifest = await buildManifest(input);
  const uri = manifestUri(input.jobsDir, manifest.name);
  await storeFor(uri).writeAtomic(uri, JSON.stringify(manifest, null, 2));
}
