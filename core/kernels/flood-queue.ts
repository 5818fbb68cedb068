import type { ValueOrder } from './sort-by-value';

/** Options of {@link FloodQueue}. */
export interface FloodQueueOptions {
  /**
   * Let the queue keep `sorted`'s key array as its own storage: the caller must not use `sorted`
   * afterwards. Saves 4 bytes per entry at the queue's peak. @default false
   */
  consumeSorted?: boolean;
  /**
   * Two arrays of at least as many entries as `sorted`, which the queue may overwrite (e.g. the sort's
   * scratch halves). With them, `onPlace` is told the pixels bucket by bucket of 2¹⁶ consecutive
   * indices (by value within a bucket) instead of all by value: the places are first gathered per
   * bucket, so the caller's per-pixel writes land in one small window of its arrays at a time instead
   * of all over them (the watershed at 4096², whose state array is 67 MB: the queue's construction
   * 1.1 s → 0.4–0.7 s).
   */
  scratch?: { ids: Int32Array; places: Int32Array };
}

/** log₂ of the pixels per bucket when places are told bucket by bucket: 2¹⁶ int32s (256 KiB) fit a core's L2 cache. */
const PLACE_BUCKET_BITS = 16;

/**
 * The priority queue of a priority-flood watershed, keyed by (value, insertion age): pop returns the
 * lowest value, the earliest pushed among equal values. Every pixel is pushed at most once.
 *
 * The pixels are sorted by value beforehand, so each distinct value has a rank, and the queue is a
 * hierarchical occupancy bitmap over ranks (one bit per distinct value, 32-bit words per level, lowest
 * set bit by `Math.clz32`) instead of a heap's cache-missing sifts. A value held by one pixel is that
 * pixel; a value shared by several (a tied group) owns a record — its rank, pushed and popped counts,
 * then its FIFO of pixel ids, which keeps insertion order among ties — so a push or pop of a tied
 * pixel touches one place in memory. Place codes are below 2³¹, so callers can keep them as negative
 * int32s in the same array as their labels.
 *
 * @see R. Barnes, C. Lehman, D. Mulla, "Priority-flood", Computers & Geosciences 62:117–127, 2014.
 */
export class FloodQueue {
  /** Per rank: the pixel id of a unique value, or −(record offset + 1) for a tied group. */
  private readonly entry: Int32Array;
  /** Tied groups' records back to back: [rank, pushed, popped, id₀ … id₍size−1₎]. */
  private readonly groups: Int32Array;
  private readonly occupancy: Uint32Array[] = [];
  size = 0;

  /**
   * @param sorted pixels by value (from `sortByValue`)
   * @param pixelId maps a sorted entry's index to the id used in push/pop (e.g. a padded index)
   * @param onPlace told each pixel id's place code (0 ≤ code < 2³¹ − 2), which {@link push} must be
   *   given back; callers keep it beside their own per-pixel state so the flood touches one cache line per pixel
   * @throws RangeError past 2³⁰ entries
   */
  constructor(sorted: ValueOrder, pixelId: (index: number) => number, onPlace: (id: number, place: number) => void, opts: FloodQueueOptions = {}) {
    const { order, keys } = sorted;
    const m = order.length;
    let ranks = 0, space = 0;
    for (let j = 0; j < m;) {
      let e = j + 1;
      while (e < m && keys[e] === keys[j]) e++;
      ranks++;
      if (e - j > 1) space += 3 + e - j;
      j = e;
    }
    if (ranks >= 2 ** 30 || space >= 2 ** 30) throw new RangeError(`the watershed queue holds at most 2^30 values, got ${m} pixels; split the image into blocks`);
    // Ranks never run ahead of positions, so the entries can overwrite the keys as they are read.
    this.entry = opts.consumeSorted ? new Int32Array(keys.buffer, keys.byteOffset, ranks) : new Int32Array(ranks);
    this.groups = new Int32Array(space);
    // Each entry's place goes to onPlace at once, or with scratch into its index bucket, told after.
    const scratch = opts.scratch;
    if (scratch && (scratch.ids.length < m || scratch.places.length < m)) throw new RangeError(`the queue's scratch must hold ${m} entries`);
    const next = scratch ? bucketStarts(order) : undefined;
    const place = (index: number, code: number): void => {
      if (next) {
        const d = next[index >>> PLACE_BUCKET_BITS]++;
        scratch!.ids[d] = index;
        scratch!.places[d] = code;
      } else {
        onPlace(pixelId(index), code);
      }
    };
    let rank = 0, at = 0;
    for (let j = 0; j < m;) {
      const key = keys[j];
      let e = j + 1;
      while (e < m && keys[e] === key) e++;
      if (e - j === 1) {
        place(order[j], 2 * rank);
        this.entry[rank] = pixelId(order[j]);
      } else {
        this.groups[at] = rank;
        for (let k = j; k < e; k++) place(order[k], 2 * at + 1);
        this.entry[rank] = -(at + 1);
        at += 3 + e - j;
      }
      rank++;
      j = e;
    }
    if (scratch) for (let d = 0; d < m; d++) onPlace(pixelId(scratch.ids[d]), scratch.places[d]);
    let words = Math.max(ranks, 1);
    do {
      words = Math.ceil(words / 32);
      this.occupancy.push(new Uint32Array(words));
    } while (words > 1);
  }

