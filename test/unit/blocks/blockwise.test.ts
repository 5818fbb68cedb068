import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBlob } from '../../../core/blocks/files';
import { loadContext } from '../../../core/blocks/plan';
import { runBlockwise, type BlockwiseOptions } from '../../../core/blocks/run';
import { testBlock } from '../../../core/blocks/test-block';
import { blendWindow, MAP_CHANNELS, MAP_SOURCES, tileOwner, tilesTouching } from '../../../core/blocks/tiles';
import { blockWindow } from '../../../core/contracts/blocks';
import { convert } from '../../../core/convert';
import { readLabelMask } from '../../../core/formats/image';
import { encodeNpy, readNpz } from '../../../core/formats/npz';
import { writeOmeTiff } from '../../../core/formats/tiff-write';
import { postprocess } from '../../../core/postprocess';
import { predict } from '../../../core/predict';
import { cachedCollection } from '../../../core/predict/model-cache';
import type { InferenceModel } from '../../../core/predict/session';
import { quantify } from '../../../core/quantify';
import { ensureReferenceModel } from '../../../core/reference';
import { generateTissue } from '../../../core/synth/tissue';
import { runPython } from '../../helpers/python';
import { tessel } from '../../helpers/cluster';
import { tempDir } from '../predict/helpers';

/**
 * A blockwise run against a whole-image run of the same synthetic tissue (640×520: 3×3 blocks of 256,
 * the last row 8 px tall), with the reference model: the same maps bit for bit, the same masks and
 * labels, the same measurement table byte for byte; NPZ input, the tissue check on a pyramid level,
 * one test block, and a corrupt tile failing with its block named.
 */
jest.setTimeout(600_000);

const W = 640, H = 520, NAME = 'tissue';
let dir: string;
let model: InferenceModel;
let image: string;
const whole = (f: string) => join(dir, 'whole', f);
const blocks = (f: string) => join(dir, 'blocks', f);

function outputs(folder: string) {
  return {
    wholeCellMaskUri: join(dir, folder, `${NAME}_WholeCellMask.tiff`), nucleusMaskUri: join(dir, folder, `${NAME}_NucleusMask.tiff`),
    wholeCellBoxesUri: join(dir, folder, `${NAME}_WholeCellBoxes.npy`), nucleusBoxesUri: join(dir, folder, `${NAME}_NucleusBoxes.npy`), name: NAME,
  };
}

const run = (o: Partial<BlockwiseOptions> & Pick<BlockwiseOptions, 'inputUri' | 'dir' | 'settings'>) =>
  runBlockwise({ blockSize: 256, halo: 96, model, threads: 2, ...o });

beforeAll(async () => {
  dir = tempDir('blockwise');
  model = await cachedCollection(await ensureReferenceModel());
  const t = generateTissue({ width: W, height: H, seed: 5, channels: 4 });
  image = join(dir, `${NAME}.ome.tiff`);
  await writeOmeTiff(image, { channels: t.channels, channelNames: t.channelNames, physicalSizeX: 0.5, physicalSizeY: 0.5, tileSize: 128 });
  // The whole-image path: convert, predict, postprocess, quantify.
  await convert({ imageUri: image, outUri: whole(`${NAME}.npz`) });
  await predict({ npzUri: whole(`${NAME}.npz`), modelUri: model.uri, model, outUri: whole('raw_predictions.npz') });
  await postprocess({ predictionsUri: whole('raw_predictions.npz'), outDir: join(dir, 'whole'), name: NAME, compartment: 'both' });
  await quantify({
    imageUri: image, imageName: NAME, wholeCellMaskUri: whole(`${NAME}_WholeCellMask.tiff`), nucleusMaskUri: whole(`${NAME}_NucleusMask.tiff`),
    outTsvUri: whole('quant.tsv'), geojsonUri: whole('quant.geojson'), threads: 1,
  });
  // Blockwise, measured too.
  await run({
    inputUri: image, dir: join(dir, 'work'),
    settings: { outputs: outputs('blocks'), measure: { imageUri: image, imageName: NAME, geometry: true, tsvUri: blocks('quant.tsv'), geojsonUri: blocks('quant.geojson') } },
  });
});

