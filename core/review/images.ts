import { discoverImages } from '../workspace/discover';
import { joinUri, storeFor } from '../storage';

/** Folders of a workspace the review reads, as `tessel run workspace` names them. */
export interface ReviewFolders {
  images: string;
  segmasks: string;
  reports: string;
}

/** The deepcell-imaging layout under a workspace root. */
export function reviewFolders(root: string, sub: Partial<Record<'imagesSubdir' | 'segmasksSubdir' | 'reportsSubdir', string>> = {}): ReviewFolders {
  return {
    images: joinUri(root, sub.imagesSubdir ?? 'OMETIFF'),
    segmasks: joinUri(root, sub.segmasksSubdir ?? 'SEGMASK'),
    reports: joinUri(root, sub.reportsSubdir ?? 'REPORTS'),
  };
}

/** One completed image: its OME-TIFF, whole-cell mask and measurement table (and GeoJSON, if written). */
export interface ReviewImage {
  name: string;
  imageUri: string;
  wholeCellMaskUri: string;
  tsvUri: string;
  geojsonUri?: string;
}

/**
 * The images of a workspace that have been segmented and measured (their mask and table exist), filtered
 * by name (prefixes or globs, as `--image-filter`); the others are listed in `incomplete` with what is missing.
 */
export async function completedImages(folders: ReviewFolders, filter: readonly string[] = []): Promise<{ images: ReviewImage[]; incomplete: { name: string; missing: string }[] }> {
  const { images } = await discoverImages(folders.images, filter);
  const done: ReviewImage[] = [];
  const incomplete: { name: string; missing: string }[] = [];
  for (const im of images) {
    const wholeCellMaskUri = joinUri(folders.segmasks, `${im.name}_WholeCellMask.tiff`);
    const tsvUri = joinUri(folders.reports, `${im.name}_QUANT.tsv`);
    const geojsonUri = joinUri(folders.reports, `${im.name}.geojson`);
    const [mask, tsv, geo] = await Promise.all([wholeCellMaskUri, tsvUri, geojsonUri].map((u) => storeFor(u).stat(u)));
    const missing = [!mask && wholeCellMaskUri, !tsv && tsvUri].filter(Boolean).join(', ');
    if (missing) incomplete.push({ name: im.name, missing });
    else done.push({ name: im.name, imageUri: im.imageUri, wholeCellMaskUri, tsvUri, geojsonUri: geo ? geojsonUri : undefined });
  }
  return { images: done, incomplete };
}
