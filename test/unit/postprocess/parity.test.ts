import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matchObjects } from '../../../core/eval/match';
import type { NdArray } from '../../../core/formats/ndarray';
import { readNpz, writeNpz } from '../../../core/formats/npz';
import { postprocessMaps } from '../../../core/postprocess/deep-watershed';
import { postprocess } from '../../../core/postprocess';
import { runPython } from '../../helpers/python';

const SCRIPT = join(__dirname, 'fixtures', 'deep_watershed_reference.py');
const dir = mkdtempSync(join(tmpdir(), 'tessel-parity-'));
const mapsUri = join(dir, 'raw_predictions.npz');
let heads: Map<string, NdArray>;

beforeAll(async () => {
  runPython(SCRIPT, ['maps', '--size', '512', '--seed', '4', '--out', mapsUri]);
  heads = await readNpz(mapsUri);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** scikit-image running the same recipe (fixtures/deep_watershed_reference.py) → labels per compartment. */
async function reference(params: string[] = []): Promise<Map<string, NdArray>> {
  const out = join(dir, `ref-${params.join('_') || 'default'}.npz`);
  runPython(SCRIPT, ['recipe', '--npz', mapsUri, '--out', out, ...params.flatMap((p) => ['--param', p])]);
  return readNpz(out);
}

describe('deep watershed parity with scikit-image (512×512 seeded Mesmer-like maps)', () => {
  test.each([['whole-cell', 'whole_cell'], ['nuclear', 'nuclear']] as const)('%s with Mesmer defaults: F1 ≥ 0.98 at IoU > 0.5, mean IoU ≥ 0.97', async (compartment, key) => {
    const ref = (await reference()).get(key)!.data as Int32Array;
    const ours = postprocessMaps(heads, compartment);
    const m = matchObjects(ref, ours, 0.5);
    expect(m.tp + m.fn).toBeGreaterThan(300); // a few hundred objects, so the bound means something
    expect(m.f1).toBeGreaterThanOrEqual(0.98);
    expect(m.meanMatchedIoU).toBeGreaterThanOrEqual(0.97);
  });

  test('non-default parameters (maxima smoothing, other thresholds) keep parity', async () => {
    const ref = (await reference(['maxima_smooth=1', 'interior_threshold=0.3', 'maxima_threshold=0.05', 'radius=3', 'fill_holes_threshold=30', 'small_objects_threshold=25']))
      .get('whole_cell')!.data as Int32Array;
    const ours = postprocessMaps(heads, 'whole-cell', { maximaSmooth: 1, interiorThreshold: 0.3, maximaThreshold: 0.05, radius: 3, fillHolesThreshold: 30, smallObjectsThreshold: 25 });
    const m = matchObjects(ref, ours, 0.5);
    expect(m.tp + m.fn).toBeGreaterThan(300);
    expect(m.f1).toBeGreaterThanOrEqual(0.98);
    expect(m.meanMatchedIoU).toBeGreaterThanOrEqual(0.97);
  });

  test('the postprocess stage (worker threads, TIFF out) writes the same masks, readable by tifffile as int32', async () => {
    const outDir = join(dir, 'SEGMASK');
    const progress: number[] = [];
    const r = await postprocess({ predictionsUri: mapsUri, outDir, name: 'tile', compartment: 'both', onProgress: (f) => progress.push(f) });
    expect(r.wholeCellMaskUri).toBe(join(outDir, 'tile_WholeCellMask.tiff'));
    expect(r.nucleusMaskUri).toBe(join(outDir, 'tile_NucleusMask.tiff'));
    expect([r.width, r.height]).toEqual([512, 512]);
    const inProcess = { whole: postprocessMaps(heads, 'whole-cell'), nuclear: postprocessMaps(heads, 'nuclear') };
    const check = join(dir, 'inprocess.npz');
    await writeNpz(check, {
      whole: { data: inProcess.whole, shape: [512, 512], dtype: 'int32' },
      nuclear: { data: inProcess.nuclear, shape: [512, 512], dtype: 'int32' },
    });
    const verdict = runPython(`
import sys, numpy as np, tifffile
e = np.load(sys.argv[1]); w = tifffile.imread(sys.argv[2]); n = tifffile.imread(sys.argv[3])
print(w.dtype, n.dtype, int(w.max()), int(n.max()), bool((w == e['whole']).all()), bool((n == e['nuclear']).all()))`,
    [check, r.wholeCellMaskUri!, r.nucleusMaskUri!]).trim();
    expect(verdict).toBe(`int32 int32 ${r.wholeCellCount} ${r.nucleusCount} True True`);
    expect(progress[0]).toBe(0);
    expect(progress[progress.length - 1]).toBe(1);
  });

  test('a prediction NPZ with a wrong head shape is refused naming the file', async () => {
    const bad = join(dir, 'bad.npz');
    const a1 = heads.get('arr_1')!;
    await writeNpz(bad, { arr_0: heads.get('arr_0')!, arr_1: { ...a1, shape: [1, 512, 256, 6] }, arr_2: heads.get('arr_2')!, arr_3: heads.get('arr_3')! });
    await expect(postprocess({ predictionsUri: bad, outDir: join(dir, 'x'), name: 'bad', compartment: 'whole-cell' }))
      .rejects.toMatchObject({ code: 'INVALID_ARRAY', message: expect.stringContaining(`${bad}: array 'arr_1' has shape (1,512,256,6), expected (1,H,W,3)`) });
  });

  test('invalid parameter overrides are refused before any work', async () => {
    await expect(postprocess({ predictionsUri: mapsUri, outDir: join(dir, 'y'), name: 'p', compartment: 'nuclear', nuclear: { maximaThreshold: 0 } }))
      .rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('nuclear parameters: maximaThreshold must be > 0') });
    await expect(postprocess({ predictionsUri: mapsUri, outDir: join(dir, 'y'), name: 'p', compartment: 'whole-cell', wholeCell: { radius: 1.5 } }))
      .rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('radius') });
  });
});
