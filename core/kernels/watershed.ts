import type { Plane } from '../formats/ndarray';
import { FloodQueue } from './flood-queue';
import { sortByValue } from './sort-by-value';

/** Options of {@link watershedFromMarkers}. */
export interface WatershedOptions {
  /** Pixels where this is 0 stay 0 (background); markers there are dropped. @default all pixels */
  mask?: Uint8Array;
}

/**
 * Marker-controlled watershed by priority flood (4-connected, no watershed lines) over `surface`,
 * replicating scikit-image's `segmentation.watershed(surface, markers, mask=mask)`:
 * every marker pixel enters a priority queue; the lowest entry is taken out and each unlabelled,
 * unmasked 4-neighbour receives its label at once and enters the queue.
 *
 * Tie-breaking (documented rule): entries are ordered by surface value, then by insertion age —
 * first in, first out among equal values. Marker pixels are inserted first, in raster order
 * (scikit-image gives them all age 0, so its order among equal-valued markers is its heap's; only
 * a pixel touching two different markers of exactly equal value can differ); neighbours of a pixel
 * are visited up, left, right, down (scikit-image's order of flat offsets). Markers are labels > 0
 * (0 = none); a negative marker is refused with a RangeError.
 *
 * @see F. Meyer, "Topographic distance and watershed lines", Signal Processing 38:113–125, 1994.
 * @see R. Barnes, C. Lehman, D. Mulla, "Priority-flood", Computers & Geosciences 62:117–127, 2014.
 *
 * Implementation: the masked pixels are radix-sorted by value once, and the queue is a bitmap over
 * distinct values with a FIFO per group of equal values ({@link FloodQueue}) — the same
 * (value, age) order as a heap, without a heap's O(log n) cache-missing sifts.
 */
export function watershedFromMarkers(surface: Plane<Float32Array>, markers: Int32Array, opts: WatershedOptions = {}): Int32Array {
  const { data, width, height } = surface;
  if (markers.length !== data.length) throw new RangeError('markers and surface differ in size');
  const pw = width + 2;
  const ids = pw * (height + 2);
  // One int32 per pixel of a buffer padded by one pixel: a label (> 0) once reached; before that
  // −(queue place + 2); −1 for padding and masked-out pixels. A neighbour costs one load, and the
  // buffer is half what a label and a place side by side would take.
  const state = new Int32Array(ids).fill(-1);
  const queue = new FloodQueue(sortByValue(data, opts.mask), (i) => i + pw + 1 + 2 * Math.floor(i / width), (id, place) => {
    state[id] = -(place + 2);
  }, { consumeSorted: true });
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let p = (y + 1) * pw + 1;
    for (let x = 0; x < width; x++, p++) {
      const m = markers[row + x];
      if (m === 0) continue;
      if (m < 0) throw new RangeError(`watershed markers must be >= 0, got ${m} at x=${x}, y=${y}`);
      const s = state[p];
      if (s < -1) { state[p] = m; queue.push(p, -s - 2); }
    }
  }
  while (queue.size > 0) {
    const p = queue.pop();
    const l = state[p];
    // Up, left, right, down: scikit-image's neighbour order, which fixes the ages of equal values.
    let q = p - pw;
    let s = state[q];
    if (s < -1) { state[q] = l; queue.push(q, -s - 2); }
    q = p - 1; s = state[q];
    if (s < -1) { state[q] = l; queue.push(q, -s - 2); }
    q = p + 1; s = state[q];
    if (s < -1) { state[q] = l; queue.push(q, -s - 2); }
    q = p + pw; s = state[q];
    if (s < -1) { state[q] = l; queue.push(q, -s - 2); }
  }
  const out = new Int32Array(data.length);
  for (let y = 0; y < height; y++) {
    let p = (y + 1) * pw + 1;
    for (let x = 0, i = y * width; x < width; x++, i++, p++) { const l = state[p]; out[i] = l > 0 ? l : 0; }
  }
  return out;
}
