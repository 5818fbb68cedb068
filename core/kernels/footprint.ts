/**
 * A structuring element (footprint) as a list of neighbour offsets relative to its centre.
 * Kernels turn it into flat-index offsets for a padded buffer (`dy * paddedWidth + dx`).
 */
export interface Footprint {
  /** Row offsets of the neighbours, the centre excluded. */
  readonly dy: Int32Array;
  /** Column offsets of the neighbours, the centre excluded. */
  readonly dx: Int32Array;
  /** Largest |dy| or |dx|: how much padding a kernel needs. */
  readonly reach: number;
}

/**
 * The disk footprint of scikit-image's `disk(radius)` (strict radius, no decomposition): every
 * (dy, dx) with dy² + dx² ≤ radius², listed in raster order, the centre left out.
 * radius 0 is the single pixel (no neighbours); radius 1 is the 4-neighbourhood; radius 2 has 12.
 *
 * @see scikit-image `skimage.morphology.disk`.
 */
export function diskFootprint(radius: number): Footprint {
  if (!Number.isInteger(radius) || radius < 0) throw new RangeError(`disk radius must be a non-negative integer, got ${radius}`);
  const dy: number[] = [];
  const dx: number[] = [];
  for (let y = -radius; y <= radius; y++) {
    for (let x = -radius; x <= radius; x++) {
      if ((x !== 0 || y !== 0) && x * x + y * y <= radius * radius) { dy.push(y); dx.push(x); }
    }
  }
  return { dy: Int32Array.from(dy), dx: Int32Array.from(dx), reach: radius };
}

/** Flat-index offsets of a footprint's neighbours in a row-major buffer `paddedWidth` wide. */
export function flatOffsets(fp: Footprint, paddedWidth: number): Int32Array {
  const out = new Int32Array(fp.dy.length);
  for (let i = 0; i < out.length; i++) out[i] = fp.dy[i] * paddedWidth + fp.dx[i];
  return out;
}
