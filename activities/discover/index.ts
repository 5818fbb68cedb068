import { discoverImages as discover } from '../../core/workspace/discover';
import { hashObject, manifestUri, planImage, readManifest, settingsHash } from '../../core/workspace/manifest';
import type { DiscoveredImage, Locations, RunSettings } from '../../workflows/types';
import { toFailure } from '../common';

export interface DiscoverInput { locations: Locations; imageFilter: string[]; settings: RunSettings }

export interface DiscoverOutput {
  images: DiscoveredImage[];
  skipped: { uri: string; reason: string }[];
  settingsHash: string;
}

/**
 * Lists the run's images (name = basename cut at the first '.'), filtered by prefix or glob, and plans
 * each from its manifest: new, done (outputs complete for the same input bytes and settings), failed
 * before, input changed, settings changed, or outputs missing.
 */
export async function discoverImages(input: DiscoverInput): Promise<DiscoverOutput> {
  try {
    const { images, skipped } = await discover(input.locations.images, input.imageFilter);
    const s = input.settings;
    const model = await hashObject(s.model.uri);
    const hash = settingsHash({ channels: s.channels, modelSha256: model.sha256, postprocess: s.postprocess, quantify: s.quantify });
    const planned: DiscoveredImage[] = [];
    for (const { name, imageUri } of images) {
      const manifest = await readManifest(manifestUri(input.locations.jobs, name));
      const { plan } = await planImage(imageUri, manifest, hash);
      planned.push({ name, imageUri, plan, keptPredictionsUri: manifest?.intermediates.predictionsUri });
    }
    return { images: planned, skipped, settingsHash: hash };
  } catch (e) {
    throw toFailure(e);
  }
}
