import {
  blockLevels, firstPassStats, normalizationWindow, reduceFirstPass, reduceSecondPass, secondPassStats, unitTable,
} from '../../../core/blocks/norm';
import type { PixelRect } from '../../../core/predict/clahe';
import { expandNormalized, extractChannel, mesmerNormalizeLevels } from '../../../core/predict/normalize';
import { blobImage } from '../../../core/synth/blobs';
import { Random } from '../../../core/synth/random';

/** A part of a row-major plane. */
function crop(plane: Float32Array, width: number, r: PixelRect): Float32Array {
  const out = new Float32Array(r.width * r.height);
  for (let y = 0; y < r.height; y++) out.set(plane.subarray((r.y + y) * width + r.x, (r.y + y) * width + r.x + r.width), y * r.width);
  return out;
}

/** Cores of `bw × bh` from the origin (edge blocks smaller). */
function cores(width: number, height: number, bw: number, bh: number): PixelRect[] {
  const out: PixelRect[] = [];
  for (let y = 0; y < height; y += bh) for (let x = 0; x < width; x += bw) out.push({ x, y, width: Math.min(bw, width - x), height: Math.min(bh, height - y) });
  return out;
}

/**
 * Normalises `plane` block by block (two streamed statistics passes, then levels per block from its
 * CLAHE window, then the unit table from the cores' extremes) and checks every pixel of every block's
 * region against the whole-plane path, bit for bit.
 */
function checkBlockwise(plane: Float32Array, width: number, height: number, bw: number, bh: number, margin: number): { blocks: number; pixels: number } {
  const whole = mesmerNormalizeLevels(plane, width, height);
  const expected = expandNormalized(whole);
  const parts = cores(width, height, bw, bh);
  const first = reduceFirstPass(parts.map((c) => firstPassStats(crop(plane, width, c))), 99.9);
  const norm = reduceSecondPass(first, parts.map((c) => secondPassStats(crop(plane, width, c), first)), 'test', 'c0');
  expect(norm.scaling === null).toBe(whole.levels === null);
  const size = { width, height };
  const results = parts.map((core) => {
    const x0 = Math.max(0, core.x - margin), y0 = Math.max(0, core.y - margin);
    const region = { x: x0, y: y0, width: Math.min(width, core.x + core.width + margin) - x0, height: Math.min(height, core.y + core.height + margin) - y0 };
    const window = normalizationWindow(size, region);
    return { region, ...blockLevels(crop(plane, width, window), window, size, region, norm, core) };
  });
  const lo = Math.min(...results.map((r) => r.lo)), hi = Math.max(...results.map((r) => r.hi));
  const unit = unitTable(lo, hi);
  let pixels = 0, mismatches = 0;
  for (const { region, levels } of results) {
    for (let y = 0; y < region.height; y++) {
      for (let x = 0; x < region.width; x++) {
        const got = levels ? unit[levels[y * region.width + x]] : 0;
        if (!Object.is(got, expected[(region.y + y) * width + region.x + x])) mismatches++;
        pixels++;
      }
    }
  }
  expect(mismatches).toBe(0);
  return { blocks: parts.length, pixels };
}

describe('blockwise Mesmer normalisation is bit-exact against the whole-plane path', () => {
  const tissue = (w: number, h: number, seed: number) => extractChannel(blobImage(w, h, seed), 2, seed % 2);

  it('odd sizes, edge blocks smaller than a CLAHE kernel, regions reaching past the cores', () => {
    const w = 523, h = 389;
    const plane = tissue(w, h, 3);
    const r = checkBlockwise(plane, w, h, 131, 97, 40);
    expect(r.blocks).toBe(20);
    expect(r.pixels).toBeGreaterThan(w * h); // regions overlap
    checkBlockwise(plane, w, h, 256, 256, 0);
    checkBlockwise(plane, w, h, 200, 333, 150);
  });

  it('planes thinner than a kernel (reflected several times) and one-block planes', () => {
    checkBlockwise(tissue(300, 50, 5), 300, 50, 64, 64, 17);
    checkBlockwise(tissue(41, 700, 6), 41, 700, 41, 128, 30);
    checkBlockwise(tissue(129, 129, 7), 129, 129, 129, 129, 0);
  });

  it('NaNs (no clip, as numpy), mostly-zero planes, constant and empty channels', () => {
    const w = 301, h = 277;
    const rng = new Random(9);
    const nan = tissue(w, h, 8);
    for (let k = 0; k < 40; k++) nan[rng.int(nan.length)] = NaN;
    checkBlockwise(nan, w, h, 128, 100, 33);
    const sparse = tissue(w, h, 10).map((v, i) => (i % 7 === 0 ? v : 0));
    checkBlockwise(sparse, w, h, 90, 90, 20);
    checkBlockwise(new Float32Array(w * h).fill(42), w, h, 128, 128, 10);
    checkBlockwise(new Float32Array(w * h), w, h, 128, 128, 10);
    // A constant block next to tissue: its first pass brings only one value.
    const half = tissue(w, h, 11);
    for (let y = 0; y < h; y++) for (let x = 0; x < 150; x++) half[y * w + x] = 3;
    checkBlockwise(half, w, h, 150, 128, 25);
  });

  it('the percentile comes out of the blocks exactly, with or without a second bucket', () => {
    // Integer-valued intensities (like summed uint16 channels) put both ranks in one bucket; wide floats do not.
    const ints = Float32Array.from({ length: 50_000 }, (_, i) => (i * 7919) % 4096);
    checkBlockwise(ints, 250, 200, 64, 64, 0);
    const rng = new Random(12);
    const wide = Float32Array.from({ length: 40_000 }, () => Math.exp(rng.next() * 30 - 10));
    checkBlockwise(wide, 200, 200, 70, 70, 5);
  });

  it('refuses infinite values with the file and channel named', () => {
    const plane = tissue(130, 130, 13);
    plane[5] = -Infinity;
    const first = reduceFirstPass([firstPassStats(plane)], 99.9);
    expect(() => reduceSecondPass(first, [secondPassStats(plane, first)], 'slide.ome.tiff', 'nuclear')).toThrow(/slide\.ome\.tiff: channel nuclear holds infinite values/);
  });
});
