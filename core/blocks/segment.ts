import { deepWatershedStages, type WatershedMaps } from '../postprocess/deep-watershed';
import type { Compartment, DeepWatershedParams } from '../postprocess/params';
import type { Rect } from './grid';

/**
 * One block's deep watershed, on its window (core + halo), and the *pieces* it leaves in its core: the
 * objects with pixels there, each with its core bounding box, its core area and its seed — where, in
 * the image's raster order, its marker's first pixel lies. A whole-image run numbers objects in that
 * order, so sorting stitched objects by seed numbers them as it would.
 */

export const COMPARTMENTS: readonly Compartment[] = ['whole-cell', 'nuclear'];

/** An object's part in a block's core. Boxes are [x0, y0, x1, y1) in image pixels. */
export interface Piece {
  /** The object's label in the block's window labels. */
  label: number;
  /** Flat image index (y · width + x) of the first pixel of the object's marker. */
  seed: number;
  box: [number, number, number, number];
  area: number;
}

/** Watershed labels of a window and their seeds (flat image indices, per label 1..n). */
export interface WindowSegmentation {
  labels: Int32Array;
  seeds: Float64Array;
}

/** Deep watershed on a window's maps; `imageWidth` makes the seeds image-wide. */
export function segmentWindow(maps: WatershedMaps, window: Rect, imageWidth: number, params: DeepWatershedParams): WindowSegmentation {
  const { labels, markers, grown } = deepWatershedStages(maps, params);
  let markerCount = 0;
  for (let i = 0; i < markers.length; i++) if (markers[i] > markerCount) markerCount = markers[i];
  const first = new Float64Array(markerCount + 1).fill(-1);
  for (let i = 0; i < markers.length; i++) {
    const m = markers[i];
    if (m > 0 && first[m] < 0) first[m] = i;
  }
  // Relabelling keeps marker order: label l is the l-th marker still present after the clean-up.
  const present = new Uint8Array(markerCount + 1);
  for (let i = 0; i < grown.length; i++) present[grown[i]] = 1;
  const seeds: number[] = [];
  for (let m = 1; m <= markerCount; m++) {
    if (!present[m]) continue;
    const p = first[m];
    const y = window.y + Math.floor(p / window.width), x = window.x + (p % window.width);
    seeds.push(y * imageWidth + x);
  }
  return { labels, seeds: Float64Array.from(seeds) };
}

/** The pieces of a window's labels inside `core` (ascending label). */
export function corePieces(seg: WindowSegmentation, window: Rect, core: Rect): Piece[] {
  const n = seg.seeds.length;
  const area = new Int32Array(n + 1);
  const x0 = new Int32Array(n + 1).fill(2 ** 30), y0 = new Int32Array(n + 1).fill(2 ** 30);
  const x1 = new Int32Array(n + 1), y1 = new Int32Array(n + 1);
  for (let y = core.y; y < core.y + core.height; y++) {
    const row = (y - window.y) * window.width - window.x;
    for (let x = core.x; x < core.x + core.width; x++) {
      const l = seg.labels[row + x];
      if (l === 0) continue;
      area[l]++;
      if (x < x0[l]) x0[l] = x;
      if (x + 1 > x1[l]) x1[l] = x + 1;
      if (y < y0[l]) y0[l] = y;
      y1[l] = y + 1;
    }
  }
  const out: Piece[] = [];
  for (let l = 1; l <= n; l++) if (area[l] > 0) out.push({ label: l, seed: seg.seeds[l - 1], box: [x0[l], y0[l], x1[l], y1[l]], area: area[l] });
  return out;
}
