import { discoverImages as discover } from '../../core/workspace/discover';
import type { DiscoveredImage, Locations } from '../../workflows/types';
import { toFailure } from '../common';

export interface DiscoverInput { locations: Locations; imageFilter: string[] }

/** Lists the run's images (name = basename cut at the first '.'), filtered by prefix or glob. */
export async function discoverImages(input: DiscoverInput): Promise<{ images: DiscoveredImage[]; skipped: { uri: string; reason: string }[] }> {
  try {
    const { images, skipped } = await discover(input.locations.images, input.imageFilter);
    return { images: images.map(({ name, imageUri }) => ({ name, imageUri })), skipped };
  } catch (e) {
    throw toFailure(e);
  }
}
