import type { ValueOrder } from './sort-by-value';

/**
 * The priority queue of a priority-flood watershed, keyed by (value, insertion age): pop returns the
 * lowest value, the earliest pushed among equal values. Every pixel is pushed at most once.
 *
 * The pixels are sorted by value beforehand, so a pixel's place in the queue is its position in that
 * order: a hierarchical occupancy bitmap over positions (one bit per sorted pixel, 32-bit words per
 * level, lowest set bit by `Math.clz32`) replaces a heap's cache-missing sifts. A pixel whose value is
 * unique sits at its own position; a group of equal values shares the group's first position and a
 * FIFO stored in the group's slots, which is what keeps insertion order among ties.
 *
 * @see R. Barnes, C. Lehman, D. Mulla, "Priority-flood", Computers & Geosciences 62:117–127, 2014.
 */
export class FloodQueue {
  /** Unique values: the pixel at each position; tied groups: their FIFO storage. */
  private readonly slot: Int32Array;
  /** At a tied group's start position: pushed and popped counts of its FIFO. */
  private readonly pushed: Int32Array;
  private readonly popped: Int32Array;
  private readonly occupancy: Uint32Array[] = [];
  size = 0;

  /**
   * @param sorted pixels by value (from `sortByValue`)
   * @param pixelId maps a sorted entry's index to the id used in push/pop (e.g. a padded index)
   * @param onPlace told each pixel id's place code, which {@link push} must be given back; callers
   *   keep it beside their own per-pixel state so the flood touches one cache line per pixel
   */
  constructor(sorted: ValueOrder, pixelId: (index: number) => number, onPlace: (id: number, place: number) => void) {
    const { order, keys } = sorted;
    const m = order.length;
    this.slot = new Int32Array(m);
    this.pushed = new Int32Array(m);
    this.popped = new Int32Array(m);
    let start = 0;
    for (let j = 0; j < m; j++) {
      if (j > 0 && keys[j] !== keys[j - 1]) start = j;
      const tied = j > start || (j + 1 < m && keys[j + 1] === keys[j]);
      const id = pixelId(order[j]);
      onPlace(id, 2 * start + (tied ? 1 : 0));
      if (!tied) this.slot[j] = id;
    }
    let words = Math.max(m, 1);
    do {
      words = Math.ceil(words / 32);
      this.occupancy.push(new Uint32Array(words));
    } while (words > 1);
  }

  /** Queues a pixel id, given its place code, that was not queued before. */
  push(id: number, place: number): void {
    const v = place;
    const s = v >>> 1;
    this.size++;
    if ((v & 1) === 1) {
      const c = this.pushed[s];
      this.slot[s + c] = id;
      this.pushed[s] = c + 1;
      if (c !== this.popped[s]) return; // the group's bit is already set
    }
    let i = s;
    for (const level of this.occupancy) {
      const w = i >>> 5;
      const was = level[w];
      level[w] = was | (1 << (i & 31));
      if (was !== 0) break;
      i = w;
    }
  }

  /** Removes and returns the pixel id with the lowest (value, age); the queue must not be empty. */
  pop(): number {
    const occ = this.occupancy;
    let s = 0;
    for (let k = occ.length - 1; k >= 0; k--) { const w = occ[k][s]; s = (s << 5) + (31 - Math.clz32(w & -w)); }
    this.size--;
    const c = this.pushed[s];
    let id: number;
    if (c === 0) {
      id = this.slot[s];
    } else {
      const k = this.popped[s];
      id = this.slot[s + k];
      this.popped[s] = k + 1;
      if (k + 1 !== c) return id; // more of the tied group still queued
    }
    let i = s;
    for (const level of occ) {
      const w = i >>> 5;
      const now = level[w] & ~(1 << (i & 31));
      level[w] = now;
      if (now !== 0) break;
      i = w;
    }
    return id;
  }
}
