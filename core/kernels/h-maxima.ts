import type { Plane } from '../formats/ndarray';
import type { Footprint } from './footprint';
import { PaddedPlanes, reconstructPadded } from './reconstruction';

/** float32 machine resolution (NumPy `finfo(float32).resolution`, 1e-6) doubled, as a float32. */
const TWICE_RESOLUTION = Math.fround(2 * Math.fround(1e-6));

/**
 * h-maxima transform of a float32 image: 1 where the image rises at least `h` above the morphological
 * reconstruction by dilation of (image − h), 0 elsewhere — the maxima of dynamic ≥ h (and the global
 * maxima). Replicates scikit-image's `h_maxima` for float32 input bit for bit: h is rounded to float32,
 * the seed is lowered by a further 2·1e-6·|image| to absorb rounding, all arithmetic is float32, and an
 * image whose range is below h has no maxima. `footprint` is the reconstruction's neighbourhood
 * (deepcell passes `disk(radius)`).
 *
 * @throws RangeError when h is not > 0 (h = 0 is ambiguous; scikit-image raises too).
 * @see P. Soille, Morphological Image Analysis, 2nd ed., ch. 6, 2003. ISBN 3540429883.
 * @see scikit-image `skimage.morphology.h_maxima`.
 */
export function hMaxima(image: Plane<Float32Array>, h: number, footprint: Footprint): Uint8Array {
  if (!(h > 0)) throw new RangeError(`h-maxima needs h > 0, got ${h}`);
  const { data, width, height } = image;
  const out = new Uint8Array(data.length);
  if (data.length === 0) return out;
  const hf = Math.fround(h);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) { const v = data[i]; if (v < lo) lo = v; if (v > hi) hi = v; }
  if (hf > Math.fround(hi - lo)) return out;

  // The seed goes straight into the reconstruction's padded buffer, and the maxima are read back from
  // it: no unpadded seed or result copies.
  const planes = new PaddedPlanes(width, height, footprint.reach);
  const { rec, lim } = planes;
  planes.load(lim, data);
  for (let y = 0; y < height; y++) {
    for (let x = 0, i = y * width, p = planes.row(y); x < width; x++, i++, p++) {
      const v = data[i];
      rec[p] = Math.fround(v - hf) - Math.fround(TWICE_RESOLUTION * Math.abs(v));
    }
  }
  reconstructPadded(planes, footprint);
  for (let y = 0; y < height; y++) {
    for (let x = 0, i = y * width, p = planes.row(y); x < width; x++, i++, p++) out[i] = Math.fround(data[i] - rec[p]) >= hf ? 1 : 0;
  }
  return out;
}
