import { innerBoundary } from '../kernels/boundary';

/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;
/**
 * Training targets for Mesmer-style heads, computed from label masks, following deepcell's transforms
 * (deepcell-tf `deepcell/utils/transform_utils.py`):
 *
 * - inner distance (`inner_distance_transform_2d`, alpha='auto', beta=1, erosion_width=1): labels are
 *   eroded by one pixel (so touching cells separate), `d` = Euclidean distance transform of the eroded
 *   foreground, and each cell's pixels get `1 / (1 + d_c² / √area)` where `d_c` is the distance to the
 *   cell's `d`-weighted centroid. 1 at the centre, falling towards the edge; 0 outside.
 * - pixelwise (`pixelwise_transform`): one-hot [border, interior, background], border being the inner
 *   boundary (a labelled pixel with a 4-neighbour of another label or background; skimage
 *   `find_boundaries(mode='inner')`).
 */

/** Exact squared Euclidean distance transform to the nearest zero pixel (Felzenszwalb & Huttenlocher 2012, doi:10.4086/toc.2012.v008a019). */
export function squaredDistanceTransform(foreground: Uint8Array, width: number, height: number): Float64Array {
  const INF = 1e20;
  const out = new Float64Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = foreground[i] ? INF : 0;
  const n = math.max(width, height);
  const f = new Float64Array(n), d = new Float64Array(n), z = new Float64Array(n + 1);
  const v = new Int32Array(n);
  const pass = (len: number, get: (k: number) => number, set: (k: number, val: number) => void) => {
    for (let q = 0; q < len; q++) f[q] = get(q);
    let k = 0;
    v[0] = 0; z[0] = -Infinity; z[1] = Infinity;
    for (let q = 1; q < len; q++) {
      let s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      while (s <= z[k]) {
        k--;
        s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      }
      k++;
      v[k] = q; z[k] = s; z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < len; q++) {
      while (z[k + 1] < q) k++;
      d[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
    }
    for (let q = 0; q < len; q++) set(q, d[q]);
  };
  for (let x = 0; x < width; x++) pass(height, (y) => out[y * width + x], (y, val) => { out[y * width + x] = val; });
  for (let y = 0; y < height; y++) pass(width, (x) => out[y * width + x], (x, val) => { out[y * width + x] = val; });
  return out;
}

/** deepcell's inner distance transform (alpha='auto', beta=1, erosion_width=1) of a label mask. */
export function innerDistanceTarget(labels: Int32Array, width: number, height: number): Float32Array {
  const edge = innerBoundary(labels, width, height);
  const eroded = new Uint8Array(labels.length);
  let maxLabel = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] && !edge[i]) eroded[i] = 1;
    if (labels[i] > maxLabel) maxLabel = labels[i];
  }
  const d2 = squaredDistanceTransform(eroded, width, height);
  const sw = new Float64Array(maxLabel + 1), sy = new Float64Array(maxLabel + 1), sx = new Float64Array(maxLabel + 1);
  const area = new Float64Array(maxLabel + 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!eroded[i]) continue;
      const id = labels[i], w = math.sqrt(d2[i]);
      area[id]++; sw[id] += w; sy[id] += w * y; sx[id] += w * x;
    }
  }
  const out = new Float32Array(labels.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!eroded[i]) continue;
      const id = labels[i];
      const cy = sy[id] / sw[id], cx = sx[id] / sw[id];
      const dc2 = (y - cy) ** 2 + (x - cx) ** 2;
      out[i] = 1 / (1 + dc2 / math.sqrt(area[id]));
    }
  }
  return out;
}

/** Pixelwise class per pixel: 0 border, 1 interior, 2 background (Mesmer's channel order). */
export function pixelwiseClass(labels: Int32Array, width: number, height: number): Uint8Array {
  const edge = innerBoundary(labels, width, height);
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = !labels[i] ? 2 : edge[i] ? 0 : 1;
  return out;
}
