import { join } from 'node:path';
import { readNpz } from '../../../core/formats/npz';
import { mesmerNormalize, nonZeroPercentile } from '../../../core/predict/normalize';
import { clipHistogram } from '../../../core/predict/clahe';
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

  it('the non-zero percentile follows numpy linear interpolation', () => {
    const v = new Float32Array([5, 0, 1, 4, 2, 0, 3]);
    expect(nonZeroPercentile(v, 50)).toBe(3);
    expect(nonZeroPercentile(v, 99.9)).toBeCloseTo(4 + 0.996, 5);
    expect(nonZeroPercentile(v, 0)).toBe(1);
    expect(nonZeroPercentile(v, 100)).toBe(5);
    expect(nonZeroPercentile(new Float32Array([0, -0, 0]), 50)).toBeUndefined();
    expect(nonZeroPercentile(new Float32Array([1, NaN, 2]), 50)).toBeNaN();
  });

  it('the non-zero percentile equals numpy on ties, negatives, subnormals and wide ranges', () => {
    const out = runPython(`
import json, numpy as np
rng = np.random.default_rng(11)
cases = []
def add(name, x):
    x = np.asarray(x, np.float32)
    nz = x[x != 0]
    for q in (0, 0.1, 37.5, 50, 99, 99.9, 100):
        cases.append({'name': name, 'q': q, 'x': x.tolist(), 'p': float(np.percentile(nz, q))})
add('ints with ties', rng.integers(0, 20, 5000))
add('signed', rng.normal(0, 1000, 3001))
add('wide', np.exp(rng.uniform(-80, 80, 2000)) * rng.choice([-1, 1], 2000))
add('subnormal', np.array([1e-45, 3e-45, -1e-45, 0, 2e-38, 5], np.float32))
add('constant', np.full(777, 3.25))
add('one', [0, 0, 42, 0])
print(json.dumps(cases))`);
    const cases = JSON.parse(out) as Array<{ name: string; q: number; x: number[]; p: number }>;
    for (const c of cases) {
      const got = nonZeroPercentile(Float32Array.from(c.x), c.q)!;
      // numpy interpolates in float32 or float64 by version; one float32 ulp of slack either way.
      const tolerance = Math.abs(c.p) * 2 ** -23 + 1e-45;
      expect({ case: `${c.name} q=${c.q}`, ok: Math.abs(got - c.p) <= tolerance, got, want: c.p }).toMatchObject({ ok: true });
    }
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
