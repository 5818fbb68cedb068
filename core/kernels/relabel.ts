import type { InPlaceOption } from './remove-small-objects';

/** Result of {@link relabelSequential}. */
export interface Relabelling {
  labels: Int32Array;
  /** Number of objects, labelled 1..count. */
  count: number;
}

/**
 * Renumbers the labels present to 1..n keeping their order by value (the smallest present label
 * becomes 1), background 0 stays 0 — scikit-image's `relabel_sequential` with offset 1. Deep watershed's
 * labels come from markers numbered in raster order, so this also keeps (marker) raster order.
 * Returns a new array (or `labels` itself, renumbered, with `inPlace`); labels must be ≥ 0.
 *
 * @see scikit-image `skimage.segmentation.relabel_sequential`.
 */
export function relabelSequential(labels: Int32Array, opts: InPlaceOption = {}): Relabelling {
  let max = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  const map = new Int32Array(max + 1);
  for (let i = 0; i < labels.length; i++) map[labels[i]] = 1;
  let count = 0;
  for (let l = 1; l <= max; l++) if (map[l] !== 0) map[l] = ++count;
  map[0] = 0;
  const out = opts.inPlace ? labels : new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = map[labels[i]];
  return { labels: out, count };
}
