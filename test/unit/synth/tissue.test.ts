import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { generateTissue, writeSyntheticWorkspace } from '../../../core/synth';
import { runPython } from '../../helpers/python';

const sha = (a: ArrayBufferView) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

describe('generateTissue', () => {
  const tissue = generateTissue({ width: 384, height: 320, seed: 11 });

  test('is deterministic for a seed and differs between seeds', () => {
    const again = generateTissue({ width: 384, height: 320, seed: 11 });
    const other = generateTissue({ width: 384, height: 320, seed: 12 });
    for (let c = 0; c < tissue.channels.length; c++) expect(sha(again.channels[c].data)).toBe(sha(tissue.channels[c].data));
    expect(sha(again.wholeCellMask)).toBe(sha(tissue.wholeCellMask));
    expect(sha(again.nucleusMask)).toBe(sha(tissue.nucleusMask));
    expect(sha(other.wholeCellMask)).not.toBe(sha(tissue.wholeCellMask));
    expect(sha(other.channels[0].data)).not.toBe(sha(tissue.channels[0].data));
  });

  test('has the requested shape, channels and names', () => {
    expect(tissue.channels).toHaveLength(6);
    expect(tissue.channelNames.slice(0, 2)).toEqual(['DAPI', 'Na-K-ATPase']);
    expect(new Set(tissue.channelNames).size).toBe(6);
    for (const c of tissue.channels) {
      expect(c.width).toBe(384);
      expect(c.height).toBe(320);
      expect(c.data).toBeInstanceOf(Uint16Array);
    }
    expect(generateTissue({ width: 64, height: 64, seed: 1, channels: 12 }).channelNames).toHaveLength(12);
  });

  test('ground truth: labels 1..n, one nucleus per cell with the same id, nucleus inside its cell', () => {
    const { wholeCellMask: cell, nucleusMask: nucleus, cellCount } = tissue;
    expect(cellCount).toBeGreaterThan(100);
    const cellIds = new Set<number>(), nucleusIds = new Set<number>();
    for (let i = 0; i < cell.length; i++) {
      if (cell[i]) cellIds.add(cell[i]);
      if (nucleus[i]) {
        nucleusIds.add(nucleus[i]);
        expect(cell[i]).toBe(nucleus[i]);
      }
    }
    expect(cellIds.size).toBe(cellCount);
    expect(Math.max(...cellIds)).toBe(cellCount);
    expect([...nucleusIds].sort((a, b) => a - b)).toEqual([...cellIds].sort((a, b) => a - b));
  });

  test('cells touch, gaps exist, and sizes are 12–20 µm', () => {
    const { wholeCellMask: cell, nucleusMask: nucleus, cellCount } = tissue;
    const w = 384;
    const touching = new Set<string>();
    let background = 0;
    for (let i = 0; i < cell.length; i++) {
      if (!cell[i]) background++;
      const r = i + 1;
      if ((i + 1) % w !== 0 && cell[i] && cell[r] && cell[r] !== cell[i]) touching.add(`${Math.min(cell[i], cell[r])}-${Math.max(cell[i], cell[r])}`);
    }
    expect(touching.size).toBeGreaterThan(cellCount); // most cells share a border with a neighbour
    expect(background / cell.length).toBeGreaterThan(0.03);
    expect(background / cell.length).toBeLessThan(0.4);
    let cellPixels = 0, nucleusPixels = 0;
    for (let i = 0; i < cell.length; i++) { if (cell[i]) cellPixels++; if (nucleus[i]) nucleusPixels++; }
    const diameterUm = 2 * Math.sqrt(cellPixels / cellCount / Math.PI) * tissue.umPerPixel;
    expect(diameterUm).toBeGreaterThan(11); // image-edge cells are cut, so the mean runs a little low
    expect(diameterUm).toBeLessThan(20);
    const ratio = Math.sqrt(nucleusPixels / cellPixels);
    expect(ratio).toBeGreaterThan(0.35);
    expect(ratio).toBeLessThan(0.65);
  });

  test('stains sit where the ground truth says: DAPI in nuclei, membrane stain on boundaries', () => {
    const { wholeCellMask: cell, nucleusMask: nucleus, channels } = tissue;
    const mean = (plane: Uint16Array, pick: (i: number) => boolean) => {
      let s = 0, n = 0;
      for (let i = 0; i < plane.length; i++) if (pick(i)) { s += plane[i]; n++; }
      return s / n;
    };
    const dapi = channels[0].data, membrane = channels[1].data;
    expect(mean(dapi, (i) => nucleus[i] > 0)).toBeGreaterThan(4 * mean(dapi, (i) => cell[i] > 0 && !nucleus[i]));
    const w = 384;
    const isBoundary = (i: number) => cell[i] > 0 && i % w > 0 && i % w < w - 1 && (cell[i - 1] !== cell[i] || cell[i + 1] !== cell[i]);
    expect(mean(membrane, isBoundary)).toBeGreaterThan(2 * mean(membrane, (i) => nucleus[i] > 0));
  });

  test('refuses bad options with a clear error', () => {
    expect(() => generateTissue({ width: 0, height: 10, seed: 1 })).toThrow(/size/);
    expect(() => generateTissue({ width: 64, height: 64, seed: 1, channels: 3 })).toThrow(/channels/);
    expect(() => generateTissue({ width: 64, height: 64, seed: 1, umPerPixel: 0 })).toThrow(/umPerPixel/);
  });
});

