import { discoverImages as discover } from '../../core/workspace/discover';
import { hashObject, manifestUri, planImage, readManifest, settingsHash } from '../../core/workspace/manifest';
import { joinUri, storeFor } from '../../core/storage';
import type { DiscoveredImage, Locations, RunSettings } from '../../workflows/types';
import { toFailure } from '../common';

export interface DiscoverInput { locations: Locations; imageFilter: string[]; settings: RunSettings; runId: string }

export interface DiscoverOutput {
  /** JSON-lines list of the planned images, one {@link DiscoveredImage} per line (claim check). */
  listUri: string;
  total: number;
  skipped: { uri: string; reason: string }[];
  settingsHash: string;
}

/** Images in the images folder, each planned from its manifest (used by the activity and by `--dry-run`). */
export async function planImages(input: Omit<DiscoverInput, 'runId'>): Promise<{ images: DiscoveredImage[]; skipped: { uri: string; reason: string }[]; settingsHash: string }> {
  const { images, skipped } = await discover(input.locations.images, input.imageFilter);
  const s = input.settings;
  const model = await hashObject(s.model.uri);
  const classifierSha256 = s.classify ? (await hashObject(s.classify.uri)).sha256 : undefined;
  const hash = settingsHash({ channels: s.channels, modelSha256: model.sha256, postprocess: s.postprocess, quantify: s.quantify, classifierSha256 });
  const planned: DiscoveredImage[] = [];
  for (const { name, imageUri } of images) {
    const manifest = await readManifest(manifestUri(input.locations.jobs, name));
    const { plan } = await planImage(imageUri, manifest, hash);
    planned.push({ name, imageUri, plan, keptPredictionsUri: manifest?.intermediates.predictionsUri });
  }
  return { images: planned, skipped, settingsHash: hash };
}

/**
 * Lists the run's images (name = basename cut at the first '.'), filtered by prefix or glob, plans each
 * from its manifest (new, done, failed before, input changed, settings changed, outputs missing), and
 * writes the list to `jobs/<run-id>/images.jsonl` so only its URI travels through Temporal.
 */
export async function discoverImages(input: DiscoverInput): Promise<DiscoverOutput> {
  try {
    const { images, skipped, settingsHash: hash } = await planImages(input);
    const listUri = joinUri(input.locations.jobs, input.runId, 'images.jsonl');
    await storeFor(listUri).writeAtomic(listUri, images.map((i) => JSON.stringify(i)).join('\n') + (images.length ? '\n' : ''));
    return { listUri, total: images.length, skipped, settingsHash: hash };
  } catch (e) {
    throw toFailure(e);
  }
}

/** One page of the discovered list. */
export async function readImageList(input: { listUri: string; offset: number; limit: number }): Promise<DiscoveredImage[]> {
  try {
    const text = Buffer.from(await storeFor(input.listUri).readAll(input.listUri)).toString('utf8');
    return text.split('\n').filter(Boolean).slice(input.offset, input.offset + input.limit).map((l) => JSON.parse(l) as DiscoveredImage);
  } catch (e) {
    throw toFailure(e);
  }
}
