import type { Compartment } from '../postprocess/params';
import { blockAt, type BlockLayout } from './grid';
import type { Piece } from './segment';

/**
 * Stitching: every piece (an object's part in one block's core) joins the pieces it was paired with
 * (see match.ts) into one object, by union–find over all pairs; objects are numbered 1..n by seed
 * (where their marker starts in raster order; ties by block, then label), the order a whole-image run
 * numbers them in. Each final pixel keeps the label of the block whose core holds it, so the masks are
 * the cores' labels renamed: no pixel is claimed twice or dropped, and labels are global int32 with no
 * per-block packing.
 *
 * Memory: a few numbers per piece (about one piece per cell, a few more for cells on block lines).
 */

export interface BlockPieces {
  index: number;
  pieces: Piece[];
  /** Pairs [this block's label, partner's label] per partner block. */
  matches: { partner: number; pairs: [number, number][] }[];
}

export interface StitchedObjects {
  count: number;
  /** Per block (ascending), its pieces' local → global labels: triplets (block, local, global), sorted. */
  relabel: Int32Array;
  /** Per object (row = label − 1): [y0, x0, y1, x1), numpy slice order. */
  boxes: Int32Array;
  /** Per object: pixel count. */
  areas: Float64Array;
}

/** Stitches one compartment from every segmented block's pieces and pairs (blocks in any order). */
export function stitchObjects(blocks: readonly BlockPieces[]): StitchedObjects {
  const sorted = [...blocks].sort((a, b) => a.index - b.index);
  const offset = new Map<number, number>();
  let nodes = 0;
  for (const b of sorted) {
    offset.set(b.index, nodes);
    nodes += b.pieces.length;
  }
  const nodeOf = (block: number, label: number): number => {
    const b = sorted[findBlock(sorted, block)];
    const k = findPiece(b.pieces, label);
    if (k < 0) throw new RangeError(`block ${block} has no piece labelled ${label}`);
    return offset.get(block)! + k;
  };
  const parent = new Int32Array(nodes).map((_, i) => i);
  const find = (a: number): number => {
    while (parent[a] !== a) { parent[a] = parent[parent[a]]; a = parent[a]; }
    return a;
  };
  for (const b of sorted) {
    for (const { partner, pairs } of b.matches) {
      for (const [la, lb] of pairs) {
        const ra = find(nodeOf(b.index, la)), rb = find(nodeOf(partner, lb));
        if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
      }
    }
  }
  // Each object's seed is its pieces' smallest; its root is its first node (block order, then label).
  const seed = new Float64Array(nodes).fill(Infinity);
  const blockOfNode = new Int32Array(nodes), labelOfNode = new Int32Array(nodes);
  for (const b of sorted) {
    const o = offset.get(b.index)!;
    b.pieces.forEach((p, k) => {
      const r = find(o + k);
      if (p.seed < seed[r]) seed[r] = p.seed;
      blockOfNode[o + k] = b.index;
      labelOfNode[o + k] = p.label;
    });
  }
  const roots: number[] = [];
  for (let i = 0; i < nodes; i++) if (find(i) === i) roots.push(i);
  roots.sort((a, b) => seed[a] - seed[b] || a - b);
  const idOfRoot = new Int32Array(nodes);
  roots.forEach((r, k) => { idOfRoot[r] = k + 1; });
  const count = roots.length;
  const boxes = new Int32Array(count * 4);
  for (let k = 0; k < count; k++) boxes.set([2 ** 30, 2 ** 30, -1, -1], 4 * k);
  const areas = new Float64Array(count);
  const relabel = new Int32Array(nodes * 3);
  for (const b of sorted) {
    const o = offset.get(b.index)!;
    b.pieces.forEach((p, k) => {
      const id = idOfRoot[find(o + k)];
      relabel.set([b.index, p.label, id], 3 * (o + k));
      const at = 4 * (id - 1);
      const [x0, y0, x1, y1] = p.box;
      if (y0 < boxes[at]) boxes[at] = y0;
      if (x0 < boxes[at + 1]) boxes[at + 1] = x0;
      if (y1 > boxes[at + 2]) boxes[at + 2] = y1;
      if (x1 > boxes[at + 3]) boxes[at + 3] = x1;
      areas[id - 1] += p.area;
    });
  }
  return { count, relabel, boxes, areas };
}

/** A block's local → global table from the relabel triplets (index = local label; 0 stays 0). */
export function blockRelabel(relabel: Int32Array, block: number, maxLabel: number): Int32Array {
  const table = new Int32Array(maxLabel + 1);
  let lo = 0, hi = relabel.length / 3;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (relabel[3 * mid] < block) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < relabel.length / 3 && relabel[3 * i] === block; i++) {
    const local = relabel[3 * i + 1];
    if (local <= maxLabel) table[local] = relabel[3 * i + 2];
  }
  return table;
}

/**
 * Which block measures each cell: the one whose core holds the top-left corner of the cell's box (so
 * every cell is measured once, by a block near it). Returns, per block that measures any, its cells'
 * labels and boxes ([y0, x0, y1, x1) each).
 */
export function cellsPerBlock(layout: BlockLayout, boxes: Int32Array): Map<number, { labels: number[]; boxes: number[] }> {
  const out = new Map<number, { labels: number[]; boxes: number[] }>();
  for (let k = 0; k < boxes.length / 4; k++) {
    if (boxes[4 * k + 2] <= boxes[4 * k]) continue; // a label without pixels
    const b = blockAt(layout, boxes[4 * k + 1], boxes[4 * k]);
    let e = out.get(b);
    if (!e) out.set(b, (e = { labels: [], boxes: [] }));
    e.labels.push(k + 1);
    e.boxes.push(boxes[4 * k], boxes[4 * k + 1], boxes[4 * k + 2], boxes[4 * k + 3]);
  }
  return out;
}

export type StitchedImage = Record<Compartment, StitchedObjects>;

/** The position of the item whose key is `key` in `sorted` (ascending by key), or -1. */
function search<T>(sorted: readonly T[], key: number, keyOf: (item: T) => number): number {
  let lo = 0, hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const k = keyOf(sorted[mid]);
    if (k === key) return mid;
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function findBlock(sorted: readonly BlockPieces[], index: number): number {
  const i = search(sorted, index, (b) => b.index);
  if (i < 0) throw new RangeError(`block ${index} has no pieces to stitch`);
  return i;
}

function findPiece(pieces: readonly Piece[], label: number): number {
  return search(pieces, label, (p) => p.label);
}
