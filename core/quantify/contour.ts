import { convexHull, minBoundingCircleRadius, minWidth, polygonArea } from './geometry';

/**
 * Shape of one label traced along pixel edges: the region is the union of its pixel squares (pixel at
 * row r, column c covers [c, c+1] × [r, r+1]), which is what QuPath's ROI from a label image is.
 *
 * Rings run along the unit edges between label and non-label pixels, and every ring is simple, as in
 * JTS (which QuPath uses): pieces are the 4-connected components of the label (two squares sharing
 * only a corner are a MultiPolygon), holes are the 4-connected background regions a piece encloses.
 * At a vertex where two label pixels touch diagonally the tracer keeps hugging its current pixel
 * when the diagonal one belongs to another piece, and crosses over to it when both are one piece
 * (then the two background pixels belong to different rings, e.g. a hole touching the exterior).
 */
export interface RegionShape {
  /** Pixel count (= area of the union of pixel squares, holes excluded). */
  area: number;
  /** Total boundary length in pixel edges, every ring of every piece (JTS `Geometry.getLength()`). */
  length: number;
  /** Number of pieces (exterior rings). */
  pieces: number;
  /** Area enclosed by the exterior ring (holes filled); meaningful when `pieces === 1`. */
  exteriorArea: number;
  /** Length of the exterior ring; meaningful when `pieces === 1`. */
  exteriorLength: number;
  convexArea: number;
  /** Diameter of the minimum bounding circle. */
  maxDiameter: number;
  /** Minimum caliper width of the convex hull. */
  minDiameter: number;
  /** Rings in pixel coordinates (only when asked for): exteriors counter-clockwise (positive shoelace), holes clockwise. */
  rings?: { exterior: boolean; coords: number[] }[];
}

const R = 1, D = 2, L = 4, U = 8;
const DX = new Int8Array(9), DY = new Int8Array(9); // indexed by heading bit
DX[R] = 1; DX[L] = -1; DY[D] = 1; DY[U] = -1;
// Offset (+1) of the pixel left of an incoming edge from the vertex it reaches: R→NW, D→NE, L→SE, U→SW.
const PX = new Int8Array(9), PY = new Int8Array(9);
PX[R] = 0; PY[R] = 0; PX[D] = 1; PY[D] = 0; PX[L] = 1; PY[L] = 1; PX[U] = 0; PY[U] = 1;
const LEFT_OF = [0, U, R, 0, D, 0, 0, 0, L]; // left turn of a heading (x right, y down)
const RIGHT_OF = [0, D, L, 0, U, 0, 0, 0, R];

/** Reusable buffers so tracing a million cells allocates nothing per cell. */
export class TraceScratch {
  remaining = new Uint8Array(0);
  original = new Uint8Array(0);
  piece = new Int32Array(0);
  stack = new Int32Array(0);
  rowMin = new Int32Array(0);
  rowMax = new Int32Array(0);
  ensure(vertices: number, pixels: number, rows = 0): void {
    if (this.rowMin.length < rows) {
      this.rowMin = new Int32Array(Math.max(rows, this.rowMin.length * 2));
      this.rowMax = new Int32Array(this.rowMin.length);
    }
    if (this.remaining.length < vertices) {
      this.remaining = new Uint8Array(Math.max(vertices, this.remaining.length * 2));
      this.original = new Uint8Array(this.remaining.length);
    }
    if (this.piece.length < pixels) {
      this.piece = new Int32Array(Math.max(pixels, this.piece.length * 2));
      this.stack = new Int32Array(this.piece.length);
    }
  }
}

/**
 * Traces the pixels equal to `label` inside the inclusive bounding box [x0, x1] × [y0, y1] of a
 * row-major `mask` and measures the resulting geometry (pixel units). `mask` may be a window of the
 * image whose pixel (0, 0) is the image's (originX, originY): coordinates come out in the image's.
 */