describe('writeSyntheticWorkspace', () => {
  let root: string;
  beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'tessel-synth-')); });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('writes OME-TIFFs and ground truth that tifffile and scipy agree with', async () => {
    const { images } = await writeSyntheticWorkspace(root, { images: 2, size: 256, channels: 5, seed: 3 });
    expect(images.map((i) => i.name)).toEqual(['tissue_000', 'tissue_001']);
    const expected = generateTissue({ width: 256, height: 256, seed: 4, channels: 5 });
    const out = runPython(`
import json, sys, numpy as np, tifffile
from scipy import ndimage
root, name = sys.argv[1], sys.argv[2]
with tifffile.TiffFile(f"{root}/OMETIFF/{name}.ome.tiff") as t:
    px = t.series[0].shape, str(t.series[0].dtype)
    img = t.series[0].asarray()
    import xml.etree.ElementTree as ET
    ome = ET.fromstring(t.ome_metadata)
    ns = {'o': ome.tag.split('}')[0][1:]}
    pixels = ome.find('.//o:Pixels', ns)
    names = [c.get('Name') for c in pixels.findall('o:Channel', ns)]
cell = tifffile.imread(f"{root}/GROUND_TRUTH/{name}_WholeCellMask.tiff")
nuc = tifffile.imread(f"{root}/GROUND_TRUTH/{name}_NucleusMask.tiff")
pieces = 0
for mask in (cell, nuc):
    for lab, sl in enumerate(ndimage.find_objects(mask), start=1):
        if sl is None: continue
        _, k = ndimage.label(mask[sl] == lab)
        pieces = max(pieces, k)
print(json.dumps(dict(shape=px[0], dtype=px[1], names=names, sizeX=float(pixels.get('PhysicalSizeX')),
  cellDtype=str(cell.dtype), cells=int(cell.max()), maxPieces=int(pieces),
  nucleusOutside=int(((nuc > 0) & (nuc != cell)).sum()), dapiSum=int(img[0].astype(np.int64).sum()))))
`, [root, 'tissue_001']);
    const r = JSON.parse(out) as Record<string, unknown>;
    expect(r.shape).toEqual([5, 256, 256]);
    expect(r.dtype).toBe('uint16');
    expect(r.names).toEqual(expected.channelNames);
    expect(r.sizeX).toBe(0.5);
    expect(r.cellDtype).toBe('int32');
    expect(r.cells).toBe(expected.cellCount);
    expect(images[1].cells).toBe(expected.cellCount);
    expect(r.maxPieces).toBe(1); // every cell and nucleus is one connected piece
    expect(r.nucleusOutside).toBe(0);
    expect(r.dapiSum).toBe(expected.channels[0].data.reduce((s, v) => s + v, 0));
  });
});
