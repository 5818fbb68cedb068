import type { DiscoveredImage, DiscoverInput, DiscoverOutput, ImageListPage } from '../contracts';
import { joinUri, storeFor } from '../storage';
import { discoverImages } from './discover';
import { hashObject, manifestUri, planImage, readManifest, settingsHash } from './manifest';

export interface ImagesPlan {
  images: DiscoveredImage[];
  skipped: { uri: string; reason: string }[];
  settingsHash: string;
}

/**
 * The images of a run, each planned from its manifest (new, done, failed before, input changed, settings
 * changed, outputs missing); the settings hash covers the channels, the model's bytes and the
 * postprocess and quantify settings, and the classifier's bytes when there is one. Used by the `discover` activity and by `tessel run --dry-run`.
 */
export async function planImages(input: Omit<DiscoverInput, 'runId'>): Promise<ImagesPlan> {
  const { images, skipped } = await discoverImages(input.locations.images, input.imageFilter);
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
 * Plans the run's images and writes the list to `jobs/<run-id>/images.jsonl`, one {@link DiscoveredImage}
 * per line, so only its URI travels through Temporal (claim check).
 */
export async function planRun(input: DiscoverInput): Promise<DiscoverOutput> {
  const { images, skipped, settingsHash: hash } = await planImages(input);
  const listUri = joinUri(input.locations.jobs, input.runId, 'images.jsonl');
  await storeFor(listUri).writeAtomic(listUri, images.map((i) => JSON.stringify(i)).join('\n') + (images.length ? '\n' : ''));
  return { listUri, total: images.length, skipped, settingsHash: hash };
}

/** One page of a run's image list. */
export async function readImageListPage(page: ImageListPage): Promise<DiscoveredImage[]> {
  const text = Buffer.from(await storeFor(page.listUri).readAll(page.listUri)).toString('utf8');
  return text.split('\n').filter(Boolean).slice(page.offset, page.offset + page.limit).map((l) => JSON.parse(l) as DiscoveredImage);
}
