import type { Plane } from '../formats/ndarray';

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
 * are visited up, left, right, down (scikit-image's order of flat offsets).
 *
 * @see F. Meyer, "Topographic distance and watershed lines", Signal Processing 38:113–125, 1994.
 * @see R. Barnes, C. Lehman, D. Mulla, "Priority-flood", Computers & Geosciences 62:117–127, 2014.
 */
export function watershedFromMarkers(surface: Plane<Float32Array>, markers: Int32Array, opts: WatershedOptions = {}): Int32Array {
  const { data, width, height } = surface;
  if (markers.length !== data.length) throw new RangeError('markers and surface differ in size');
  const mask = opts.mask;
  const pw = width + 2;
  // Padded with a 0 border in `open` and `labels`, so neighbours never leave the buffer.
  const open = new Uint8Array(pw * (height + 2));
  const labels = new Int32Array(pw * (height + 2));
  const heap = new MinHeap(Math.max(1024, width * 4));
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let p = (y + 1) * pw + 1;
    for (let x = 0; x < width; x++, p++) {
      const i = row + x;
      if (mask !== undefined && mask[i] === 0) continue;
      open[p] = 1;
      const m = markers[i];
      if (m !== 0) labels[p] = m;
    }
  }
  for (let p = 0; p < labels.length; p++) if (labels[p] !== 0) heap.push(valueAt(data, p, pw, width), p);
  const offsets = [-pw, -1, 1, pw];
  while (heap.size > 0) {
    const p = heap.pop();
    const l = labels[p];
    for (let k = 0; k < 4; k++) {
      const q = p + offsets[k];
      if (open[q] === 0 || labels[q] !== 0) continue;
      labels[q] = l;
      heap.push(valueAt(data, q, pw, width), q);
    }
  }
  const out = new Int32Array(data.length);
  for (let y = 0; y < height; y++) out.set(labels.subarray((y + 1) * pw + 1, (y + 1) * pw + 1 + width), y * width);
  return out;
}

function valueAt(data: Float32Array, p: number, pw: number, width: number): number {
  const y = ((p / pw) | 0) - 1;
  return data[y * width + (p - (y + 1) * pw - 1)];
}

/**
 * Binary min-heap on (value, age) with age assigned at insertion, so equal values leave in FIFO
 * order. Three parallel typed arrays; grows by doubling.
 */
class MinHeap {
  private values: Float64Array;
  private ages: Float64Array;
  private items: Int32Array;
  private nextAge = 0;
  size = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
    this.ages = new Float64Array(capacity);
    this.items = new Int32Array(capacity);
  }

  push(value: number, item: number): void {
    if (this.size === this.items.length) this.grow();
    const values = this.values, ages = this.ages, items = this.items;
    const age = this.nextAge++;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pv = values[parent];
      if (pv < value || (pv === value && ages[parent] < age)) break;
      values[i] = pv; ages[i] = ages[parent]; items[i] = items[parent];
      i = parent;
    }
    values[i] = value; ages[i] = age; items[i] = item;
  }

  pop(): number {
    const values = this.values, ages = this.ages, items = this.items;
    const top = items[0];
    const n = --this.size;
    if (n === 0) return top;
    const value = values[n], age = ages[n], item = items[n];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (values[r] < values[c] || (values[r] === values[c] && ages[r] < ages[c]))) c = r;
      const cv = values[c];
      if (value < cv || (value === cv && age < ages[c])) break;
      values[i] = cv; ages[i] = ages[c]; items[i] = items[c];
      i = c;
    }
    values[i] = value; ages[i] = age; items[i] = item;
    return top;
  }

  private grow(): void {
    const cap = this.items.length * 2;
    const v = new Float64Array(cap); v.set(this.values); this.values = v;
    const a = new Float64Array(cap); a.set(this.ages); this.ages = a;
    const it = new Int32Array(cap); it.set(this.items); this.items = it;
  }
}
