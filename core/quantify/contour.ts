import { convexHull, minBoundingCircleRadius, minWidth, polygonArea } from './geometry';

/**
 * Shape of one label traced along pixel edges: the region is the union of its pixel squares (pixel at
 * row r, column c covers [c, c+1] × [r, r+1]), which is what QuPath's ROI from a label image is.
 *
 * Rings run along the unit edges between label and non-label pixels. Where two label pixels touch
 * only at a corner, the tracer turns towards the label ("left turn first"), so every ring hugs one
 * 4-connected piece: diagonal-only neighbours become separate pieces, as JTS makes them (two squares
 * sharing one point are a MultiPolygon, not one polygon). Holes are the 4-connected background regions
 * enclosed by a piece.
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
const LEFT_OF = [0, U, R, 0, D, 0, 0, 0, L]; // left turn of a heading (x right, y down)
const RIGHT_OF = [0, D, L, 0, U, 0, 0, 0, R];

/** Reusable buffers so tracing a million cells allocates nothing per cell. */
export class TraceScratch {
  remaining = new Uint8Array(0);
  original = new Uint8Array(0);
  ensure(n: number): void {
    if (this.remaining.length < n) {
      this.remaining = new Uint8Array(Math.max(n, this.remaining.length * 2));
      this.original = new Uint8Array(this.remaining.length);
    }
  }
}

/**
 * Traces the pixels equal to `label` inside the inclusive bounding box [x0, x1] × [y0, y1] of a
 * row-major `mask` and measures the resulting geometry (pixel units).
 */
export function traceRegion(
  mask: Int32Array, width: number, height: number, label: number,
  x0: number, y0: number, x1: number, y1: number,
  scratch: TraceScratch, keepRings = false,
): RegionShape {
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const vw = w + 1; // vertex grid is (w+1) × (h+1)
  const nv = vw * (h + 1);
  scratch.ensure(nv);
  const rem = scratch.remaining, orig = scratch.original;
  rem.fill(0, 0, nv);
  let area = 0, length = 0;
  for (let r = y0; r <= y1; r++) {
    const row = r * width;
    for (let c = x0; c <= x1; c++) {
      if (mask[row + c] !== label) continue;
      area++;
      const v = (r - y0) * vw + (c - x0); // top-left vertex of this pixel
      if (r === 0 || mask[row - width + c] !== label) { rem[v + 1] |= L; length++; }
      if (r === height - 1 || mask[row + width + c] !== label) { rem[v + vw] |= R; length++; }
      if (c === 0 || mask[row + c - 1] !== label) { rem[v] |= D; length++; }
      if (c === width - 1 || mask[row + c + 1] !== label) { rem[v + vw + 1] |= U; length++; }
    }
  }
  orig.set(rem.subarray(0, nv));

  let pieces = 0, exteriorArea = 0, exteriorLength = 0;
  const exteriorPts: number[] = [];
  const rings: { exterior: boolean; coords: number[] }[] | undefined = keepRings ? [] : undefined;
  for (let v0 = 0; v0 < nv; v0++) {
    while (rem[v0] !== 0) {
      const d0 = rem[v0] & -rem[v0]; // lowest set bit
      const coords: number[] = [];
      let v = v0, d = d0, edges = 0, twiceArea = 0;
      let vx = v0 % vw, vy = (v0 - vx) / vw;
      let prevX = vx, prevY = vy;
      coords.push(vx + x0, vy + y0);
      for (;;) {
        rem[v] &= ~d;
        edges++;
        vx += DX[d]; vy += DY[d]; v += DX[d] + DY[d] * vw;
        const bits = orig[v];
        const next = (bits & LEFT_OF[d]) ? LEFT_OF[d] : (bits & d) ? d : RIGHT_OF[d];
        if (next !== d) {
          // A corner: emit the vertex and accumulate the shoelace sum.
          twiceArea += prevX * vy - vx * prevY;
          prevX = vx; prevY = vy;
          if (v !== v0 || next !== d0) coords.push(vx + x0, vy + y0);
        }
        if (v === v0 && next === d0) break;
        d = next;
      }
      // Traced with the label on the left in y-down coordinates: exteriors have negative shoelace sums.
      const exterior = twiceArea < 0;
      if (exterior) {
        pieces++;
        exteriorArea = -twiceArea / 2;
        exteriorLength = edges;
        for (let i = 0; i < coords.length; i++) exteriorPts.push(coords[i]);
      }
      if (rings) rings.push({ exterior, coords: reverseRing(coords) });
    }
  }
  const hull = convexHull(exteriorPts);
  return {
    area, length, pieces, exteriorArea, exteriorLength,
    convexArea: Math.abs(polygonArea(hull)),
    maxDiameter: 2 * minBoundingCircleRadius(hull),
    minDiameter: minWidth(hull),
    rings,
  };
}

/** Reverses a flat ring so exteriors become counter-clockwise in x-right/y-up numbers (GeoJSON's right-hand rule). */
function reverseRing(coords: number[]): number[] {
  const out = new Array<number>(coords.length);
  const n = coords.length >> 1;
  for (let i = 0; i < n; i++) { out[2 * i] = coords[2 * (n - 1 - i)]; out[2 * i + 1] = coords[2 * (n - 1 - i) + 1]; }
  return out;
}
