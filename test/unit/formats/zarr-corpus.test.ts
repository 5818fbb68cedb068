import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage } from '../../../core/formats/image';
import type { NdArray } from '../../../core/formats/ndarray';
import { decodeNpy } from '../../../core/formats/npz';
import { LocalStore, registerStore, type RangeReader } from '../../../core/storage';
import { Random } from '../../../core/synth/random';
import { runPython } from '../../helpers/python';

/**
 * Every OME-Zarr written by zarr-python and validated by ome-zarr-models (test/fixtures/make_zarr_corpus.py) reads back
 * pixel-exact, whole planes and regions, every level, with the metadata the writer put in; every bad
 * input fails with the error code and a message naming the array and the cause.
 */
interface Good {
  file: string; writer: string;
  expect: { width: number; height: number; dtype: string; levels: number; channels: string[]; physicalSizeX?: number; calibrated?: boolean;
    ngffVersion?: string; zarrFormat: 2 | 3; compression?: string; dimensionOrder?: string };
}
interface Bad { file: string; code: string; match: string; read: boolean }

const dir = mkdtempSync(join(tmpdir(), 'tessel-zarr-corpus-'));
runPython(join(__dirname, '..', '..', 'fixtures', 'make_zarr_corpus.py'), [dir]);
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { good: Good[]; bad: Bad[] };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const npy = (name: string): NdArray => decodeNpy(new Uint8Array(readFileSync(join(dir, name))), name);

/** Channel c of a (C, Y, X) array, rows y0.. and columns x0.. of the window, row-major. */
function window(a: NdArray, c: number, x0: number, y0: number, w: number, h: number): number[] {
  const [, H, W] = a.shape;
  const d = a.data as unknown as ArrayLike<number>;
  const out: number[] = [];
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) out.push(d[c * H * W + y * W + x]);
  expect(out.length).toBe(w * h);
  return out;
}

const same = (got: ArrayLike<number>, want: number[]): boolean => got.length === want.length && want.every((v, i) => got[i] === v || (Number.isNaN(v) && Number.isNaN(got[i])));

it('the corpus covers both NGFF versions and the codecs Tessel reads', () => {
  expect(new Set(manifest.good.map((g) => g.expect.zarrFormat))).toEqual(new Set([2, 3]));
  const codecs = new Set(manifest.good.map((g) => g.expect.compression));
  for (const c of ['none', 'zlib', 'gzip', 'zstd', 'blosc-lz4', 'blosc-zstd']) expect(codecs).toContain(c);
  expect(manifest.bad.length).toBeGreaterThanOrEqual(10);
});

describe.each(manifest.good.map((g) => [g.file, g] as const))('%s', (file, entry) => {
  it('metadata matches what the writer put in', async () => {
    const src = await openImage(join(dir, file));
    try {
      const e = entry.expect;
      const { info } = src;
      expect({ w: info.width, h: info.height, dtype: info.dtype, levels: info.levels, channels: info.channels, format: info.format, zarrFormat: info.zarrFormat })
        .toEqual({ w: e.width, h: e.height, dtype: e.dtype, levels: e.levels, channels: e.channels, format: 'ome-zarr', zarrFormat: e.zarrFormat });
      if (e.physicalSizeX !== undefined) {
        expect(info.physicalSizeX).toBeCloseTo(e.physicalSizeX, 9);
        expect(info.physicalSizeY).toBeCloseTo(e.physicalSizeX, 9);
        expect(info.calibrated).toBe(true);
      }
      if (e.calibrated === false) {
        expect([info.calibrated, info.physicalSizeX]).toEqual([false, undefined]);
        expect(info.warnings.join('\n')).toMatch(/uncalibrated/);
      }
      if (e.compression) expect(info.compression).toBe(e.compression);
      if (e.ngffVersion) expect(info.ngffVersion).toBe(e.ngffVersion);
      if (e.dimensionOrder) expect(info.dimensionOrder).toBe(e.dimensionOrder);
    } finally {
      await src.close();
    }
  });

  it('every channel and level reads pixel-exact, whole and by region', async () => {
    const src = await openImage(join(dir, file));
    const rng = new Random(entry.file.length * 7919);
    const rand = (): number => rng.next();
    try {
      for (let level = 0; level < entry.expect.levels; level++) {
        const want = npy(`${file}.level${level}.npy`);
        const [C, H, W] = want.shape;
        expect(await src.levelSize(level)).toEqual({ width: W, height: H });
        for (let c = 0; c < C; c++) {
          const p = await src.readChannel(c, { level });
          expect([p.width, p.height, p.data.constructor.name]).toEqual([W, H, want.data.constructor.name]);
          expect({ level, c, same: same(p.data as ArrayLike<number>, window(want, c, 0, 0, W, H)) }).toEqual({ level, c, same: true });
          // Regions that start and end inside chunks, and a single pixel.
          for (let k = 0; k < 3; k++) {
            const w = k === 2 ? 1 : 1 + Math.floor(rand() * (W - 1));
            const h = k === 2 ? 1 : 1 + Math.floor(rand() * (H - 1));
            const x = Math.floor(rand() * (W - w + 1));
            const y = Math.floor(rand() * (H - h + 1));
            const r = await src.readChannel(c, { level, region: { x, y, width: w, height: h } });
            expect({ level, c, x, y, w, h, same: same(r.data as ArrayLike<number>, window(want, c, x, y, w, h)) }).toEqual({ level, c, x, y, w, h, same: true });
          }
        }
      }
    } finally {
      await src.close();
    }
  });
});

