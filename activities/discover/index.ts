import type { DiscoveredImage, DiscoverInput, DiscoverOutput, ImageListPage } from '../../core/contracts';
import { planRun, readImageListPage } from '../../core/workspace/plan';
import { toFailure } from '../common';

/** Lists and plans the run's images (see `planRun`); only the list's URI comes back. */
export async function discover(input: DiscoverInput): Promise<DiscoverOutput> {
  return planRun(input).catch((e: unknown) => {
    throw toFailure(e);
  });
}

/** One page of the discovered list. */
export async function readImageList(input: ImageListPage): Promise<DiscoveredImage[]> {
  return readImageListPage(input).catch((e: unknown) => {
    throw toFailure(e);
  });
}