it('blends every window\'s maps from the blocks\' tiles bit for bit as the whole image blends them', async () => {
  const ctx = await loadContext(join(dir, 'work'));
  const heads = await readNpz(whole('raw_predictions.npz'));
  const px = 256 * 256 * MAP_CHANNELS;
  for (const b of [0, 4, 8]) {
    const window = blockWindow(ctx.plan.layout, b);
    const maps = await blendWindow(ctx.grid, window, tilesTouching(ctx.grid, window), async (t) => {
      const { header, data } = await readBlob<{ tiles: number[] }>(ctx.files.tiles(tileOwner(ctx.plan.layout, ctx.grid, t)));
      return new Float32Array(data, header.tiles.indexOf(t) * px * 4, px);
    });
    let differ = 0;
    MAP_SOURCES.forEach(({ head, channel }, m) => {
      const a = heads.get(`arr_${head}`)!;
      const c = a.shape[3];
      const data = a.data as Float32Array;
      for (let y = 0; y < window.height; y++) {
        for (let x = 0; x < window.width; x++) {
          if (maps[(y * window.width + x) * MAP_CHANNELS + m] !== data[((window.y + y) * W + window.x + x) * c + channel]) differ++;
        }
      }
    });
    expect(`block ${b}: ${differ} differing values`).toBe(`block ${b}: 0 differing values`);
  }
});

it('gives the whole-image masks, labels and numbering included, with cells on the block lines whole', async () => {
  for (const c of ['WholeCell', 'Nucleus']) {
    const a = await readLabelMask(whole(`${NAME}_${c}Mask.tiff`));
    const b = await readLabelMask(blocks(`${NAME}_${c}Mask.tiff`));
    expect(b.width).toBe(W);
    let differ = 0;
    for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) differ++;
    expect(differ).toBe(0);
    // Cells that cross a block line (x = 256, 512 or y = 256, 512) exist, and each kept one label.
    const crossing = new Set<number>();
    for (let y = 0; y < H; y++) for (const x of [255, 511]) if (b.data[y * W + x] !== 0 && b.data[y * W + x] === b.data[y * W + x + 1]) crossing.add(b.data[y * W + x]);
    for (let x = 0; x < W; x++) for (const y of [255, 511]) if (b.data[y * W + x] !== 0 && b.data[y * W + x] === b.data[(y + 1) * W + x]) crossing.add(b.data[y * W + x]);
    expect(crossing.size).toBeGreaterThan(10);
  }
});

it('writes per-label boxes numpy reads, matching the mask', () => {
  const out = runPython(`
import sys, json, numpy as np, tifffile
m = tifffile.imread(sys.argv[1]); b = np.load(sys.argv[2])
ok = all(((m[y0:y1, x0:x1] == k + 1).any(0).all() and (m[y0:y1, x0:x1] == k + 1).any(1).all() and (m == k + 1).sum() == (m[y0:y1, x0:x1] == k + 1).sum())
         for k, (y0, x0, y1, x1) in enumerate(b))
print(json.dumps({'dtype': str(b.dtype), 'shape': list(b.shape), 'labels': int(m.max()), 'ok': bool(ok)}))`, [blocks(`${NAME}_WholeCellMask.tiff`), blocks(`${NAME}_WholeCellBoxes.npy`)]);
  const r = JSON.parse(out) as { dtype: string; shape: number[]; labels: number; ok: boolean };
  expect(r).toEqual({ dtype: 'int32', shape: [r.labels, 4], labels: r.labels, ok: true });
  expect(r.labels).toBeGreaterThan(100);
});

it('measures every cell exactly as the whole image does: the same TSV and GeoJSON, byte for byte', () => {
  expect(readFileSync(blocks('quant.tsv'), 'utf8')).toBe(readFileSync(whole('quant.tsv'), 'utf8'));
  expect(readFileSync(blocks('quant.geojson'), 'utf8')).toBe(readFileSync(whole('quant.geojson'), 'utf8'));
});

it('quantifies any masks block by block (tessel quantify --block-size) with the same table', async () => {
  const r = await tessel(['quantify', '--image', image, '--whole-cell-mask', whole(`${NAME}_WholeCellMask.tiff`), '--nucleus-mask', whole(`${NAME}_NucleusMask.tiff`),
    '--out', join(dir, 'q2.tsv'), '--geojson', join(dir, 'q2.geojson'), '--image-name', NAME, '--block-size', '256', '--json']);
  expect(r.code).toBe(0);
  expect((JSON.parse(r.stdout) as { cells: number; blocks: number }).blocks).toBeGreaterThanOrEqual(6);
  expect(readFileSync(join(dir, 'q2.tsv'), 'utf8')).toBe(readFileSync(whole('quant.tsv'), 'utf8'));
  expect(readFileSync(join(dir, 'q2.geojson'), 'utf8')).toBe(readFileSync(whole('quant.geojson'), 'utf8'));
});

