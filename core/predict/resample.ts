/**
 * Bilinear resampling of interleaved H×W×C float32 images, reproducing what Mesmer does when an image's
 * resolution differs from the model's (deepcell-tf `Application._resize_input`: new size
 * `int(size · image_mpp / model_mpp)`, then deepcell-toolbox `resize` → `skimage.transform.resize(order=1,
 * mode='constant', preserve_range=True, anti_aliasing=True)` for multi-channel data).
 *
 * scikit-image's resize is a Gaussian pre-filter when shrinking (σ = max(0, (factor − 1)/2) per axis,
 * scipy `gaussian_filter`, truncate 4, zeros outside) followed by `scipy.ndimage.zoom(order=1,
 * grid_mode=True)`: output pixel o samples input coordinate (o + ½)·in/out − ½, linearly interpolated,
 * with zeros outside the image in 'constant' mode, then clipped to the input's value range.
 *
 * Mesmer resizes its final *label* image back with nearest neighbour; Tessel keeps the raw predictions
 * instead, so predictions go back to the image's H×W with the same bilinear rule but 'edge' mode (the
 * border is not darkened by imaginary zeros) — a documented Tessel choice.
 *
 * References: scikit-image `skimage/transform/_warps.py` (`resize`); SciPy `ndimage.zoom`,
 * `ndimage.gaussian_filter1d`; deepcell-tf `deepcell/applications/application.py`.
 */

export interface ResizeOptions {
  /** Outside the image: 'constant' = zeros (scikit-image mode='constant', Mesmer's input), 'edge' = nearest edge pixel. @default 'constant' */
  mode?: 'constant' | 'edge';
  /** Gaussian pre-filter when shrinking. @default true */
  antiAliasing?: boolean;
  /** Clip the result to the input's [min, max] (scikit-image clip=True). @default true */
  clip?: boolean;
}

/** Mesmer's target size for an image at `imageUmPerPixel` going to a model at `modelUmPerPixel`. */
export function mesmerResizedShape(width: number, height: number, imageUmPerPixel: number, modelUmPerPixel: number): { width: number; height: number } {
  const f = imageUmPerPixel / modelUmPerPixel;
  return { width: Math.max(1, Math.trunc(width * f)), height: Math.max(1, Math.trunc(height * f)) };
}

/**
 * Resizes an interleaved H×W×C float32 image to outH×outW×C. Returns a new array; the input is not
 * modified. Same size returns a copy.
 */
