import { join } from 'node:path';
import { readNpz } from '../../../core/formats/npz';
import { mesmerNormalize, percentileInPlace } from '../../../core/inference/normalize';
import { clipHistogram } from '../../../core/inference/clahe';
import { runPython } from '../../helpers/python';
import { FIXTURES, maxAbsDiff, tempDir } from './helpers';

describe('Mesmer normalisation vs numpy + scikit-image', () => {
  const dir = tempDir('normalize');
  let arrays: Map<string, { data: unknown; shape: number[] }>;
  beforeAll(async () => {
    runPython(join(FIXTURES, 'normalize_reference.py'), [dir]);
    arrays = await readNpz(join(dir, 'normalize.npz'));
  });

  it.each(['tissue', 'small', 'constant', 'exact'])('%s matches deepcell-toolbox + skimage.equalize_adapthist', (name) => {
    const input = arrays.get(`${name}_input`)!;
    const expected = arrays.get(`${name}_expected`)!.data as Float32Array;
    const [h, w] = input.shape;
    const before = new Float32Array(input.data as Float32Array);
    const got = mesmerNormalize(input.data as Float32Array, w, h);
    const diff = maxAbsDiff(got, expected);
    // Same integer quantisation and float32 accumulation as scikit-image: observed max abs diff 0.
    expect(diff).toBeLessThanOrEqual(1e-6);
    expect(input.data).toEqual(before); // input not mutated
    if (name === 'constant') expect(got.every((v) => v === 0)).toBe(true);
  });

  it('percentile follows numpy linear interpolation', () => {
    const v = new Float32Array([5, 1, 4, 2, 3]);
    expect(percentileInPlace(new Float32Array(v), 50)).toBe(3);
    expect(percentileInPlace(new Float32Array(v), 99.9)).toBeCloseTo(4 + 0.996, 5);
    expect(percentileInPlace(new Float32Array(v), 0)).toBe(1);
  });

  it('clipHistogram equals skimage clip_histogram on random histograms', () => {
    const out = runPython(`
import json, numpy as np
from skimage.exposure._adapthist import clip_histogram
rng = np.random.default_rng(3)
cases = []
for limit in (1, 5, 20, 163):
    for _ in range(5):
        h = (rng.pareto(1.2, 256) * rng.integers(1, 40)).astype(np.int64)
        cases.append({'limit': limit, 'hist': h.tolist(), 'clipped': clip_histogram(h.copy(), limit).tolist()})
print(json.dumps(cases))`);
    const cases = JSON.parse(out) as Array<{ limit: number; hist: number[]; clipped: number[] }>;
    for (const c of cases) {
      const h = Int32Array.from(c.hist);
      clipHistogram(h, c.limit);
      expect(Array.from(h)).toEqual(c.clipped);
    }
  });
});
