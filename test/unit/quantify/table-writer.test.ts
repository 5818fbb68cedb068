import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatValue, measurementColumns } from '../../../core/quantify/columns';
import { formatGeoJson } from '../../../core/quantify/geojson';
import { measureCells, type CellTable, type ChannelColumns, type ShapeColumns } from '../../../core/quantify/measure';
import { GeoJsonWriter, MeasurementTableWriter } from '../../../core/quantify/table-writer';
import { putValue, TextBuffer, tsvHeader, type TsvRows } from '../../../core/quantify/tsv';
import { runInWorker } from '../../../core/parallel/run-in-worker';
import { Random } from '../../../core/synth/random';

const dir = mkdtempSync(join(tmpdir(), 'tessel-table-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Square cells on a grid with a nucleus in each, two channels (uint16 and float32): 20 cells at 60×48. */
function table(w = 60, h = 48): CellTable {
  const cell = new Int32Array(w * h), nuc = new Int32Array(w * h);
  const rnd = new Random(3);
  let label = 0;
  for (let y0 = 1; y0 + 9 < h; y0 += 11) {
    for (let x0 = 1; x0 + 9 < w; x0 += 11) {
      label++;
      for (let y = y0; y < y0 + 9; y++) for (let x = x0; x < x0 + 9; x++) cell[y * w + x] = label * 7;
      for (let y = y0 + 3; y < y0 + 6; y++) for (let x = x0 + 3; x < x0 + 6; x++) nuc[y * w + x] = label;
    }
  }
  const u16 = Uint16Array.from({ length: w * h }, () => rnd.int(60000));
  const f32 = Float32Array.from({ length: w * h }, () => (rnd.next() - 0.3) * 10 ** rnd.int(9));
  return measureCells({
    wholeCell: { data: cell, width: w, height: h }, nucleus: { data: nuc, width: w, height: h }, umPerPixel: 0.5, withGeometry: true,
    channels: [{ name: 'DAPI', plane: { data: u16, width: w, height: h } }, { name: 'CD3', plane: { data: f32, width: w, height: h } }],
  });
}

/** Rows [from, to) of a table, as a block of a blockwise run would measure them. */
function rows(t: CellTable, from: number, to: number): CellTable {
  const cut = <A extends { slice(a: number, b: number): A }>(a: A) => a.slice(from, to);
  const shape = (s: ShapeColumns): ShapeColumns => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, cut(v as Float64Array)])) as unknown as ShapeColumns;
  const channel = (c: ChannelColumns): ChannelColumns => ({
    name: c.name,
    compartments: Object.fromEntries(Object.entries(c.compartments).map(([k, cols]) => [k, Object.fromEntries(Object.entries(cols!).map(([s, v]) => [s, cut(v!)]))])),
  });
  return {
    ...t, labels: cut(t.labels), nucleusLabels: cut(t.nucleusLabels), centroidX: cut(t.centroidX), centroidY: cut(t.centroidY),
    cell: shape(t.cell), nucleus: shape(t.nucleus), nucleusCellAreaRatio: cut(t.nucleusCellAreaRatio), channels: t.channels.map(channel),
    geometry: t.geometry && { cell: t.geometry.cell.slice(from, to), nucleus: t.geometry.nucleus.slice(from, to) },
  };
}

