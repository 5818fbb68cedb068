import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy } from '../../../core/formats/npz';
import { openImage, readLabelMask } from '../../../core/formats/image';
import type { NdArray } from '../../../core/formats/ndarray';
import { runPython } from '../../helpers/python';

/**
 * Every fixture written by tifffile and libtiff's tiffcp (test/fixtures/make_tiff_corpus.py) must
 * read back pixel-exact with the metadata the writer put in.
 */
interface Expect {
  width: number; height: number; dtype: string; levels: number; channels: string[]; tiled: boolean;
  compression: string; bigtiff: boolean; physicalSizeX?: number; physicalSizeY?: number; calibrated?: boolean; dimensionOrder?: string;
}
interface Manifest { tiffcp: boolean; files: { file: string; writer: string; expect: Expect }[] }

const dir = mkdtempSync(join(tmpdir(), 'tessel-corpus-'));
runPython(join(__dirname, '..', '..', 'fixtures', 'make_tiff_corpus.py'), [dir]);
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function npy(name: string): NdArray {
  return decodeNpy(new Uint8Array(readFileSync(join(dir, name))), name);
}

function plane(a: NdArray, c: number): ArrayLike<number> {
  const n = a.shape[1] * a.shape[2];
  return (a.data as unknown as { subarray(s: number, e: number): ArrayLike<number> }).subarray(c * n, (c + 1) * n);
}

function sameValues(got: ArrayLike<number>, want: ArrayLike<number>): boolean {
  if (got.length !== want.length) return false;
  for (let i = 0; i < got.length; i++) if (got[i] !== want[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) return false;
  return true;
}

it('the corpus covers both independent writers', () => {
  expect(manifest.files.filter((f) => f.writer === 'tifffile').length).toBeGreaterThan(20);
  if (manifest.tiffcp) expect(manifest.files.filter((f) => f.writer === 'tiffcp').length).toBeGreaterThan(5);
  else console.warn('tiffcp not installed: libtiff-written fixtures skipped (apt-get install libtiff-tools)');
});

describe.each(manifest.files.map((f) => [f.file, f] as const))('%s', (file, entry) => {
  it('metadata matches what the writer put in', async () => {
    const src = await openImage(join(dir, file));
    try {
      const { info } = src;
      const e = entry.expect;
      expect({ w: info.width, h: info.height, dtype: info.dtype, levels: info.levels, channels: info.channels, tiled: info.tiled,
        compression: info.compression, bigtiff: info.bigtiff })
        .toEqual({ w: e.width, h: e.height, dtype: e.dtype, levels: e.levels, channels: e.channels, tiled: e.tiled,
          compression: e.compression, bigtiff: e.bigtiff });
      if (e.physicalSizeX !== undefined) {
        expect(info.physicalSizeX).toBeCloseTo(e.physicalSizeX, 9);
        expect(info.physicalSizeY).toBeCloseTo(e.physicalSizeY ?? e.physicalSizeX, 9);
        expect(info.calibrated).toBe(true);
      }
      if (e.calibrated === false) {
        expect(info.calibrated).toBe(false);
        expect(info.physicalSizeX).toBeUndefined();
        expect(info.warnings.join('\n')).toMatch(/uncalibrated/);
      }
      if (e.dimensionOrder) expect(info.dimensionOrder).toBe(e.dimensionOrder);
    } finally {
      await src.close();
    }
  });

  it('every channel and level reads pixel-exact', async () => {
    const src = await openImage(join(dir, file));
    try {
      for (let level = 0; level < entry.expect.levels; level++) {
        const want = npy(level === 0 ? `${file}.npy` : `${file}.level${level}.npy`);
        for (let c = 0; c < want.shape[0]; c++) {
          const p = await src.readChannel(c, { level });
          expect([p.height, p.width]).toEqual([want.shape[1], want.shape[2]]);
          expect(p.data.constructor.name).toBe(want.data.constructor.name);
          expect({ level, c, same: sameValues(p.data as ArrayLike<number>, plane(want, c)) }).toEqual({ level, c, same: true });
        }
      }
    } finally {
      await src.close();
    }
  });

  it('a window reads the same pixels as the full plane', async () => {
    const src = await openImage(join(dir, file));
    try {
      const want = npy(`${file}.npy`);
      const [, h, w] = want.shape;
      const region = { x: 13, y: 29, width: Math.min(71, w - 13), height: Math.min(40, h - 29) };
      const c = want.shape[0] - 1;
      const p = await src.readChannel(c, { region });
      const full = plane(want, c);
      const expected = new Array<number>(region.width * region.height);
      for (let y = 0; y < region.height; y++) for (let x = 0; x < region.width; x++) expected[y * region.width + x] = full[(y + region.y) * w + x + region.x];
      expect(sameValues(p.data as ArrayLike<number>, expected)).toBe(true);
    } finally {
      await src.close();
    }
  });
});

describe('readLabelMask on independent writers', () => {
  it('reads uint16 and int32 masks written by tifffile as Int32Array', async () => {
    const path = join(dir, 'mask_u16.tif');
    runPython(`
import tifffile, numpy as np, sys
rng = np.random.default_rng(1)
tifffile.imwrite(sys.argv[1], rng.integers(0, 65535, (37, 53), dtype=np.uint16), compression='zlib')
tifffile.imwrite(sys.argv[2], rng.integers(-5, 2**31 - 1, (37, 53), dtype=np.int32), compression='lzw', tile=(16, 16))
`, [path, join(dir, 'mask_i32.tif')]);
    const u16 = await readLabelMask(path);
    expect(u16.data).toBeInstanceOf(Int32Array);
    const want = runPython(`
import tifffile, sys
print(','.join(str(int(v)) for v in tifffile.imread(sys.argv[1]).ravel()[:200]), tifffile.imread(sys.argv[2]).astype('int64').sum())
`, [path, join(dir, 'mask_i32.tif')]).trim().split(' ');
    expect(Array.from(u16.data.subarray(0, 200)).join(',')).toBe(want[0]);
    const i32 = await readLabelMask(join(dir, 'mask_i32.tif'));
    expect(String(i32.data.reduce((s, v) => s + BigInt(v), 0n))).toBe(want[1]);
  });
});
