/**
 * Planar geometry on small point sets (the vertices of one traced cell): convex hull, minimum
 * bounding circle and minimum width. Pure functions over flat `[x0, y0, x1, y1, …]` arrays.
 */
import { Random } from '../synth/random';

/**
 * Convex hull by Andrew's monotone chain (A. M. Andrew, "Another efficient algorithm for convex hulls
 * in two dimensions", Inf. Process. Lett. 9(5), 1979, doi:10.1016/0020-0190(79)90072-3).
 * Collinear points are dropped. `presorted`: the points are already in (y, x) or (x, y) order. Returns the hull counter-clockwise (in x-right, y-up terms) as a flat array.
 */
export function convexHull(points: ArrayLike<number>, presorted = false): Float64Array {
  const n = points.length >> 1;
  // Any lexicographic order works for the monotone chain; callers with points already sorted by (y, x) skip the sort.
  const order = presorted ? IDENTITY_ORDER(n) : Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => points[2 * a] - points[2 * b] || points[2 * a + 1] - points[2 * b + 1]);
  if (n < 3) {
    const out = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) { const p = order[i]; out[2 * i] = points[2 * p]; out[2 * i + 1] = points[2 * p + 1]; }
    return out;
  }
  const hull = new Float64Array(4 * n + 4);
  let k = 0;
  const cross = (ox: number, oy: number, ax: number, ay: number, bx: number, by: number) =>
    (ax - ox) * (by - oy) - (ay - oy) * (bx - ox);
  const push = (p: number, lower: number) => {
    const x = points[2 * p], y = points[2 * p + 1];
    while (k >= lower + 2 && cross(hull[2 * k - 4], hull[2 * k - 3], hull[2 * k - 2], hull[2 * k - 1], x, y) <= 0) k--;
    hull[2 * k] = x; hull[2 * k + 1] = y; k++;
  };
  for (let i = 0; i < n; i++) push(order[i], 0);
  const lowerSize = k - 1;
  for (let i = n - 2; i >= 0; i--) push(order[i], lowerSize);
  return hull.slice(0, 2 * (k - 1)); // the last point repeats the first
}

/** 0, 1, …, n − 1, shared between calls (read only). */
let identity = new Int32Array(0);
function IDENTITY_ORDER(n: number): Int32Array {
  if (identity.length < n) identity = Int32Array.from({ length: Math.max(n, 2 * identity.length) }, (_, i) => i);
  return identity;
}

/** Shoelace area of a closed polygon given as a flat array (positive when counter-clockwise in x-right, y-up terms). */
export function polygonArea(ring: ArrayLike<number>): number {
  const n = ring.length >> 1;
  let s = 0;
  for (let i = 0, j = n - 1; i < n; j = i++) s += ring[2 * j] * ring[2 * i + 1] - ring[2 * i] * ring[2 * j + 1];
  return s / 2;
}

/**
 * Radius of the minimum bounding circle of a point set, by Welzl's randomised incremental algorithm
 * (E. Welzl, "Smallest enclosing disks (balls and ellipsoids)", LNCS 555, 1991,
 * doi:10.1007/BFb0038202), in its iterative move-to-front-free form. The shuffle uses a fixed seed, so
 * results are deterministic. Pass hull vertices: the circle of a polygon is that of its hull.
 */
export function minBoundingCircleRadius(points: ArrayLike<number>): number {
  const n = points.length >> 1;
  if (n === 0) return 0;
  // Relative to the first point: the circle's arithmetic then does not depend on where the cell lies in
  // the image (a block's window measures a cell exactly as the whole image does), and stays precise.
  const xs = new Float64Array(n), ys = new Float64Array(n);
  for (let i = 0; i < n; i++) { xs[i] = points[2 * i] - points[0]; ys[i] = points[2 * i + 1] - points[1]; }
  // A fixed shuffle (Welzl's expected linear time needs random order; a fixed seed keeps results reproducible).
  const random = new Random(0x9e3779b9);
  for (let i = n - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const tx = xs[i]; xs[i] = xs[j]; xs[j] = tx;
    const ty = ys[i]; ys[i] = ys[j]; ys[j] = ty;
  }
  const eps = 1e-9;
  let cx = xs[0], cy = ys[0], r2 = 0;
  const inside = (i: number) => (xs[i] - cx) ** 2 + (ys[i] - cy) ** 2 <= r2 * (1 + eps) + eps;
  for (let i = 1; i < n; i++) {
    if (inside(i)) continue;
    cx = xs[i]; cy = ys[i]; r2 = 0;
    for (let j = 0; j < i; j++) {
      if (inside(j)) continue;
      cx = (xs[i] + xs[j]) / 2; cy = (ys[i] + ys[j]) / 2;
      r2 = (xs[i] - cx) ** 2 + (ys[i] - cy) ** 2;
      for (let k = 0; k < j; k++) {
        if (inside(k)) continue;
        const c = circumcircle(xs[i], ys[i], xs[j], ys[j], xs[k], ys[k]);
        if (c) { cx = c[0]; cy = c[1]; r2 = c[2]; }
      }
    }
  }
  return Math.sqrt(r2);
}

function circumcircle(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): [number, number, number] | undefined {
  const d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by));
  if (d === 0) {
    // Collinear: the circle on the farthest pair.
    const pairs: [number, number, number, number][] = [[ax, ay, bx, by], [ax, ay, cx, cy], [bx, by, cx, cy]];
    let best: [number, number, number] | undefined;
    for (const [px, py, qx, qy] of pairs) {
      const r2 = ((px - qx) ** 2 + (py - qy) ** 2) / 4;
      if (!best || r2 > best[2]) best = [(px + qx) / 2, (py + qy) / 2, r2];
    }
    return best;
  }
  const a2 = ax * ax + ay * ay, b2 = bx * bx + by * by, c2 = cx * cx + cy * cy;
  const ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d;
  const uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d;
  return [ux, uy, (ax - ux) ** 2 + (ay - uy) ** 2];
}

/**
 * Minimum width of a convex polygon (the smallest distance between two parallel supporting lines),
 * by rotating calipers (M. I. Shamos, "Computational Geometry", PhD thesis, Yale, 1978; G. Toussaint,
 * "Solving geometric problems with the rotating calipers", MELECON 1983). The optimum always has one
 * caliper flush with a hull edge, so each edge is paired with its farthest (antipodal) vertex. This is
 * what JTS `MinimumDiameter.getLength()` (QuPath's "Min diameter") returns.
 */
export function minWidth(hull: ArrayLike<number>): number {
  const n = hull.length >> 1;
  if (n < 3) return 0;
  // Distance of vertex k from the line through edge (i, j), the edge's length computed once per edge.
  let ex = 0, ey = 0, len = 1, ix = 0, iy = 0;
  const dist = (k: number) => Math.abs(ex * (hull[2 * k + 1] - iy) - ey * (hull[2 * k] - ix)) / len;
  let best = Infinity;
  let k = 1;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    ix = hull[2 * i]; iy = hull[2 * i + 1];
    ex = hull[2 * j] - ix; ey = hull[2 * j + 1] - iy;
    len = Math.hypot(ex, ey);
    if (i === 0) {
      // Find the antipodal vertex of the first edge by a full scan; afterwards it only moves forward.
      let far = 0;
      for (let t = 0; t < n; t++) if (dist(t) > dist(far)) far = t;
      k = far;
    } else {
      // Distance to the edge's line is unimodal along a convex polygon, so the antipode only advances.
      while (dist((k + 1) % n) > dist(k) + 1e-12) k = (k + 1) % n;
    }
    const w = dist(k);
    if (w < best) best = w;
  }
  return best;
}
