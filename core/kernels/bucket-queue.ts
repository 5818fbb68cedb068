/**
 * Monotone-free bucket queue over integer priorities 0..levels−1 with FIFO order inside a bucket:
 * popping returns the oldest item of the lowest non-empty bucket. Items are integers 0..capacity−1,
 * each in the queue at most once at a time (a per-item `next` link makes every bucket a linked FIFO).
 * The lowest non-empty bucket is found through a hierarchy of 32-bit occupancy words (count leading
 * zeros per level), so push and pop cost O(log₃₂ levels) without a heap's cache-missing sift.
 *
 * @see P. van Emde Boas-style bitmap hierarchies; for the watershed use, see R. Barnes et al.,
 *   "Priority-flood", Computers & Geosciences 62:117–127, 2014 (queue choices).
 */
export class BucketQueue {
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly next: Int32Array;
  /** occupancy[0] has one bit per bucket, occupancy[k+1] one bit per word of occupancy[k]. */
  private readonly occupancy: Uint32Array[] = [];
  size = 0;

  constructor(levels: number, capacity: number) {
    this.head = new Int32Array(Math.max(levels, 1)).fill(-1);
    this.tail = new Int32Array(Math.max(levels, 1));
    this.next = new Int32Array(capacity);
    let words = Math.max(levels, 1);
    do {
      words = Math.ceil(words / 32);
      this.occupancy.push(new Uint32Array(words));
    } while (words > 1);
  }

  push(item: number, priority: number): void {
    this.next[item] = -1;
    if (this.head[priority] === -1) {
      this.head[priority] = item;
      let i = priority;
      for (const level of this.occupancy) {
        const w = i >>> 5;
        const was = level[w];
        level[w] = was | (1 << (i & 31));
        if (was !== 0) break;
        i = w;
      }
    } else {
      this.next[this.tail[priority]] = item;
    }
    this.tail[priority] = item;
    this.size++;
  }

  /** Removes and returns the oldest item of the lowest non-empty bucket; the queue must not be empty. */
  pop(): number {
    const occ = this.occupancy;
    let i = 0;
    for (let k = occ.length - 1; k >= 0; k--) i = (i << 5) + lowestBit(occ[k][i]);
    const item = this.head[i];
    const after = this.next[item];
    this.head[i] = after;
    if (after === -1) {
      for (const level of occ) {
        const w = i >>> 5;
        const now = level[w] & ~(1 << (i & 31));
        level[w] = now;
        if (now !== 0) break;
        i = w;
      }
    }
    this.size--;
    return item;
  }
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(w: number): number {
  return 31 - Math.clz32(w & -w);
}
