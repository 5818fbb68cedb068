import { FloodQueue } from '../../../core/kernels/flood-queue';
import { labelComponents } from '../../../core/kernels/label';
import { sortByValue } from '../../../core/kernels/sort-by-value';
import { watershedConsuming, watershedFromMarkers } from '../../../core/kernels/watershed';
import { f32, i32, mismatches, python, rng, u8 } from './skimage-bridge';

describe('labelComponents vs skimage.measure.label (exact)', () => {
  test('literal grid: a diagonal joins under connectivity 2 only', () => {
    const grid = Uint8Array.from([
      1, 0, 0, 1,
      0, 1, 0, 1,
      0, 0, 0, 0,
      1, 1, 0, 1,
    ]);
    expect(Array.from(labelComponents({ data: grid, width: 4, height: 4 }, 2).labels)).toEqual([1, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 0, 3, 3, 0, 4]);
    expect(Array.from(labelComponents({ data: grid, width: 4, height: 4 }, 1).labels)).toEqual([1, 0, 0, 2, 0, 3, 0, 2, 0, 0, 0, 0, 4, 4, 0, 5]);
  });

  test.each([[1, 0.45], [2, 0.45], [1, 0.6], [2, 0.3]])('random binary, connectivity %p, density %p', async (conn, density) => {
    const H = 57, W = 64;
    const r = rng(conn * 10 + density * 100);
    const img = Uint8Array.from({ length: H * W }, () => (r() < density ? 1 : 0));
    const before = img.slice();
    const ours = labelComponents({ data: img, width: W, height: H }, conn as 1 | 2);
    const ref = await python(`from skimage.measure import label\nO["l"] = label(I["b"], connectivity=${conn}).astype(np.int32)`, { b: u8(img, H, W) });
    expect(mismatches(ours.labels, ref.get('l')!.data as Int32Array)).toBe(0);
    expect(ours.count).toBeGreaterThan(20);
    expect(mismatches(img, before)).toBe(0);
  });
});

describe('watershedFromMarkers vs skimage.segmentation.watershed (exact on tie-free surfaces)', () => {
  test('literal 1×7 ridge: each marker floods its own basin, the mask stops flooding', () => {
    const surface = Float32Array.from([0.1, 0.2, 0.3, 0.9, 0.4, 0.2, 0.1]);
    const markers = Int32Array.from([1, 0, 0, 0, 0, 0, 2]);
    expect(Array.from(watershedFromMarkers({ data: surface, width: 7, height: 1 }, markers))).toEqual([1, 1, 1, 1, 2, 2, 2]);
    const mask = Uint8Array.from([1, 1, 1, 0, 1, 1, 1]);
    expect(Array.from(watershedFromMarkers({ data: surface, width: 7, height: 1 }, markers, { mask }))).toEqual([1, 1, 1, 0, 2, 2, 2]);
  });

  test('FIFO among equal values: a flat plateau is split by arrival order', () => {
    const surface = new Float32Array(6); // all equal: pure breadth-first growth from both ends
    const markers = Int32Array.from([1, 0, 0, 0, 0, 2]);
    expect(Array.from(watershedFromMarkers({ data: surface, width: 6, height: 1 }, markers))).toEqual([1, 1, 1, 2, 2, 2]);
  });

  test.each([1, 2, 3])('random distinct surface, markers and mask (seed %p)', async (seed) => {
    const H = 70, W = 53;
    const r = rng(seed);
    const surface = Float32Array.from({ length: H * W }, (_, i) => (i + 1) / (H * W)); // distinct values…
    for (let i = surface.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [surface[i], surface[j]] = [surface[j], surface[i]]; } // …shuffled
    const mask = Uint8Array.from({ length: H * W }, () => (r() < 0.85 ? 1 : 0));
    const markers = new Int32Array(H * W);
    for (let k = 1; k <= 40; k++) markers[Math.floor(r() * H * W)] = k;
    const copies = [surface.slice(), markers.slice(), mask.slice()];
    const ours = watershedFromMarkers({ data: surface, width: W, height: H }, markers, { mask });
    const ref = await python('from skimage.segmentation import watershed\nO["w"] = watershed(I["s"], I["m"], mask=I["k"].astype(bool)).astype(np.int32)',
      { s: f32(surface, H, W), m: i32(markers, H, W), k: u8(mask, H, W) });
    expect(mismatches(ours, ref.get('w')!.data as Int32Array)).toBe(0);
    expect(new Set(ours).size).toBeGreaterThan(20);
    expect([mismatches(surface, copies[0]), mismatches(markers, copies[1]), mismatches(mask, copies[2])]).toEqual([0, 0, 0]);
  });
});

