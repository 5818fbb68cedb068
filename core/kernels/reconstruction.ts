import { growInt32 } from './buffers';
import type { Plane } from '../formats/ndarray';
import { type Footprint, flatOffsets } from './footprint';

/**
 * Grayscale morphological reconstruction by dilation of `seed` under `mask` (seed ≤ mask everywhere):
 * the largest image ≤ mask reachable by repeated geodesic dilations of the seed with `footprint`.
 * The result is unique, so it equals scikit-image's `reconstruction(seed, mask, 'dilation', footprint)`
 * exactly (only max and min are taken, no arithmetic).
 *
 * Algorithm: Vincent's hybrid — one raster scan with the causal half of the footprint, one anti-raster
 * scan with the other half that also queues the pixels still able to raise a neighbour, then a FIFO
 * propagation. Buffers are padded by the footprint's reach with −∞ so the inner loops carry no bounds
 * checks. O(N) in practice, against the O(N log N) sort of scikit-image's implementation.
 * Inputs are not modified. The footprint must be symmetric (disks and squares are).
 *
 * @see L. Vincent, "Morphological grayscale reconstruction in image analysis: applications and
 *   efficient algorithms", IEEE Trans. Image Processing 2(2):176–201, 1993. doi:10.1109/83.217222
 */
export function reconstructByDilation(seed: Plane<Float32Array>, mask: Plane<Float32Array>, footprint: Footprint): Float32Array {
  const { width, height } = seed;
  if (mask.width !== width || mask.height !== height) throw new RangeError('seed and mask must have the same size');
  const padded = new PaddedPlanes(width, height, footprint.reach);
  padded.load(padded.rec, seed.data);
  padded.load(padded.lim, mask.data);
  reconstructPadded(padded, footprint);
  return padded.unload(padded.rec);
}

/**
 * The two planes of a reconstruction, padded by `pad` pixels of −∞ on every side: `rec` (the seed,
 * then the result) and `lim` (the mask). Callers fill them row by row through {@link load} or
 * directly at `row(y)`.
 */
export class PaddedPlanes {
  readonly pw: number;
  readonly rec: Float32Array;
  readonly lim: Float32Array;

  constructor(readonly width: number, readonly height: number, readonly pad: number) {
    this.pw = width + 2 * pad;
    const n = this.pw * (height + 2 * pad);
    this.rec = new Float32Array(n).fill(-Infinity);
    this.lim = new Float32Array(n).fill(-Infinity);
  }

  /** Index in a padded plane of image row y, column 0. */
  row(y: number): number {
    return (y + this.pad) * this.pw + this.pad;
  }

  load(plane: Float32Array, data: Float32Array): void {
    for (let y = 0; y < this.height; y++) plane.set(data.subarray(y * this.width, (y + 1) * this.width), this.row(y));
  }

  unload(plane: Float32Array): Float32Array {
    const out = new Float32Array(this.width * this.height);
    for (let y = 0; y < this.height; y++) out.set(plane.subarray(this.row(y), this.row(y) + this.width), y * this.width);
    return out;
  }
}

/** Reconstruction by dilation of `planes.rec` under `planes.lim`, in place in `rec` (see {@link reconstructByDilation}). */
export function reconstructPadded(planes: PaddedPlanes, footprint: Footprint): void {
  const { pw, rec, lim } = planes;
  if (footprint.reach > planes.pad) throw new RangeError(`footprint reach ${footprint.reach} exceeds the padding ${planes.pad}`);
  const all = flatOffsets(footprint, pw);
  // Causal ("before" in raster order) and anti-causal halves of the neighbourhood.
  const before = all.filter((o) => o < 0);
  const after = all.filter((o) => o > 0);
  const scanned = before.length === 6 && after.length === 6 ? scansOfSix(planes, before, after) : scans(planes, before, after);
  let { queue, tail } = scanned;
  let head = 0; // FIFO as a growable array; `head` chases `tail`
  const n = all.length;
  while (head < tail) {
    const p = queue[head++];
    const v = rec[p];
    for (let k = 0; k < n; k++) {
      const q = p + all[k];
      const rq = rec[q];
      if (rq < v) {
        const m = lim[q];
        if (rq !== m) {
          rec[q] = v < m ? v : m;
          if (tail === queue.length) {
            // Compact before growing: the consumed head is dead space.
            queue.copyWithin(0, head, tail);
            tail -= head;
            head = 0;
            if (tail === queue.length) queue = growInt32(queue);
          }
          queue[tail++] = q;
        }
      }
    }
  }
}

