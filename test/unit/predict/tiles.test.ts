import { join } from 'node:path';
import { readNpz } from '../../../core/formats/npz';
import { accumulateTile, extractTile, planTiles, splineWindow } from '../../../core/predict/tiles';
import { mesmerResizedShape, resizeBilinear } from '../../../core/predict/resample';
import type { NdArray } from '../../../core/formats/ndarray';
import { runPython } from '../../helpers/python';
import { FIXTURES, maxAbsDiff, tempDir } from './helpers';

function roundTrip(image: Float32Array, w: number, h: number, c: number, tile = 256, ratio = 0.75): Float32Array {
  const g = planTiles(w, h, tile, ratio);
  const out = new Float32Array(w * h * c);
  const buf = new Float32Array(tile * tile * c);
  for (let i = 0; i < g.count; i++) {
    extractTile(image, c, g, i, buf, 0);
    accumulateTile(buf, 0, c, g, i, out);
  }
  return out;
}

describe('tiling (deepcell-toolbox tile_image / untile_image)', () => {
  const dir = tempDir('tiles');
  let tiles: Map<string, NdArray>;
  beforeAll(async () => {
    runPython(join(FIXTURES, 'tiles_resample_reference.py'), [dir]);
    tiles = await readNpz(join(dir, 'tiles.npz'));
  });

  it('plans Mesmer grids: stride 192, overshoot split ceil/floor, padded regular grid', () => {
    const g = planTiles(417, 300, 256);
    expect(g.cols.stride).toBe(192);
    expect(g.cols.count).toBe(2);
    expect(g.cols.paddedSize).toBe(448);
    expect(g.cols.zeroPad).toEqual([16, 15]);
    expect(g.rows.zeroPad).toEqual([74, 74]);
    expect(g.cols.overlaps).toEqual([[0, 64], [64, 0]]);
    expect(g.blend).toBe(true);
    const big = planTiles(2048, 2048, 256);
    expect(big.count).toBe(121);
    const thin = planTiles(700, 100, 256);
    expect(thin.rows.reflectPad).toEqual([78, 78]);
    expect(thin.blend).toBe(false);
  });

  it.each(['odd', 'thin', 'exact', 'wide', 'tiny'])('%s: identity model round trip equals the Python port', (name) => {
    const input = tiles.get(`${name}_input`)!;
    const [h, w, c] = input.shape;
    const got = roundTrip(input.data as Float32Array, w, h, c);
    expect(maxAbsDiff(got, tiles.get(`${name}_untiled`)!.data as Float32Array)).toBeLessThan(1e-6);
  });

  it('blending has no seams: a constant image stays constant to within the spline windows\' 2.5e-4', () => {
    const w = 900;
    const h = 700;
    const got = roundTrip(new Float32Array(w * h).fill(1), w, h, 1);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of got) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    expect(lo).toBeGreaterThan(0.9999);
    expect(hi).toBeLessThan(1.00025);
  });

  it('spline window: 1 inside, ramps that sum to ~1 across an overlap', () => {
    const a = splineWindow(256, 0, 64);
    const b = splineWindow(256, 64, 0);
    expect(a[0]).toBe(1);
    expect(a[191]).toBe(1);
    for (let k = 0; k < 64; k++) expect(Math.abs(a[192 + k] + b[k] - 1)).toBeLessThan(2e-4);
    expect(b[0]).toBeLessThan(0.001);
  });
});

describe('resampling vs skimage.transform.resize(order=1, anti_aliasing=True)', () => {
  const dir = tempDir('resample');
  let resample: Map<string, NdArray>;
  beforeAll(async () => {
    runPython(join(FIXTURES, 'tiles_resample_reference.py'), [dir]);
    resample = await readNpz(join(dir, 'resample.npz'));
  });
  const modes: Record<string, 'constant' | 'edge'> = { down: 'constant', up: 'constant', mixed: 'constant', up_edge: 'edge', down_edge: 'edge' };
  it.each(Object.keys(modes))('%s', (name) => {
    const input = resample.get(`${name}_input`)!;
    const expected = resample.get(`${name}_expected`)!;
    const got = resizeBilinear(input.data as Float32Array, input.shape[1], input.shape[0], 2, expected.shape[1], expected.shape[0], { mode: modes[name] });
    // values are 0..100; float32 rounding of the two-pass filter: observed ≤ 7.7e-6
    expect(maxAbsDiff(got, expected.data as Float32Array)).toBeLessThan(1e-4);
  });
  it('Mesmer target size truncates like int()', () => {
    expect(mesmerResizedShape(1001, 999, 0.25, 0.5)).toEqual({ width: 500, height: 499 });
    expect(mesmerResizedShape(100, 100, 0.65, 0.5)).toEqual({ width: 130, height: 130 });
  });
});