describe('watershedConsuming: the same flood from inputs it takes over', () => {
  // 400×333 spans three of the queue's 65,536-pixel place buckets.
  test.each([[4, 90, 77], [5, 90, 77], [6, 400, 333]])('equals watershedFromMarkers bit for bit on a surface full of ties, and clears what it took (seed %p, %p×%p)', (seed, H, W) => {
    const r = rng(seed);
    // Few distinct values (ties everywhere), so the FIFO order among equal values decides many pixels.
    const surface = Float32Array.from({ length: H * W }, () => Math.floor(r() * 12) / 12);
    const mask = Uint8Array.from({ length: H * W }, () => (r() < 0.8 ? 1 : 0));
    const markers = new Int32Array(H * W);
    for (let k = 1; k <= 60; k++) markers[Math.floor(r() * H * W)] = k;
    const want = watershedFromMarkers({ data: surface, width: W, height: H }, markers, { mask });
    const inputs = { surface: surface.slice(), markers: markers.slice(), mask: mask.slice() };
    const got = watershedConsuming(inputs, W, H);
    expect(mismatches(got, want)).toBe(0);
    expect(new Set(got).size).toBeGreaterThan(40);
    expect(inputs).toEqual({ surface: undefined, markers: undefined, mask: undefined });
  });

  test('a negative marker is refused naming where it is', () => {
    const markers = Int32Array.from([0, 0, -3, 0]);
    expect(() => watershedConsuming({ surface: new Float32Array(4), markers }, 2, 2)).toThrow('watershed markers must be >= 0, got -3 at x=0, y=1');
    expect(() => watershedFromMarkers({ data: new Float32Array(4), width: 2, height: 2 }, markers)).toThrow(RangeError);
  });
});

describe('FloodQueue: places told by pixel with scratch', () => {
  test('tells every pixel the same place as without scratch, bucket by bucket of 65,536 indices, and pops (and peeks) the same sequence', () => {
    const n = 200_000; // four place buckets
    const r = rng(11);
    const values = Float32Array.from({ length: n }, () => Math.floor(r() * 5000) / 5000); // ties and unique values
    const include = Uint8Array.from({ length: n }, () => (r() < 0.9 ? 1 : 0));
    const told = (scratch: boolean): { ids: number[]; byId: Map<number, number>; queue: FloodQueue } => {
      const sorted = sortByValue(values, include);
      const ids: number[] = [];
      const byId = new Map<number, number>();
      const m = sorted.order.length;
      const queue = new FloodQueue(sorted, (i) => 3 * i, (id, place) => { ids.push(id); byId.set(id, place); },
        scratch ? { scratch: { ids: new Int32Array(m), places: new Int32Array(m) } } : {});
      return { ids, byId, queue };
    };
    const plain = told(false), bucketed = told(true);
    expect(bucketed.byId).toEqual(plain.byId);
    expect(bucketed.ids.length).toBe(plain.ids.length);
    const inBucketOrder = (ids: number[]): boolean => ids.every((id, k) => k === 0 || (id / 3) >>> 16 >= (ids[k - 1] / 3) >>> 16);
    expect(inBucketOrder(bucketed.ids)).toBe(true);
    expect(inBucketOrder(plain.ids)).toBe(false); // by value, all over the image
    // Push every pixel in one shuffled order into both queues: they pop the same (value, age) sequence.
    const push = [...plain.byId.keys()].sort(() => r() - 0.5);
    for (const id of push) { plain.queue.push(id, plain.byId.get(id)!); bucketed.queue.push(id, bucketed.byId.get(id)!); }
    // peek() names what pop() returns next, and -1 once the queue is empty.
    const popped = (q: FloodQueue): number[] => {
      const out: number[] = [];
      let peeked = 0;
      while (q.size > 0) { const next = q.peek(); const id = q.pop(); if (next === id) peeked++; out.push(id); }
      expect(peeked).toBe(out.length);
      expect(q.peek()).toBe(-1);
      return out;
    };
    expect(popped(bucketed.queue)).toEqual(popped(plain.queue));
  });

  test('refuses scratch shorter than the queue', () => {
    const sorted = sortByValue(Float32Array.from([3, 1, 2]));
    expect(() => new FloodQueue(sorted, (i) => i, () => undefined, { scratch: { ids: new Int32Array(2), places: new Int32Array(3) } })).toThrow("the queue's scratch must hold 3 entries");
  });
});