/** Pixels queued by the anti-raster scan: `queue[0..tail)`, in a buffer the propagation may grow. */
interface Scanned { queue: Int32Array; tail: number }

/** The raster and anti-raster scans for any footprint. */
function scans(planes: PaddedPlanes, before: Int32Array, after: Int32Array): Scanned {
  const { width, height, rec, lim } = planes;
  const nb = before.length;
  const na = after.length;
  for (let y = 0; y < height; y++) {
    let p = planes.row(y);
    for (let x = 0; x < width; x++, p++) {
      let v = rec[p];
      for (let k = 0; k < nb; k++) { const q = rec[p + before[k]]; if (q > v) v = q; }
      const m = lim[p];
      rec[p] = v < m ? v : m;
    }
  }
  let queue = new Int32Array(Math.max(1024, width + height));
  let tail = 0;
  for (let y = height - 1; y >= 0; y--) {
    let p = planes.row(y) + width - 1;
    for (let x = width - 1; x >= 0; x--, p--) {
      let v = rec[p];
      for (let k = 0; k < na; k++) { const q = rec[p + after[k]]; if (q > v) v = q; }
      const m = lim[p];
      v = v < m ? v : m;
      rec[p] = v;
      for (let k = 0; k < na; k++) {
        const q = p + after[k];
        if (rec[q] < v && rec[q] < lim[q]) {
          if (tail === queue.length) queue = growInt32(queue);
          queue[tail++] = p;
          break;
        }
      }
    }
  }
  return { queue, tail };
}

/**
 * {@link scans} unrolled for a footprint with six neighbours on each side — disk(2), Mesmer's — which
 * the JIT turns into straight-line code: 0.6 s instead of 1.0 s at 4096².
 */
function scansOfSix(planes: PaddedPlanes, before: Int32Array, after: Int32Array): Scanned {
  const { width, height, rec, lim } = planes;
  const b0 = before[0], b1 = before[1], b2 = before[2], b3 = before[3], b4 = before[4], b5 = before[5];
  const a0 = after[0], a1 = after[1], a2 = after[2], a3 = after[3], a4 = after[4], a5 = after[5];
  for (let y = 0; y < height; y++) {
    let p = planes.row(y);
    for (let x = 0; x < width; x++, p++) {
      let v = rec[p];
      let q = rec[p + b0]; if (q > v) v = q;
      q = rec[p + b1]; if (q > v) v = q;
      q = rec[p + b2]; if (q > v) v = q;
      q = rec[p + b3]; if (q > v) v = q;
      q = rec[p + b4]; if (q > v) v = q;
      q = rec[p + b5]; if (q > v) v = q;
      const m = lim[p];
      rec[p] = v < m ? v : m;
    }
  }
  let queue = new Int32Array(Math.max(1024, width + height));
  let tail = 0;
  for (let y = height - 1; y >= 0; y--) {
    let p = planes.row(y) + width - 1;
    for (let x = width - 1; x >= 0; x--, p--) {
      const r0 = rec[p + a0], r1 = rec[p + a1], r2 = rec[p + a2], r3 = rec[p + a3], r4 = rec[p + a4], r5 = rec[p + a5];
      let v = rec[p];
      if (r0 > v) v = r0;
      if (r1 > v) v = r1;
      if (r2 > v) v = r2;
      if (r3 > v) v = r3;
      if (r4 > v) v = r4;
      if (r5 > v) v = r5;
      const m = lim[p];
      v = v < m ? v : m;
      rec[p] = v;
      // Writing rec[p] changes none of its anti-causal neighbours, read above.
      if ((r0 < v && r0 < lim[p + a0]) || (r1 < v && r1 < lim[p + a1]) || (r2 < v && r2 < lim[p + a2])
        || (r3 < v && r3 < lim[p + a3]) || (r4 < v && r4 < lim[p + a4]) || (r5 < v && r5 < lim[p + a5])) {
        if (tail === queue.length) queue = growInt32(queue);
        queue[tail++] = p;
      }
    }
  }
  return { queue, tail };
}