it('writes OME-Zarr labels with --mask-format ome-zarr: both compartments in one valid root, the same labels, measured the same', async () => {
  const out = join(dir, 'zarr');
  const r = await tessel(['segment', image, '--block-size', '256', '--mask-format', 'ome-zarr', '--out-dir', out, '--name', NAME, '--json']);
  expect(r.stderr).toBe('');
  const root = join(out, `${NAME}.ome.zarr`);
  const expected = join(dir, 'whole-cell.npy');
  const wc = await readLabelMask(whole(`${NAME}_WholeCellMask.tiff`));
  writeFileSync(expected, encodeNpy({ data: wc.data, shape: [H, W], dtype: 'int32' }));
  // zarr-python and the NGFF validator read it; the whole-cell label is the whole-image mask at every level.
  const check = JSON.parse(runPython(join(__dirname, '..', '..', 'fixtures', 'check_masks.py'), [expected, root]).trim()) as Record<string, unknown>;
  expect(check).toMatchObject({ zarr_format: 2, labels: ['WholeCell', 'Nucleus'], WholeCell: { dtype: 'int32', equal: [true, true, true] } });
  for (const c of ['WholeCell', 'Nucleus']) {
    const a = await readLabelMask(whole(`${NAME}_${c}Mask.tiff`));
    const b = await readLabelMask(join(root, 'labels', c));
    expect({ c, same: Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer)) }).toEqual({ c, same: true });
  }
  // quantify reads the labels as it reads TIFFs: whole, and by region with --block-size.
  for (const blockwise of [[], ['--block-size', '256']]) {
    const q = await tessel(['quantify', '--image', image, '--whole-cell-mask', join(root, 'labels', 'WholeCell'), '--nucleus-mask', join(root, 'labels', 'Nucleus'),
      '--out', join(out, 'q.tsv'), '--image-name', NAME, ...blockwise]);
    expect(q.stderr).toBe('');
    expect(readFileSync(join(out, 'q.tsv'), 'utf8')).toBe(readFileSync(whole('quant.tsv'), 'utf8'));
  }
  const t = await tessel(['segment', image, '--block-size', '256', '--test-block', '0,0', '--mask-format', 'ome-zarr', '--out-dir', out, '--name', NAME]);
  expect(t.stderr).toMatch(/--test-block writes its window's masks as OME-TIFF; leave out --mask-format ome-zarr/);
});

