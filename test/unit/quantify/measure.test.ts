import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy } from '../../../core/formats/npz';
import type { Plane } from '../../../core/formats/ndarray';
import { measurementColumns } from '../../../core/quantify/columns';
import { formatGeoJson } from '../../../core/quantify/geojson';
import { median, medianOfSmallIntegers } from '../../../core/quantify/intensity';
import { measureCells, type CellTable } from '../../../core/quantify/measure';
import { runPython } from '../../helpers/python';

interface Expected {
  channels: string[]; umPerPixel: number; labels: number[]; nucleusLabels: number[];
  unpairedNuclei: number; cellsWithoutNucleus: number; columns: Record<string, (number | null)[]>;
}

const dir = mkdtempSync(join(tmpdir(), 'tessel-quant-'));
const SCRIPT = join(__dirname, 'reference_quant.py');
let wholeCell: Plane<Int32Array>, nucleus: Plane<Int32Array>;
let channels: { name: string; plane: Plane }[];

const load = (f: string) => decodeNpy(new Uint8Array(readFileSync(join(dir, f))), f);
const expected = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Expected;

beforeAll(() => {
  runPython(SCRIPT, [dir, '--seed', '5']);
  const wc = load('wholecell.npy'), nu = load('nucleus.npy'), ch = load('channels.npy');
  const [h, w] = wc.shape;
  wholeCell = { data: wc.data as Int32Array, width: w, height: h };
  nucleus = { data: nu.data as Int32Array, width: w, height: h };
  const names = expected('expected.json').channels;
  channels = names.map((name, i) => ({ name, plane: { data: (ch.data as Uint16Array).slice(i * w * h, (i + 1) * w * h), width: w, height: h } }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compare(table: CellTable, exp: Expected): void {
  expect(Array.from(table.labels)).toEqual(exp.labels);
  expect(Array.from(table.nucleusLabels)).toEqual(exp.nucleusLabels);
  expect(table.unpairedNuclei).toBe(exp.unpairedNuclei);
  expect(table.cellsWithoutNucleus).toBe(exp.cellsWithoutNucleus);
  const u = table.unit;
  const actual = new Map<string, ArrayLike<number>>([[`Centroid X ${u}`, table.centroidX], [`Centroid Y ${u}`, table.centroidY]]);
  for (const c of measurementColumns(table)) actual.set(c.name, c.values);
  expect([...actual.keys()].sort()).toEqual(Object.keys(exp.columns).sort());
  const mismatches: string[] = [];
  for (const [name, want] of Object.entries(exp.columns)) {
    const got = actual.get(name)!;
    want.forEach((w, r) => {
      const g = got[r];
      const ok = w === null ? Number.isNaN(g) : Math.abs(g - w) <= 1e-4 * Math.max(1, Math.abs(w));
      if (!ok) mismatches.push(`${name} label ${exp.labels[r]}: got ${g}, want ${w}`);
    });
  }
  expect(mismatches.slice(0, 20)).toEqual([]);
}

describe('measureCells against the numpy/scipy/scikit-image reference', () => {
  test('fixture covers the hard cases', () => {
    const exp = expected('expected.json');
    expect(exp.labels.length).toBeGreaterThan(30);
    expect(exp.cellsWithoutNucleus).toBeGreaterThan(2);
    expect(exp.unpairedNuclei).toBeGreaterThan(0);
    expect(exp.columns['Cell: Circularity'].some((v) => v === null)).toBe(true); // a multi-piece cell
    expect(exp.labels).toContain(900001); // ring whose hole touches the outside at a corner
  });

  test('every column matches in µm (calibrated)', () => {
    const wcCopy = wholeCell.data.slice(), nuCopy = nucleus.data.slice();
    const table = measureCells({ wholeCell, nucleus, channels, umPerPixel: 0.5 });
    expect(table.unit).toBe('µm');
    compare(table, expected('expected.json'));
    // Inputs are never mutated.
    expect(Buffer.from(wholeCell.data.buffer).equals(Buffer.from(wcCopy.buffer))).toBe(true);
    expect(Buffer.from(nucleus.data.buffer).equals(Buffer.from(nuCopy.buffer))).toBe(true);
  });

  test('every column matches in px (uncalibrated)', () => {
    const table = measureCells({ wholeCell, nucleus, channels });
    expect(table.unit).toBe('px');
    compare(table, expected('expected_px.json'));
  });

  test('float32 channels and sparse huge labels give the same numbers', () => {
    const big = new Int32Array(wholeCell.data.length);
    for (let i = 0; i < big.length; i++) big[i] = wholeCell.data[i] === 0 ? 0 : wholeCell.data[i] + 2_000_000_000 - 1_000_000;
    const floatChannels = channels.map((c) => ({ name: c.name, plane: { ...c.plane, data: Float32Array.from(c.plane.data as Uint16Array) } }));
    const a = measureCells({ wholeCell, nucleus, channels, umPerPixel: 0.5 });
    const b = measureCells({ wholeCell: { ...wholeCell, data: big }, nucleus, channels: floatChannels, umPerPixel: 0.5 });
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels).map((l) => l + 2_000_000_000 - 1_000_000));
    const ca = measurementColumns(a), cb = measurementColumns(b);
    ca.forEach((c, k) => expect(Array.from(cb[k].values)).toEqual(Array.from(c.values)));
  });

  test('compartment/stat subsets keep QuPath order; legacy names group by channel', () => {
    const table = measureCells({ wholeCell, nucleus, channels: channels.slice(0, 2), compartments: ['cell', 'nucleus'], stats: ['std', 'mean'] });
    const names = measurementColumns(table).map((c) => c.name).filter((n) => n.split(':').length === 3);
    expect(names).toEqual([
      'Nucleus: DAPI: Mean', 'Nucleus: DAPI: Std.Dev.', 'Nucleus: CD3: Mean', 'Nucleus: CD3: Std.Dev.',
      'Cell: DAPI: Mean', 'Cell: DAPI: Std.Dev.', 'Cell: CD3: Mean', 'Cell: CD3: Std.Dev.',
    ]);
    const legacy = measurementColumns(table, true).map((c) => c.name).filter((n) => n.split(':').length === 3);
    expect(legacy.slice(0, 4)).toEqual(['DAPI: Nucleus: Mean', 'DAPI: Nucleus: Std.Dev.', 'DAPI: Cell: Mean', 'DAPI: Cell: Std.Dev.']);
    expect(() => measureCells({ wholeCell, nucleus, channels: [], compartments: ['nucleus', 'golgi' as never] })).toThrow(/unknown compartment 'golgi'/);
  });

  test('GeoJSON outlines rasterise back to exactly the mask pixels (checked in numpy)', () => {
    const table = measureCells({ wholeCell, nucleus, channels: channels.slice(0, 1), umPerPixel: 0.5, withGeometry: true });
    const text = [...formatGeoJson(table, { imageName: 'fixture.ome.tiff', featuresPerChunk: 7 })].join('');
    const fc = JSON.parse(text) as { type: string; features: { id: string; geometry: { type: string }; nucleusGeometry?: unknown; properties: { objectType: string; name: string; measurements: Record<string, number> } }[] };
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.features).toHaveLength(table.labels.length);
    const f0 = fc.features[0];
    expect(f0.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(f0.properties.objectType).toBe('cell');
    expect(f0.properties.measurements['Cell: Area µm^2']).toBeCloseTo(table.cell.area[0], 9);
    expect(fc.features.filter((f) => f.nucleusGeometry).length).toBe(table.labels.length - table.cellsWithoutNucleus);
    expect(fc.features.find((f) => f.properties.name === '900002')!.geometry.type).toBe('MultiPolygon');
    writeFileSync(join(dir, 'cells.geojson'), text);
    const out = runPython(`
import json, sys, numpy as np
d = sys.argv[1]
cell = np.load(d + '/wholecell.npy'); nuc = np.load(d + '/nucleus.npy')
fc = json.load(open(d + '/cells.geojson'))
h, w = cell.shape
yc, xc = np.mgrid[0:h, 0:w] + 0.5
def raster(geom):
    polys = [geom['coordinates']] if geom['type'] == 'Polygon' else geom['coordinates']
    inside = np.zeros((h, w), bool); area = 0.0
    for poly in polys:
        for k, ring in enumerate(poly):
            r = np.asarray(ring, float); assert (r[0] == r[-1]).all()
            x, y = r[:, 0], r[:, 1]
            a = 0.5 * np.sum(x[:-1] * y[1:] - x[1:] * y[:-1])
            assert (a > 0) == (k == 0), 'exterior CCW, holes CW'
            area += a
            for (x1, y1, x2, y2) in zip(x[:-1], y[:-1], x[1:], y[1:]):
                if y1 == y2: continue
                cross = ((yc > y1) != (yc > y2)) & (xc < (x2 - x1) * (yc - y1) / (y2 - y1) + x1)
                inside ^= cross
    return inside, area
bad = 0
for f in fc['features']:
    lab = int(f['properties']['name'])
    ins, area = raster(f['geometry'])
    m = cell == lab
    bad += int((ins != m).any() or area != m.sum())
    if 'nucleusGeometry' in f:
        ins, area = raster(f['nucleusGeometry'])
        bad += int(area != ins.sum())
print(bad, len(fc['features']))
`, [dir]);
    expect(out.trim()).toBe(`0 ${table.labels.length}`);
  });
});

describe('median', () => {
  test('equals the sorted middle (mean of the two middles for even counts) at every size, with and without ties', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 1000; trial++) {
      const n = 1 + Math.floor(rand() ** 2 * 5000); // many small, some past 600 where sampling starts
      const range = [1, 3, 100, 1e9][trial % 4];
      const values = Float64Array.from({ length: n }, () => Math.floor(rand() * range) + (trial % 5 === 0 ? rand() : 0));
      const sorted = Float64Array.from(values).sort();
      const want = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
      expect(median(values, n)).toBe(want);
    }
  });

  test('the histogram median of ≤16-bit integers equals the sorted middle, ties and bin edges included, and leaves the buffer as it was', () => {
    let seed = 777;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const wrong: string[] = [];
    for (let trial = 0; trial < 600; trial++) {
      const n = 1 + Math.floor(rand() ** 2 * 3000);
      const [lo, hi, offset] = ([[0, 255, 0], [0, 65535, 0], [-128, 127, 128], [-32768, 32767, 32768], [250, 262, 0], [0, 2, 0]] as const)[trial % 6];
      const values = Float64Array.from({ length: n }, () => lo + Math.floor(rand() * (hi - lo + 1)));
      const before = values.slice();
      const sorted = Float64Array.from(values).sort();
      const want = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
      const got = medianOfSmallIntegers(values, n, offset);
      if (got !== want || values.some((v, i) => v !== before[i])) wrong.push(`trial ${trial}: n=${n} got ${got}, want ${want}`);
    }
    expect(wrong).toEqual([]);
  });
});
