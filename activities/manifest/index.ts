import { hashObject, manifestUri, type ImageManifest } from '../../core/workspace/manifest';
import { storeFor } from '../../core/storage';
import type { ImageResult } from '../../workflows/types';
import { toFailure } from '../common';

export interface ManifestInput {
  runId: string;
  jobsDir: string;
  result: ImageResult;
  settingsHash: string;
  intermediates: { npzUri?: string; predictionsUri?: string };
}

/** Writes the image's manifest last, so its presence means every listed output is complete. */
export async function writeManifest(input: ManifestInput): Promise<void> {
  try {
    const { result } = input;
    const inputHash = await hashObject(result.imageUri);
    const st = await storeFor(result.imageUri).stat(result.imageUri);
    const outputs: ImageManifest['outputs'] = {};
    if (result.status === 'done' && result.outputs) {
      const o = result.outputs;
      const files: Record<string, string | undefined> = {
        npz: o.npzUri, wholeCellMask: o.wholeCellMaskUri, nucleusMask: o.nucleusMaskUri, tsv: o.tsvUri, geojson: o.geojsonUri,
      };
      for (const [k, uri] of Object.entries(files)) {
        if (!uri) continue;
        const h = await hashObject(uri);
        outputs[k] = { uri, size: h.size, sha256: h.sha256 };
      }
    }
    const manifest: ImageManifest = {
      version: 1, name: result.name, imageUri: result.imageUri,
      input: { sha256: inputHash.sha256, size: inputHash.size, generation: st?.generation },
      settingsHash: input.settingsHash, runId: input.runId, status: result.status === 'done' ? 'done' : 'failed',
      error: result.error, completedAt: new Date().toISOString(), outputs, intermediates: input.intermediates,
    };
    const uri = manifestUri(input.jobsDir, result.name);
    await storeFor(uri).writeAtomic(uri, JSON.stringify(manifest, null, 2));
  } catch (e) {
    throw toFailure(e);
  }
}