describe('putValue (bytes) formats as formatValue (text)', () => {
  test('random float32 and float64 values of every magnitude, integers, ties at rounding, NaN, ±0 and infinities', () => {
    const rnd = new Random(11);
    const values = [NaN, 0, -0, 1, -1, 0.5, 9999999.5, 1e7, 2 ** 31, -(2 ** 31), 2 ** 53, 1e21, 1e-7, Infinity, -Infinity, 123456.75, 0.1, 99.99999];
    for (let i = 0; i < 4000; i++) {
      const v = (rnd.next() - 0.5) * 10 ** (rnd.int(24) - 10);
      values.push(v, Math.fround(v), Math.round(v));
    }
    const out = new TextBuffer(64);
    const wrong: string[] = [];
    for (const v of values) {
      for (const single of [true, false]) {
        out.reserve(32);
        putValue(out, v, single);
        const got = Buffer.from(out.take()).toString('latin1');
        if (got !== formatValue(v, single)) wrong.push(`${v} (${single ? 'float32' : 'float64'}): ${got} ≠ ${formatValue(v, single)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('MeasurementTableWriter and GeoJsonWriter', () => {
  const t = table();
  const opts = { imageName: 'img\twith tab' };

  test('one table, or the same rows appended as blocks, give the same file; the TSV row text is formatValue\'s', async () => {
    expect(t.labels.length).toBe(20);
    const whole = join(dir, 'whole.tsv'), blocks = join(dir, 'blocks.tsv');
    const a = await MeasurementTableWriter.open(whole, opts);
    await a.append(t);
    await a.commit();
    const b = await MeasurementTableWriter.open(blocks, opts);
    for (const [from, to] of [[0, 7], [7, 7], [7, 20]]) await b.append(rows(t, from, to));
    expect(b.rowCount).toBe(20);
    expect(existsSync(blocks)).toBe(false); // nothing published before commit
    await b.commit();
    const text = readFileSync(whole, 'utf8');
    expect(readFileSync(blocks, 'utf8')).toBe(text);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe(tsvHeader(t, opts).trimEnd());
    expect(lines).toHaveLength(21);
    const cols = measurementColumns(t);
    const row = lines[5].split('\t');
    expect(row.slice(0, 4)).toEqual(['img with tab', row[1], 'Cell', String(t.labels[4])]);
    expect(row.slice(9)).toEqual(cols.map((c) => formatValue(c.values[4], c.single)));
  });

  test('every other chunk of rows formatted on a helper thread gives the same file as all formatted in place', async () => {
    const big = table(1111, 771); // 101 × 70 cells: chunks of 2000 rows, the helper's last one partial
    expect(big.labels.length).toBe(7070);
    const write = async (file: string, formatOffThread?: (rows: TsvRows) => Promise<Uint8Array>) => {
      const w = await MeasurementTableWriter.open(join(dir, file), { ...opts, formatOffThread });
      try {
        await w.append(big);
      } catch (e) {
        await w.abort();
        throw e;
      }
      await w.commit();
      return readFileSync(join(dir, file));
    };
    const helped: number[] = [];
    const tsvModule = join(__dirname, '..', '..', '..', 'core', 'quantify', 'tsv');
    const split = await write('split.tsv', (rows) => {
      helped.push(rows.labels.length);
      return runInWorker<Uint8Array>(tsvModule, 'formatTsvRows', [rows]);
    });
    expect(helped).toEqual([2000, 1070]);
    expect(split.equals(await write('in-place.tsv'))).toBe(true);
    // A failing helper fails the table; aborted, it leaves nothing behind.
    await expect(write('failed.tsv', () => Promise.reject(new Error('helper died')))).rejects.toThrow('helper died');
    expect(readdirSync(dir).filter((f) => f.includes('failed'))).toEqual([]);
  });

  test('GeoJSON appended in blocks equals formatGeoJson of the whole table', async () => {
    const path = join(dir, 'cells.geojson');
    const g = await GeoJsonWriter.open(path, opts);
    await g.append(rows(t, 0, 13));
    await g.append(rows(t, 13, 20));
    await g.commit();
    expect(readFileSync(path, 'utf8')).toBe([...formatGeoJson(t, opts)].join(''));
    const empty = join(dir, 'empty.geojson');
    const e = await GeoJsonWriter.open(empty, opts);
    await e.commit();
    expect(JSON.parse(readFileSync(empty, 'utf8'))).toEqual({ type: 'FeatureCollection', features: [] });
  });

  test('refuses a block with other columns, and abort or a failed commit publishes nothing', async () => {
    const out = join(dir, 'sub');
    const w = await MeasurementTableWriter.open(join(out, 'x.tsv'), opts);
    await w.append(rows(t, 0, 3));
    await expect(w.append({ ...rows(t, 3, 5), channels: t.channels.slice(0, 1) })).rejects.toThrow(/different measurement columns/);
    await w.abort();
    const none = await MeasurementTableWriter.open(join(out, 'y.tsv'), opts);
    await expect(none.commit()).rejects.toThrow(/no cells were appended/);
    const g = await GeoJsonWriter.open(join(out, 'z.geojson'), opts);
    await expect(g.append({ ...t, geometry: undefined })).rejects.toThrow(/withGeometry/);
    await g.abort();
    expect(readdirSync(out)).toEqual([]);
  });
});
