import { diskFootprint } from '../../../core/kernels/footprint';
import { gaussianFilter } from '../../../core/kernels/gaussian';
import { hMaxima } from '../../../core/kernels/h-maxima';
import { reconstructByDilation } from '../../../core/kernels/reconstruction';
import { f32, mismatches, python, rng } from './skimage-bridge';

/** Smoothed noise: many regional maxima of assorted dynamics, some plateaus after float32 rounding. */
function bumpy(seed: number, h: number, w: number, sigma: number): Float32Array {
  const r = rng(seed);
  const noise = Float32Array.from({ length: h * w }, () => r());
  return gaussianFilter({ data: noise, width: w, height: h }, sigma);
}

describe('diskFootprint', () => {
  test.each([0, 1, 2, 3, 5])('radius %p has the pixels of skimage disk', async (radius) => {
    const fp = diskFootprint(radius);
    const ref = await python(`from skimage.morphology import disk\nO["d"] = disk(${radius}).astype(np.uint8)`, {});
    const d = ref.get('d')!;
    const side = 2 * radius + 1;
    const ours = new Uint8Array(side * side);
    ours[radius * side + radius] = 1;
    for (let k = 0; k < fp.dy.length; k++) ours[(fp.dy[k] + radius) * side + fp.dx[k] + radius] = 1;
    expect(Array.from(ours)).toEqual(Array.from(d.data as Uint8Array));
  });
});

describe('hMaxima vs skimage.morphology.h_maxima (exact)', () => {
  test('literal grid from the skimage docstring (as float32)', async () => {
    const w = 10;
    const f = new Float32Array(w * w);
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) f[y * w + x] = Math.trunc(20 - 0.2 * ((y - w / 2) ** 2 + (x - w / 2) ** 2));
    const block = (y0: number, x0: number, v: number) => { for (let y = y0; y < y0 + 2; y++) for (let x = x0; x < x0 + 2; x++) f[y * w + x] = v; };
    block(2, 2, 40); block(2, 7, 60); block(7, 2, 80); block(7, 7, 100);
    const ours = hMaxima({ data: f, width: w, height: w }, 40, diskFootprint(1));
    const ref = await python('from skimage.morphology import h_maxima, disk\nO["m"] = h_maxima(I["f"], 40.0, footprint=disk(1))', { f: f32(f, w, w) });
    expect(Array.from(ours)).toEqual(Array.from(ref.get('m')!.data as Uint8Array));
    expect(ours.reduce((a, b) => a + b, 0)).toBe(12); // the three highest blocks (2×2 each) of dynamic ≥ 40
  });

  test.each([[1, 0.02, 0], [2, 0.01, 1], [3, 0.005, 2], [4, 0.003, 3], [5, 0.9, 2]])('random seed %p, h = %p, radius %p', async (seed, h, radius) => {
    const H = 61, W = 47;
    const img = bumpy(seed, H, W, 1.5);
    const before = img.slice();
    const ours = hMaxima({ data: img, width: W, height: H }, h, diskFootprint(radius));
    const ref = await python(`from skimage.morphology import h_maxima, disk\nO["m"] = h_maxima(I["f"], ${h}, footprint=disk(${radius}))`, { f: f32(img, H, W) });
    expect(mismatches(ours, ref.get('m')!.data as Uint8Array)).toBe(0);
    expect(mismatches(img, before)).toBe(0);
    if (h < 0.5) expect(ours.some((v) => v === 1)).toBe(true);
  });

  test('h = 0 is refused', () => {
    expect(() => hMaxima({ data: new Float32Array(4), width: 2, height: 2 }, 0, diskFootprint(1))).toThrow(/h > 0/);
  });
});

describe('reconstructByDilation vs skimage.morphology.reconstruction (exact)', () => {
  test('random seed below a random mask, disk(2)', async () => {
    const H = 40, W = 33;
    const mask = bumpy(9, H, W, 1);
    const r = rng(10);
    const seed = Float32Array.from(mask, (m) => (r() < 0.05 ? m : m - 0.2));
    const ours = reconstructByDilation({ data: seed, width: W, height: H }, { data: mask, width: W, height: H }, diskFootprint(2));
    const ref = await python('from skimage.morphology import reconstruction, disk\nO["r"] = reconstruction(I["s"], I["m"], footprint=disk(2))', { s: f32(seed, H, W), m: f32(mask, H, W) });
    expect(mismatches(ours, ref.get('r')!.data as Float32Array)).toBe(0);
  });
});