it('reads the NPZ intermediate as well as the image', async () => {
  await run({ inputUri: whole(`${NAME}.npz`), dir: join(dir, 'work-npz'), settings: { outputs: outputs('npz') } });
  const a = await readLabelMask(whole(`${NAME}_WholeCellMask.tiff`));
  const b = await readLabelMask(join(dir, 'npz', `${NAME}_WholeCellMask.tiff`));
  expect(Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
});

it('skips blocks without tissue on a low-resolution level, runs only the tiles their neighbours need, and counts them', async () => {
  // The same tissue with its right third (x ≥ 512) empty, as a pyramidal OME-TIFF written by tifffile.
  const t = generateTissue({ width: W, height: H, seed: 5, channels: 4 });
  const planes = t.channels.map((p) => p.data.map((v, i) => (i % W >= 512 ? 0 : v)));
  writeFileSync(join(dir, 'planes.npy'), encodeNpy({ data: Uint16Array.from(planes.flatMap((p) => Array.from(p))), shape: [4, H, W], dtype: 'uint16' }));
  const pyramid = join(dir, 'pyramid.ome.tiff');
  runPython(`
import sys, numpy as np, tifffile
d = np.load(sys.argv[1])
with tifffile.TiffWriter(sys.argv[2]) as tw:
    tw.write(d, subifds=1, tile=(128, 128), compression='zlib', metadata={'axes': 'CYX', 'Channel': {'Name': sys.argv[3].split(',')}, 'PhysicalSizeX': 0.5, 'PhysicalSizeY': 0.5})
    tw.write(d[:, ::4, ::4].copy(), subfiletype=1, tile=(64, 64), compression='zlib')`, [join(dir, 'planes.npy'), pyramid, t.channelNames.join(',')]);
  const r = await run({ inputUri: pyramid, dir: join(dir, 'work-tissue'), settings: { outputs: outputs('tissue') } });
  expect(r.plan.tissue.level).toBe(1);
  // Column 2's first two blocks run the tiles their neighbours' halos need; its last (8 px tall) owns no tile centre.
  expect(r.roles).toEqual({ tissue: 6, predictOnly: 2, skipped: 1 });
  expect(r.progress.watershed).toEqual({ done: 6, running: 0, total: 6, skipped: 3 });
  const m = await readLabelMask(join(dir, 'tissue', `${NAME}_WholeCellMask.tiff`));
  let inSkipped = 0, elsewhere = 0;
  for (let i = 0; i < m.data.length; i++) if (m.data[i] !== 0) { if (i % W >= 512) inSkipped++; else elsewhere++; }
  expect(inSkipped).toBe(0);
  expect(elsewhere).toBeGreaterThan(10_000);
});

it('tests one block: its window\'s masks and maps, the block\'s cells as the full run segments them', async () => {
  const r = await testBlock({ inputUri: image, blockSize: 256, halo: 96, block: '1,1', model, dir: join(dir, 'work-test'), outDir: join(dir, 'test'), name: NAME, threads: 2 });
  expect(r.window).toEqual({ x: 160, y: 160, width: 448, height: 360 });
  const mask = await readLabelMask(r.outputs.wholeCellMaskUri);
  expect([mask.width, mask.height]).toEqual([448, 360]);
  const maps = await readNpz(r.outputs.predictionsUri);
  expect([...maps.keys()]).toEqual(['whole_cell_inner_distance', 'whole_cell_interior', 'nuclear_inner_distance', 'nuclear_interior']);
  // The full run's labels of that window (renumbered) match the test block's wherever the full run's block (1,1) labelled its core.
  const full = await readLabelMask(blocks(`${NAME}_WholeCellMask.tiff`));
  const pairs = new Map<number, number>();
  let clash = 0;
  for (let y = 256; y < 512; y++) {
    for (let x = 256; x < 512; x++) {
      const a = full.data[y * W + x], b = mask.data[(y - 160) * 448 + x - 160];
      if ((a === 0) !== (b === 0)) clash++;
      else if (a !== 0) { if (pairs.has(a) && pairs.get(a) !== b) clash++; pairs.set(a, b); }
    }
  }
  expect(clash).toBe(0);
  expect(JSON.parse(readFileSync(r.outputs.noteUri, 'utf8'))).toMatchObject({ block: '1,1', window: r.window });
});

it('fails on a corrupt tile naming the block and the file, and leaves no mask behind', async () => {
  const bad = join(dir, 'corrupt.ome.tiff');
  const bytes = readFileSync(image);
  // Overwrite the middle of the file (inside the tiles' compressed data) with garbage.
  bytes.fill(0x5a, Math.floor(bytes.length * 0.4), Math.floor(bytes.length * 0.4) + 4000);
  writeFileSync(bad, bytes);
  await expect(run({ inputUri: bad, dir: join(dir, 'work-bad'), settings: { outputs: outputs('bad') } }))
    .rejects.toThrow(/^block \d+,\d+: .*corrupt\.ome\.tiff/);
  expect(existsSync(join(dir, 'bad', `${NAME}_WholeCellMask.tiff`))).toBe(false);
  // The command says it in one line, and refuses flags that do not go together.
  const cli = await tessel(['segment', bad, '--block-size', '256', '--out-dir', join(dir, 'bad'), '--name', NAME]);
  expect(cli.code).toBe(1);
  expect(cli.stderr.trim().split('\n')).toHaveLength(1);
  expect(cli.stderr).toMatch(/^tessel: .*block \d+,\d+: .*corrupt\.ome\.tiff/);
  expect((await tessel(['segment', image, '--out-dir', dir, '--name', NAME])).stderr).toMatch(/reads an NPZ intermediate.*or with --block-size the image itself/);
  expect((await tessel(['segment', image, '--block-size', '300', '--out-dir', dir, '--name', NAME])).stderr).toMatch(/--block-size must be a positive multiple of 256, got 300/);
});
