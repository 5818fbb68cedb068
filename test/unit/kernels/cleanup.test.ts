import { fillHoles } from '../../../core/kernels/fill-holes';
import { relabelSequential } from '../../../core/kernels/relabel';
import { removeSmallObjects } from '../../../core/kernels/remove-small-objects';
import { i32, mismatches, python, rng } from './skimage-bridge';

/** deepcell_toolbox.utils.fill_holes with the exclusive threshold of the skimage versions deepcell uses. */
const FILL_HOLES_PY = `
from skimage.measure import regionprops
from skimage.morphology import remove_small_holes
def fill_holes(label_img, size, connectivity=1):
    out = np.copy(label_img)
    for prop in regionprops(label_img.astype(int), cache=False):
        if prop.euler_number < 1:
            patch = out[prop.slice]
            filled = remove_small_holes(patch == prop.label, max_size=size - 1, connectivity=connectivity)
            out[prop.slice] = np.where(filled, prop.label, patch)
    return out
`;

/** Blocky random labels: random rectangles of random labels painted over each other, with holes punched. */
function blocks(seed: number, H: number, W: number): Int32Array {
  const r = rng(seed);
  const out = new Int32Array(H * W);
  for (let k = 0; k < 60; k++) {
    const l = 1 + Math.floor(r() * 80), y0 = Math.floor(r() * H), x0 = Math.floor(r() * W);
    const h = 2 + Math.floor(r() * 12), w = 2 + Math.floor(r() * 12);
    for (let y = y0; y < Math.min(H, y0 + h); y++) for (let x = x0; x < Math.min(W, x0 + w); x++) out[y * W + x] = l;
  }
  for (let k = 0; k < 120; k++) out[Math.floor(r() * H * W)] = r() < 0.7 ? 0 : 1 + Math.floor(r() * 80);
  return out;
}

describe('removeSmallObjects: fewer than minSize pixels go', () => {
  test('literal: sizes 4 and 5 against thresholds 4, 5 and 6', () => {
    const l = Int32Array.from([1, 1, 1, 1, 0, 2, 2, 2, 2, 2]);
    expect(Array.from(removeSmallObjects(l, 4))).toEqual(Array.from(l));
    expect(Array.from(removeSmallObjects(l, 5))).toEqual([0, 0, 0, 0, 0, 2, 2, 2, 2, 2]);
    expect(Array.from(removeSmallObjects(l, 6))).toEqual(new Array(10).fill(0));
  });

  test('random labels vs skimage remove_small_objects(max_size = t − 1)', async () => {
    const l = blocks(3, 48, 48);
    const before = l.slice();
    const ref = await python('from skimage.morphology import remove_small_objects\nO["r"] = remove_small_objects(I["l"], max_size=14)', { l: i32(l, 48, 48) });
    expect(mismatches(removeSmallObjects(l, 15), ref.get('r')!.data as Int32Array)).toBe(0);
    expect(mismatches(l, before)).toBe(0);
  });
});

describe('fillHoles vs deepcell-toolbox fill_holes', () => {
  test('literal ring: a 1-pixel hole is filled, a 9-pixel hole only when the threshold exceeds 9', () => {
    const W = 7;
    const ring = new Int32Array(W * W);
    for (let y = 1; y < 6; y++) for (let x = 1; x < 6; x++) ring[y * W + x] = (y === 3 && x === 3) ? 0 : 4;
    const filled = fillHoles({ data: ring, width: W, height: W }, 2);
    expect(filled[3 * W + 3]).toBe(4);
    const big = new Int32Array(W * W);
    for (let y = 1; y < 6; y++) for (let x = 1; x < 6; x++) big[y * W + x] = (y >= 2 && y <= 4 && x >= 2 && x <= 4) ? 0 : 4;
    expect(fillHoles({ data: big, width: W, height: W }, 9)[3 * W + 3]).toBe(0);
    expect(fillHoles({ data: big, width: W, height: W }, 10)[3 * W + 3]).toBe(4);
  });

  test.each([5, 6, 7])('random overlapping blocks (seed %p), threshold 15', async (seed) => {
    const H = 64, W = 64;
    const l = blocks(seed, H, W);
    const before = l.slice();
    const ours = fillHoles({ data: l, width: W, height: H }, 15);
    const ref = await python(`${FILL_HOLES_PY}\nO["f"] = fill_holes(I["l"], 15).astype(np.int32)`, { l: i32(l, H, W) });
    expect(mismatches(ours, ref.get('f')!.data as Int32Array)).toBe(0);
    expect(mismatches(ours, l)).toBeGreaterThan(0); // something was filled
    expect(mismatches(l, before)).toBe(0);
  });
});

describe('relabelSequential vs skimage relabel_sequential', () => {
  test('literal: value order kept, gaps closed', () => {
    const r = relabelSequential(Int32Array.from([0, 7, 3, 3, 0, 12, 7]));
    expect(Array.from(r.labels)).toEqual([0, 2, 1, 1, 0, 3, 2]);
    expect(r.count).toBe(3);
  });

  test('random labels', async () => {
    const l = blocks(8, 40, 40);
    const ref = await python('from skimage.segmentation import relabel_sequential\nO["r"] = relabel_sequential(I["l"])[0].astype(np.int32)', { l: i32(l, 40, 40) });
    expect(mismatches(relabelSequential(l).labels, ref.get('r')!.data as Int32Array)).toBe(0);
  });
});

describe('clean-up kernels in place', () => {
  test('give what their copying forms give, in the array passed', () => {
    const l = blocks(11, 50, 45);
    const plane = (data: Int32Array) => ({ data, width: 45, height: 50 });
    const cases: [string, (a: Int32Array) => Int32Array, (a: Int32Array) => Int32Array][] = [
      ['removeSmallObjects', (a) => removeSmallObjects(a, 6), (a) => removeSmallObjects(a, 6, { inPlace: true })],
      ['fillHoles', (a) => fillHoles(plane(a), 10), (a) => fillHoles(plane(a), 10, { inPlace: true })],
      ['relabelSequential', (a) => relabelSequential(a).labels, (a) => relabelSequential(a, { inPlace: true }).labels],
    ];
    for (const [name, copying, inPlace] of cases) {
      const input = l.slice();
      const want = copying(input);
      expect({ name, untouched: mismatches(input, l) }).toEqual({ name, untouched: 0 });
      const own = l.slice();
      const got = inPlace(own);
      expect({ name, same: got === own, mismatches: mismatches(got, want) }).toEqual({ name, same: true, mismatches: 0 });
    }
    expect(mismatches(fillHoles(plane(l), 10), l)).toBeGreaterThan(0); // the case fills something
  });
});

