import { Random } from './random';

/**
 * A seeded tissue-like two-channel image, H×W×2 interleaved float32: a noisy background (0–5) plus
 * gaussian blobs (σ 3–9 px, peak 20–220) alternating between the channels, one per 600 pixels. Cheap to
 * make at any size, for inference tests and benchmarks where the pixels' look, not their biology, matters
 * (`generateTissue` makes labelled cells).
 */
export function blobImage(width: number, height: number, seed = 1): Float32Array {
  const r = new Random(seed);
  const img = new Float32Array(width * height * 2);
  for (let i = 0; i < img.length; i++) img[i] = r.next() * 5;
  for (let b = 0; b < (width * height) / 600; b++) {
    const cy = r.next() * height, cx = r.next() * width, sigma = 3 + r.next() * 6, a = 20 + r.next() * 200, ch = b % 2;
    for (let y = Math.max(0, Math.floor(cy - 3 * sigma)); y < Math.min(height, cy + 3 * sigma); y++) {
      for (let x = Math.max(0, Math.floor(cx - 3 * sigma)); x < Math.min(width, cx + 3 * sigma); x++) {
        img[(y * width + x) * 2 + ch] += a * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma * sigma));
      }
    }
  }
  return img;
}