describe.each(manifest.bad.map((b) => [b.file, b] as const))('%s', (file, entry) => {
  it(`fails with ${entry.code}, naming the array and the cause`, async () => {
    const run = async (): Promise<void> => {
      const src = await openImage(join(dir, file));
      try {
        if (entry.read) for (let c = 0; c < src.info.channels.length; c++) await src.readChannel(c);
      } finally {
        await src.close();
      }
    };
    const err = await run().then(() => undefined, (e: unknown) => e as { code?: string; message: string });
    expect(err && { code: err.code, message: err.message }).toEqual({ code: entry.code, message: expect.stringMatching(new RegExp(entry.match)) });
    expect(err!.message.split('\n')).toHaveLength(1);
  });
});

/** The local store under a `count://` scheme, recording every object read. */
class CountingStore extends LocalStore {
  readonly reads: string[] = [];
  override handles(uri: string): boolean {
    return uri.startsWith('count://');
  }
  override readAll(uri: string): Promise<Uint8Array> {
    this.reads.push(uri);
    return super.readAll(uri.slice('count://'.length));
  }
  override openRange(uri: string): Promise<RangeReader> {
    this.reads.push(uri);
    return super.openRange(uri.slice('count://'.length));
  }
}

it('a region read fetches exactly the chunks it touches (and each metadata document once)', async () => {
  const counting = new CountingStore();
  registerStore(counting);
  const uri = `count://${dir}/zarr_v2_zlib.ome.zarr`;
  const src = await openImage(uri);
  const chunks = (): string[] => counting.reads.filter((r) => !/(\.zarray|\.zattrs|\.zgroup|zarr\.json)$/.test(r)).map((r) => r.slice(uri.length + 1));
  try {
    const metadataReads = counting.reads.length;
    expect(new Set(counting.reads).size).toBe(metadataReads);
    // Chunks are 1×32×64 (c, y, x); zarr-python's v2 keys are level/c.y.x.
    await src.readChannel(1, { region: { x: 70, y: 40, width: 10, height: 10 } });
    expect(chunks()).toEqual(['0/1.1.1']);
    counting.reads.length = 0;
    await src.readChannel(2, { region: { x: 60, y: 30, width: 10, height: 4 } });
    expect(chunks().sort()).toEqual(['0/2.0.0', '0/2.0.1', '0/2.1.0', '0/2.1.1']);
    counting.reads.length = 0;
    await src.readChannel(0, { level: 1, region: { x: 0, y: 0, width: 75, height: 50 } });
    expect(chunks().sort()).toEqual(['1/0.0.0', '1/0.0.1', '1/0.1.0', '1/0.1.1']);
  } finally {
    await src.close();
  }
});

it('tessel inspect shows an OME-Zarr like an OME-TIFF (native ESM import under tsx)', () => {
  const cli = join(__dirname, '..', '..', '..', 'cli', 'main.ts');
  const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), cli, 'inspect', '--json', join(dir, 'defaults_v04_cyx.ome.zarr')], { encoding: 'utf8' });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(JSON.parse(r.stdout)).toEqual({
    uri: join(dir, 'defaults_v04_cyx.ome.zarr'), width: 150, height: 100, channels: ['DAPI', 'CD3', 'Pan-Cytokeratin'], dtype: 'uint16',
    physicalSizeX: 0.325, physicalSizeY: 0.325, calibrated: true, levels: 3, tiled: true, bigtiff: false, dimensionOrder: 'CYX',
    compression: manifest.good.find((g) => g.file === 'defaults_v04_cyx.ome.zarr')!.expect.compression,
    format: 'ome-zarr', ngffVersion: '0.4', zarrFormat: 2, chunkSize: { width: 64, height: 32 }, warnings: [],
  });
  const human = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), cli, 'inspect', join(dir, 'bad_axes.ome.zarr')], { encoding: 'utf8' });
  expect([human.status, human.stderr.trim()]).toEqual([1, `tessel: ${join(dir, 'bad_axes.ome.zarr')}: axis 'lambda' of type 'spectral' is not one Tessel can map (expected t, c, z, y, x)`]);
});