export function resizeBilinear(input: Float32Array, width: number, height: number, channels: number, outWidth: number, outHeight: number, opts: ResizeOptions = {}): Float32Array {
  if (input.length !== width * height * channels) throw new RangeError(`image has ${input.length} values, expected ${height}×${width}×${channels}`);
  if (outWidth === width && outHeight === height) return new Float32Array(input);
  const mode = opts.mode ?? 'constant';
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < input.length; i++) {
    const v = input[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (mode === 'constant') { // zeros from outside count as input values for clipping (scikit-image)
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  let src: Float32Array = input;
  const fy = height / outHeight;
  const fx = width / outWidth;
  if (opts.antiAliasing ?? true) {
    const sy = Math.max(0, (fy - 1) / 2);
    const sx = Math.max(0, (fx - 1) / 2);
    if (sy > 0) src = gaussianAxis(src, width, height, channels, sy, 'rows', mode);
    if (sx > 0) src = gaussianAxis(src, width, height, channels, sx, 'cols', mode);
  }
  // Rows first into a float64 intermediate (height changes), then columns.
  const rowTaps = linearTaps(height, outHeight, mode);
  const colTaps = linearTaps(width, outWidth, mode);
  const mid = new Float64Array(outHeight * width * channels);
  const rowLen = width * channels;
  for (let oy = 0; oy < outHeight; oy++) {
    const { i0, i1, w0, w1 } = tapAt(rowTaps, oy);
    const dst = oy * rowLen;
    const a = i0 * rowLen;
    const b = i1 * rowLen;
    for (let k = 0; k < rowLen; k++) {
      mid[dst + k] = (i0 >= 0 ? w0 * src[a + k] : 0) + (i1 >= 0 ? w1 * src[b + k] : 0);
    }
  }
  const out = new Float32Array(outHeight * outWidth * channels);
  const clip = opts.clip ?? true;
  for (let oy = 0; oy < outHeight; oy++) {
    const rowIn = oy * rowLen;
    const rowOut = oy * outWidth * channels;
    for (let ox = 0; ox < outWidth; ox++) {
      const { i0, i1, w0, w1 } = tapAt(colTaps, ox);
      for (let c = 0; c < channels; c++) {
        let v = (i0 >= 0 ? w0 * mid[rowIn + i0 * channels + c] : 0) + (i1 >= 0 ? w1 * mid[rowIn + i1 * channels + c] : 0);
        if (clip) v = v < lo ? lo : v > hi ? hi : v;
        out[rowOut + ox * channels + c] = v;
      }
    }
  }
  return out;
}

interface Taps { i0: Int32Array; i1: Int32Array; w0: Float64Array; w1: Float64Array }

/** For each output index: the two input indices (−1 = outside, zero) and their weights. */
function linearTaps(inLen: number, outLen: number, mode: 'constant' | 'edge'): Taps {
  const t: Taps = { i0: new Int32Array(outLen), i1: new Int32Array(outLen), w0: new Float64Array(outLen), w1: new Float64Array(outLen) };
  const scale = inLen / outLen;
  for (let o = 0; o < outLen; o++) {
    let x = (o + 0.5) * scale - 0.5;
    if (mode === 'edge') x = Math.min(Math.max(x, 0), inLen - 1);
    const f = Math.floor(x);
    const frac = x - f;
    const inside = (i: number) => (i >= 0 && i < inLen ? i : -1);
    t.i0[o] = inside(f);
    t.i1[o] = inside(f + 1);
    t.w0[o] = 1 - frac;
    t.w1[o] = frac;
    if (mode === 'edge' && t.i1[o] < 0) t.i1[o] = t.i0[o];
  }
  return t;
}

function tapAt(t: Taps, o: number): { i0: number; i1: number; w0: number; w1: number } {
  return { i0: t.i0[o], i1: t.i1[o], w0: t.w0[o], w1: t.w1[o] };
}

/**
 * 1-D Gaussian along rows (vertical) or columns (horizontal) of an interleaved image, SciPy
 * `gaussian_filter1d` semantics: radius = round(4σ), normalised weights, zeros ('constant') or the
 * nearest pixel ('edge') outside.
 */
function gaussianAxis(src: Float32Array, width: number, height: number, channels: number, sigma: number, axis: 'rows' | 'cols', mode: 'constant' | 'edge'): Float32Array {
  const radius = Math.trunc(4 * sigma + 0.5);
  const weights = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) {
    weights[k + radius] = Math.exp(-0.5 * (k * k) / (sigma * sigma));
    sum += weights[k + radius];
  }
  for (let k = 0; k < weights.length; k++) weights[k] /= sum;
  const out = new Float32Array(src.length);
  const len = axis === 'rows' ? height : width;
  const step = axis === 'rows' ? width * channels : channels;
  const lines = axis === 'rows' ? width * channels : height;
  for (let line = 0; line < lines; line++) {
    // First element of this line and, for columns, each channel handled as its own line.
    const bases = axis === 'rows' ? [line] : Array.from({ length: channels }, (_, c) => line * width * channels + c);
    for (const base of bases) {
      for (let i = 0; i < len; i++) {
        let acc = 0;
        for (let k = -radius; k <= radius; k++) {
          let j = i + k;
          if (j < 0 || j >= len) {
            if (mode === 'constant') continue;
            j = j < 0 ? 0 : len - 1;
          }
          acc += weights[k + radius] * src[base + j * step];
        }
        out[base + i * step] = acc;
      }
    }
  }
  return out;
}
