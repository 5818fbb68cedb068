import { gaussianFilter } from '../../../core/kernels/gaussian';
import { f32, mismatches, python, rng } from './skimage-bridge';

describe('gaussianFilter vs scipy.ndimage.gaussian_filter (mode reflect, truncate 4)', () => {
  test('literal 4×5 grid, σ = 1', async () => {
    const data = Float32Array.from([0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0, 5, 0, 0, 0, 0]);
    const ours = gaussianFilter({ data, width: 5, height: 4 }, 1);
    const ref = await python('import scipy.ndimage as nd\nO["g"] = nd.gaussian_filter(I["a"], 1)', { a: f32(data, 4, 5) });
    expect(Array.from(ours)).toEqual(Array.from(ref.get('g')!.data as Float32Array));
  });

  test.each([[0.7, 37, 53], [2, 41, 29], [2, 3, 5], [3.3, 64, 1]])('random σ = %p on %p×%p is bit-identical', async (sigma, h, w) => {
    const r = rng(h * 100 + w);
    const data = Float32Array.from({ length: h * w }, () => r());
    const before = data.slice();
    const ours = gaussianFilter({ data, width: w, height: h }, sigma);
    const ref = await python(`import scipy.ndimage as nd\nO["g"] = nd.gaussian_filter(I["a"], ${sigma})`, { a: f32(data, h, w) });
    expect(ref.get('g')!.dtype).toBe('float32');
    expect(mismatches(ours, ref.get('g')!.data as Float32Array)).toBe(0);
    expect(mismatches(data, before)).toBe(0); // input not mutated
  });

  // The passes work band by band of rows: bands of 1, 2 and 5 rows (narrower than the kernel's reach of
  // 8 rows at σ = 2), widths around the 8-pixel strips, and images too small for one strip.
  test.each([[2, 37, 53, 1], [2, 41, 29, 2], [1.5, 64, 17, 5], [2, 9, 7, 3], [0.7, 20, 8, 4], [2, 1, 300, 1]])('σ = %p on %p×%p in bands of %p row(s) is bit-identical', async (sigma, h, w, bandRows) => {
    const r = rng(h * 31 + w);
    const data = Float32Array.from({ length: h * w }, () => r() * 4 - 2);
    const ours = gaussianFilter({ data, width: w, height: h }, sigma, { bandPixels: bandRows * w });
    const ref = await python(`import scipy.ndimage as nd\nO["g"] = nd.gaussian_filter(I["a"], ${sigma})`, { a: f32(data, h, w) });
    expect(mismatches(ours, ref.get('g')!.data as Float32Array)).toBe(0);
  });

  test('σ = 0 returns an equal copy, not the input', () => {
    const data = Float32Array.from([1, 2, 3, 4]);
    const out = gaussianFilter({ data, width: 2, height: 2 }, 0);
    expect(out).not.toBe(data);
    expect(Array.from(out)).toEqual([1, 2, 3, 4]);
  });
});
