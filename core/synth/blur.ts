/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;
/**
 * Separable gaussian blur for the synthetic generator's point-spread function and textures. Kept here
 * rather than in `core/kernels/` because it only needs to look plausible (edges clamp to the nearest
 * pixel); the pipeline's own gaussian, which must match scikit-image, lives with the watershed.
 */

/** Normalised 1-D gaussian taps for σ (pixels), radius ⌈3σ⌉. */
export function gaussianTaps(sigma: number): Float32Array {
  const radius = math.max(1, math.ceil(3 * sigma));
  const taps = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const w = math.exp(-(i * i) / (2 * sigma * sigma));
    taps[i + radius] = w;
    sum += w;
  }
  for (let i = 0; i < taps.length; i++) taps[i] /= sum;
  return taps;
}

/** Blur a row-major width×height float image in place with a gaussian of σ pixels (clamped edges). */
export function blurInPlace(img: Float32Array, width: number, height: number, sigma: number): void {
  if (sigma <= 0) return;
  const taps = gaussianTaps(sigma);
  const r = (taps.length - 1) >> 1;
  const line = new Float32Array(math.max(width, height) + 2 * r);
  // Rows.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let i = 0; i < width + 2 * r; i++) line[i] = img[row + math.min(width - 1, math.max(0, i - r))];
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = 0; k < taps.length; k++) acc += taps[k] * line[x + k];
      img[row + x] = acc;
    }
  }
  // Columns.
  for (let x = 0; x < width; x++) {
    for (let i = 0; i < height + 2 * r; i++) line[i] = img[math.min(height - 1, math.max(0, i - r)) * width + x];
    for (let y = 0; y < height; y++) {
      let acc = 0;
      for (let k = 0; k < taps.length; k++) acc += taps[k] * line[y + k];
      img[y * width + x] = acc;
    }
  }
}
