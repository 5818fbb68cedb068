/** Largest label value in a label image (0 when empty or all background). */
export function maxLabel(labels: Int32Array): number {
  let max = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  return max;
}

/** Pixel count of every label value 0..maxLabel (index = label). */
export function labelAreas(labels: Int32Array, max = maxLabel(labels)): Int32Array {
  const areas = new Int32Array(max + 1);
  for (let i = 0; i < labels.length; i++) areas[labels[i]]++;
  return areas;
}

/**
 * Sets to 0 every labelled object with fewer than `minSize` pixels — Mesmer's "remove objects smaller
 * than small_objects_threshold", i.e. deepcell-toolbox's `remove_small_objects(labels, min_size=t)`
 * with the exclusive threshold scikit-image used until 0.26 (0.26's `max_size=t-1`). Objects are the
 * label values themselves (no re-labelling by connectivity). Returns a new array (or `labels` itself,
 * changed, with `inPlace`); labels must be ≥ 0.
 *
 * @see scikit-image `skimage.morphology.remove_small_objects`.
 */
export function removeSmallObjects(labels: Int32Array, minSize: number, opts: InPlaceOption = {}): Int32Array {
  const out = opts.inPlace ? labels : labels.slice();
  if (minSize <= 1) return out;
  const areas = labelAreas(labels);
  for (let i = 0; i < out.length; i++) if (areas[out[i]] < minSize) out[i] = 0;
  return out;
}

/** Option of the label clean-up kernels: change the given labels instead of returning a changed copy. */
export interface InPlaceOption {
  /** @default false */
  inPlace?: boolean;
}
