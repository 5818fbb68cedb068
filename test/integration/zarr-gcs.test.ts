/**
 * OME-Zarr input and the streaming mask writers on gs://: fake-gcs-server (PyPI) over real HTTP with the
 * real @google-cloud/storage client. Images written by zarr-python are uploaded and read back through
 * gs:// URIs pixel-exact; masks written to gs:// (OME-TIFF and both NGFF versions) read back whole,
 * a rewrite leaves no stale chunk, and a failed commit leaves nothing under the prefix.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { openImage } from '../../core/formats/image';
import { openMaskWriter, type MaskWriterOptions } from '../../core/formats/mask-writer';
import { decodeNpy } from '../../core/formats/npz';
import { configureGcs, storeFor } from '../../core/storage';
import { fakeGcsServerBinary, startGcsEmulator, type GcsEmulator } from '../helpers/gcs-emulator';
import { runPython } from '../helpers/python';

const bin = fakeGcsServerBinary();
if (!bin.path && !process.env.CI) console.warn(`SKIPPING OME-Zarr gs:// tests: ${bin.reason}`);
const maybe = bin.path || process.env.CI ? describe : describe.skip;

maybe('OME-Zarr and masks on gs://', () => {
  let emu: GcsEmulator;
  let root: string;
  const dir = mkdtempSync(join(tmpdir(), 'tessel-zarr-gcs-'));

  beforeAll(async () => {
    emu = await startGcsEmulator();
    configureGcs({ apiEndpoint: emu.endpoint });
    root = `gs://${emu.bucket}/zarr`;
    runPython(join(__dirname, '..', 'fixtures', 'make_zarr_corpus.py'), [dir]);
  }, 120_000);
  afterAll(async () => {
    await emu?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function upload(name: string): Promise<string> {
    const local = join(dir, name);
    for (const f of readdirSync(local, { recursive: true }).map(String)) {
      const p = join(local, f);
      if (statSync(p).isFile()) await storeFor(root).writeAtomic(`${root}/${name}/${relative(local, p).split('\\').join('/')}`, readFileSync(p));
    }
    return `${root}/${name}`;
  }

  test.each(['zarr_v2_blosc-lz4.ome.zarr', 'zarr_v3_sharded.ome.zarr', 'defaults_v05_tczyx.ome.zarr'])('%s reads pixel-exact from gs://, whole and by region', async (name) => {
    const uri = await upload(name);
    const src = await openImage(uri);
    try {
      expect(src.info).toMatchObject({ format: 'ome-zarr', width: 150, height: 100, channels: ['DAPI', 'CD3', 'Pan-Cytokeratin'] });
      for (let level = 0; level < src.info.levels; level++) {
        const want = decodeNpy(new Uint8Array(readFileSync(join(dir, `${name}.level${level}.npy`))), name);
        const [, H, W] = want.shape;
        const d = want.data as unknown as ArrayLike<number>;
        const p = await src.readChannel(2, { level });
        expect(Array.from(p.data as ArrayLike<number>)).toEqual(Array.from({ length: W * H }, (_, i) => d[2 * W * H + i]));
        const r = await src.readChannel(1, { level, region: { x: 3, y: 5, width: W - 10, height: H - 7 } });
        expect(Array.from(r.data as ArrayLike<number>)).toEqual(Array.from({ length: (W - 10) * (H - 7) }, (_, i) => d[W * H + (5 + Math.floor(i / (W - 10))) * W + 3 + (i % (W - 10))]));
      }
    } finally {
      await src.close();
    }
  });

  test('a folder URI with no Zarr metadata is a clear error naming it', async () => {
    await expect(openImage(`${root}/nothing-here.ome.zarr`)).rejects.toThrow(`${root}/nothing-here.ome.zarr: no Zarr metadata`);
  });

  const W = 300, H = 200, T = 64;
  const mask = Int32Array.from({ length: W * H }, (_, i) => ((i % W) * 31 + Math.floor(i / W) * 7919) % 100_003);

  async function writeMask(uri: string, opts: Partial<MaskWriterOptions>, skipFirst = false): Promise<void> {
    const w = await openMaskWriter(uri, { width: W, height: H, tileSize: T, umPerPixel: 0.25, ...opts });
    const cells: [number, number][] = [];
    for (let y = 0; y < H; y += T) for (let x = 0; x < W; x += T) cells.push([x, y]);
    for (const [x, y] of cells.reverse().slice(0, skipFirst ? -1 : undefined)) {
      const tw = Math.min(T, W - x), th = Math.min(T, H - y);
      const labels = new Int32Array(tw * th);
      for (let r = 0; r < th; r++) labels.set(mask.subarray((y + r) * W + x, (y + r) * W + x + tw), r * tw);
      await w.writeRegion(x, y, tw, th, labels);
    }
    await w.commit();
  }

  async function readBack(uri: string): Promise<number[]> {
    const src = await openImage(uri);
    try {
      expect([src.info.width, src.info.height, src.info.levels, src.info.physicalSizeX]).toEqual([W, H, 4, 0.25]);
      const lv2 = await src.readChannel(0, { level: 2 });
      expect(Array.from(lv2.data as Int32Array)).toEqual(Array.from({ length: 75 * 50 }, (_, i) => mask[Math.floor(i / 75) * 4 * W + (i % 75) * 4]));
      return Array.from((await src.readChannel(0)).data as Int32Array);
    } finally {
      await src.close();
    }
  }

  test('an OME-TIFF mask published to gs:// reads back whole, every level', async () => {
    const uri = `${root}/masks/a_WholeCellMask.ome.tiff`;
    await writeMask(uri, {});
    expect(await readBack(uri)).toEqual(Array.from(mask));
  });

  test.each(['0.4', '0.5'] as const)('NGFF %s labels published to gs:// read back whole; a smaller rewrite leaves no stale object', async (version) => {
    const uri = `${root}/masks/a-${version}.ome.zarr`;
    await writeMask(uri, { format: 'ome-zarr', labelName: 'cells', ngffVersion: version });
    expect(await readBack(`${uri}/labels/cells`)).toEqual(Array.from(mask));
    const before = (await storeFor(uri).list(uri, { recursive: true })).map((o) => o.uri);
    expect(before.some((u) => u.includes('/labels/cells/2/'))).toBe(true);
    const w = await openMaskWriter(uri, { width: 40, height: 30, tileSize: 32, format: 'ome-zarr', labelName: 'cells', ngffVersion: version });
    await w.writeRegion(0, 0, 40, 30, new Int32Array(1200).fill(7));
    await w.commit();
    const after = (await storeFor(uri).list(`${uri}/labels/cells`, { recursive: true })).map((o) => o.uri.slice(`${uri}/labels/cells/`.length));
    // Two levels of 2×1 and 1×1 chunks plus metadata: the old levels' chunks are gone.
    expect(after.filter((k) => !/(zarr\.json|\.zarray|\.zattrs|\.zgroup)$/.test(k)).sort())
      .toEqual(version === '0.4' ? ['0/0/0', '0/0/1', '1/0/0'] : ['0/c/0/0', '0/c/0/1', '1/c/0/0']);
    const src = await openImage(`${uri}/labels/cells`);
    expect(Array.from((await src.readChannel(0)).data as Int32Array)).toEqual(new Array(1200).fill(7));
  });

  test('a commit with a tile missing publishes nothing on gs://', async () => {
    const tiff = `${root}/masks/missing.ome.tiff`;
    const zarr = `${root}/masks/missing.ome.zarr`;
    await expect(writeMask(tiff, {}, true)).rejects.toThrow(/never written; nothing was published/);
    await expect(writeMask(zarr, { format: 'ome-zarr' }, true)).rejects.toThrow(/never written; nothing was published/);
    expect(await storeFor(tiff).stat(tiff)).toBeUndefined();
    expect(await storeFor(zarr).list(zarr, { recursive: true })).toEqual([]);
  });
});