  /** Queues a pixel id, given its place code, that was not queued before. */
  push(id: number, place: number): void {
    this.size++;
    let r: number;
    if ((place & 1) === 1) {
      const g = place >>> 1;
      const groups = this.groups;
      const c = groups[g + 1];
      groups[g + 3 + c] = id;
      groups[g + 1] = c + 1;
      if (c !== groups[g + 2]) return; // the group's bit is already set
      r = groups[g];
    } else {
      r = place >>> 1;
    }
    let i = r;
    const occ = this.occupancy;
    for (let k = 0; k < occ.length; k++) {
      const level = occ[k];
      const w = i >>> 5;
      const was = level[w];
      level[w] = was | (1 << (i & 31));
      if (was !== 0) break;
      i = w;
    }
  }

  /** The pixel id {@link pop} would return now, or −1 when the queue is empty; changes nothing. */
  peek(): number {
    if (this.size === 0) return -1;
    const occ = this.occupancy;
    let r = 0;
    for (let k = occ.length - 1; k >= 0; k--) { const w = occ[k][r]; r = (r << 5) + (31 - Math.clz32(w & -w)); }
    const e = this.entry[r];
    if (e >= 0) return e;
    const g = -(e + 1);
    return this.groups[g + 3 + this.groups[g + 2]];
  }

  /** Removes and returns the pixel id with the lowest (value, age); the queue must not be empty. */
  pop(): number {
    const occ = this.occupancy;
    let r = 0;
    for (let k = occ.length - 1; k >= 0; k--) { const w = occ[k][r]; r = (r << 5) + (31 - Math.clz32(w & -w)); }
    this.size--;
    const e = this.entry[r];
    let id: number;
    if (e >= 0) {
      id = e;
    } else {
      const g = -(e + 1);
      const groups = this.groups;
      const k = groups[g + 2];
      id = groups[g + 3 + k];
      groups[g + 2] = k + 1;
      if (k + 1 !== groups[g + 1]) return id; // more of the tied group still queued
    }
    let i = r;
    for (let k = 0; k < occ.length; k++) {
      const level = occ[k];
      const w = i >>> 5;
      const now = level[w] & ~(1 << (i & 31));
      level[w] = now;
      if (now !== 0) break;
      i = w;
    }
    return id;
  }
}

/** Where each index bucket of `order`'s entries starts in a list of them grouped by bucket (a counting sort's offsets). */
function bucketStarts(order: Int32Array): Int32Array {
  let max = 0;
  for (let j = 0; j < order.length; j++) if (order[j] > max) max = order[j];
  const starts = new Int32Array((max >>> PLACE_BUCKET_BITS) + 2);
  for (let j = 0; j < order.length; j++) starts[(order[j] >>> PLACE_BUCKET_BITS) + 1]++;
  for (let b = 1; b < starts.length; b++) starts[b] += starts[b - 1];
  return starts;
}
