import { intersectRects, type Rect } from './grid';

/**
 * Which pieces of two overlapping blocks are one object. Both blocks segmented the pixels where their
 * windows overlap; an object that crosses the line between their cores left a piece in each core.
 * Its two views are paired when they agree: intersection over union above 0.5, counted over the
 * windows' overlap. Above 0.5 an object can pair with at most one other, so each view joins at most
 * one view of the neighbour — two different cells that merely touch across the line never merge
 * (unlike pairing labels that touch across a face, which over-merges dense tissue), and a cell cut
 * by the line is joined again, whole.
 */

export interface WindowLabels {
  labels: Int32Array;
  window: Rect;
  /** Labels that have a piece in the block's core (only those can be joined). */
  pieces: ReadonlySet<number>;
}

/** Pairs [label in a, label in b] of views that are one object. */
export function matchViews(a: WindowLabels, b: WindowLabels, threshold = 0.5): [number, number][] {
  const overlap = intersectRects(a.window, b.window);
  if (!overlap) return [];
  const areaA = new Map<number, number>(), areaB = new Map<number, number>(), both = new Map<number, number>();
  const add = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  let maxB = 0;
  for (const l of b.pieces) if (l > maxB) maxB = l;
  const stride = maxB + 1;
  for (let y = overlap.y; y < overlap.y + overlap.height; y++) {
    const ra = (y - a.window.y) * a.window.width - a.window.x;
    const rb = (y - b.window.y) * b.window.width - b.window.x;
    for (let x = overlap.x; x < overlap.x + overlap.width; x++) {
      const la = a.labels[ra + x], lb = b.labels[rb + x];
      const pa = la !== 0 && a.pieces.has(la), pb = lb !== 0 && b.pieces.has(lb);
      if (pa) add(areaA, la);
      if (pb) add(areaB, lb);
      if (pa && pb) add(both, la * stride + lb);
    }
  }
  const out: [number, number][] = [];
  for (const [key, inter] of both) {
    const la = Math.floor(key / stride), lb = key - la * stride;
    if (inter / (areaA.get(la)! + areaB.get(lb)! - inter) > threshold) out.push([la, lb]);
  }
  return out.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
}