export function traceRegion(
  mask: Int32Array, width: number, height: number, label: number,
  x0: number, y0: number, x1: number, y1: number,
  scratch: TraceScratch, keepRings = false, originX = 0, originY = 0,
): RegionShape {
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const vw = w + 1; // vertex grid is (w+1) × (h+1)
  const nv = vw * (h + 1);
  scratch.ensure(nv, w * h, h);
  const rowMin = scratch.rowMin, rowMax = scratch.rowMax;
  const rem = scratch.remaining, orig = scratch.original;
  rem.fill(0, 0, nv);
  // The pieces are only needed where two label pixels touch at a corner alone (rare in cells): they
  // are numbered the first time the tracer meets such a vertex. Without one, pieces = exterior rings.
  let pieces = -1;
  const piece = scratch.piece;
  let area = 0, length = 0;
  for (let r = y0; r <= y1; r++) {
    const row = r * width;
    let first = -1, last = -1;
    for (let c = x0; c <= x1; c++) {
      if (mask[row + c] !== label) continue;
      if (first < 0) first = c;
      last = c;
      area++;
      const v = (r - y0) * vw + (c - x0); // top-left vertex of this pixel
      if (r === 0 || mask[row - width + c] !== label) { rem[v + 1] |= L; length++; }
      if (r === height - 1 || mask[row + width + c] !== label) { rem[v + vw] |= R; length++; }
      if (c === 0 || mask[row + c - 1] !== label) { rem[v] |= D; length++; }
      if (c === width - 1 || mask[row + c + 1] !== label) { rem[v + vw + 1] |= U; length++; }
    }
    rowMin[r - y0] = first;
    rowMax[r - y0] = last;
  }
  orig.set(rem.subarray(0, nv));

  let exteriorArea = 0, exteriorLength = 0, exteriors = 0;
  const rings: { exterior: boolean; coords: number[] }[] | undefined = keepRings ? [] : undefined;
  for (let v0 = 0; v0 < nv; v0++) {
    while (rem[v0] !== 0) {
      const d0 = rem[v0] & -rem[v0]; // lowest set bit
      const coords: number[] = [];
      let v = v0, d = d0, edges = 0, twiceArea = 0;
      let vx = v0 % vw, vy = (v0 - vx) / vw;
      let prevX = vx, prevY = vy;
      coords.push(vx + x0 + originX, vy + y0 + originY);
      for (;;) {
        rem[v] &= ~d;
        edges++;
        vx += DX[d]; vy += DY[d]; v += DX[d] + DY[d] * vw;
        const bits = orig[v];
        let next = (bits & LEFT_OF[d]) ? LEFT_OF[d] : (bits & d) ? d : RIGHT_OF[d];
        if ((bits & LEFT_OF[d]) && (bits & RIGHT_OF[d])) {
          if (pieces < 0) pieces = labelPieces(mask, width, label, x0, y0, w, h, scratch);
          // Diagonal contact: P is the pixel on the left of the incoming edge, Q the one across the vertex.
          const pp = (vy - 1 + PY[d]) * w + (vx - 1 + PX[d]);
          const qp = (vy - PY[d]) * w + (vx - PX[d]);
          if (piece[pp] === piece[qp]) next = RIGHT_OF[d];
        }
        if (next !== d) {
          // A corner: emit the vertex and accumulate the shoelace sum.
          twiceArea += prevX * vy - vx * prevY;
          prevX = vx; prevY = vy;
          if (v !== v0 || next !== d0) coords.push(vx + x0 + originX, vy + y0 + originY);
        }
        if (v === v0 && next === d0) break;
        d = next;
      }
      // Traced with the label on the left in y-down coordinates: exteriors have negative shoelace sums.
      const exterior = twiceArea < 0;
      if (exterior) {
        exteriorArea = -twiceArea / 2;
        exteriorLength = edges;
        exteriors++;
      }
      if (rings) rings.push({ exterior, coords: reverseRing(coords) });
    }
  }
  // Hull candidates: on each vertex row, the leftmost and rightmost pixel corners (of the pixel rows
  // above and below it). Only these can be hull vertices, and they come out sorted by (y, x).
  const candidates: number[] = [];
  for (let ly = 0; ly <= h; ly++) {
    let lo = Infinity, hi = -Infinity;
    for (const k of [ly - 1, ly]) {
      if (k < 0 || k >= h || rowMin[k] < 0) continue;
      if (rowMin[k] < lo) lo = rowMin[k];
      if (rowMax[k] + 1 > hi) hi = rowMax[k] + 1;
    }
    if (lo === Infinity) continue;
    candidates.push(lo + originX, ly + y0 + originY, hi + originX, ly + y0 + originY);
  }
  const hull = convexHull(candidates, true);
  return {
    area, length, pieces: pieces < 0 ? exteriors : pieces, exteriorArea, exteriorLength,
    convexArea: Math.abs(polygonArea(hull)),
    maxDiameter: 2 * minBoundingCircleRadius(hull),
    minDiameter: minWidth(hull),
    rings,
  };
}

/** Numbers the 4-connected pieces of the label inside the box into `scratch.piece` (0 = not label); returns the count. */
function labelPieces(mask: Int32Array, width: number, label: number, x0: number, y0: number, w: number, h: number, scratch: TraceScratch): number {
  const piece = scratch.piece, stack = scratch.stack;
  piece.fill(0, 0, w * h);
  let count = 0;
  for (let ly = 0; ly < h; ly++) {
    for (let lx = 0; lx < w; lx++) {
      const p = ly * w + lx;
      if (piece[p] !== 0 || mask[(ly + y0) * width + lx + x0] !== label) continue;
      count++;
      piece[p] = count;
      let top = 0;
      stack[top++] = p;
      while (top > 0) {
        const q = stack[--top];
        const qx = q % w, qy = (q - qx) / w;
        const g = (qy + y0) * width + qx + x0;
        if (qx > 0 && piece[q - 1] === 0 && mask[g - 1] === label) { piece[q - 1] = count; stack[top++] = q - 1; }
        if (qx < w - 1 && piece[q + 1] === 0 && mask[g + 1] === label) { piece[q + 1] = count; stack[top++] = q + 1; }
        if (qy > 0 && piece[q - w] === 0 && mask[g - width] === label) { piece[q - w] = count; stack[top++] = q - w; }
        if (qy < h - 1 && piece[q + w] === 0 && mask[g + width] === label) { piece[q + w] = count; stack[top++] = q + w; }
      }
    }
  }
  return count;
}

/** Reverses a flat ring so exteriors become counter-clockwise in x-right/y-up numbers (GeoJSON's right-hand rule). */
function reverseRing(coords: number[]): number[] {
  const out = new Array<number>(coords.length);
  const n = coords.length >> 1;
  for (let i = 0; i < n; i++) { out[2 * i] = coords[2 * (n - 1 - i)]; out[2 * i + 1] = coords[2 * (n - 1 - i) + 1]; }
  return out;
}
