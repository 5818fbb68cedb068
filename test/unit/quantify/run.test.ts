import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLabelMaskTiff } from '../../../core/formats/tiff-write';
import { upsertProjectEntries, upsertProjectEntry } from '../../../core/quantify/qpproj';
import { quantify } from '../../../core/quantify';
import { runPython } from '../../helpers/python';
import { writeFileSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'tessel-quant-run-'));
const f = (name: string) => join(dir, name);
beforeAll(() => { runPython(join(__dirname, 'reference_quant.py'), [dir, '--seed', '11', '--size', '96']); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function parseTsv(path: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  return { header: lines[0].split('\t'), rows: lines.slice(1).map((l) => l.split('\t')) };
}

describe('quantify (worker thread, files in and out)', () => {
  test('TSV columns and values match the reference; IDs stable; GeoJSON and project written', async () => {
    const progress: number[] = [];
    const r = await quantify({
      imageUri: f('image.ome.tiff'), wholeCellMaskUri: f('wholecell.tiff'), nucleusMaskUri: f('nucleus.tiff'),
      outTsvUri: f('REPORTS/img_QUANT.tsv'), geojsonUri: f('REPORTS/img.geojson'), projectUri: f('PROJ/project.qpproj'),
      imageName: 'img', onProgress: (p) => progress.push(p),
    });
    const exp = JSON.parse(readFileSync(f('expected.json'), 'utf8')) as { labels: number[]; unpairedNuclei: number; cellsWithoutNucleus: number; columns: Record<string, (number | null)[]> };
    expect(r).toMatchObject({ cells: exp.labels.length, unpairedNuclei: exp.unpairedNuclei, cellsWithoutNucleus: exp.cellsWithoutNucleus, calibrated: true, umPerPixel: 0.5 });
    expect(progress.at(-1)).toBe(1);
    const { header, rows } = parseTsv(r.tsvUri);
    expect(header.slice(0, 9)).toEqual(['Image', 'Object ID', 'Object type', 'Name', 'Classification', 'Parent', 'ROI', 'Centroid X µm', 'Centroid Y µm']);
    expect(header.length).toBe(9 + 13 + 4 * 3 * 5);
    expect(rows.map((row) => Number(row[3]))).toEqual(exp.labels);
    expect(new Set(rows.map((row) => row[1])).size).toBe(rows.length);
    expect(rows.every((row) => row[0] === 'img' && row[2] === 'Cell' && row[4] === '' && row[5] === 'Image' && row[6] === 'Polygon')).toBe(true);
    const bad: string[] = [];
    for (const [name, want] of Object.entries(exp.columns)) {
      const k = header.indexOf(name);
      if (k < 0) { bad.push(`missing ${name}`); continue; }
      want.forEach((w, i) => {
        const cell = rows[i][k];
        const ok = w === null ? cell === '' : Math.abs(Number(cell) - w) <= 1e-4 * Math.max(1, Math.abs(w));
        if (!ok) bad.push(`${name} ${exp.labels[i]}: '${cell}' vs ${w}`);
      });
    }
    expect(bad.slice(0, 10)).toEqual([]);
    // Same input → same Object IDs; GeoJSON ids are the same UUIDs.
    const again = await quantify({ imageUri: f('image.ome.tiff'), wholeCellMaskUri: f('wholecell.tiff'), nucleusMaskUri: f('nucleus.tiff'), outTsvUri: f('again.tsv'), imageName: 'img', legacyNames: true });
    const second = parseTsv(again.tsvUri);
    expect(second.rows.map((row) => row[1])).toEqual(rows.map((row) => row[1]));
    expect(second.header).toContain('CD3: Cytoplasm: Median');
    const geo = JSON.parse(readFileSync(f('REPORTS/img.geojson'), 'utf8')) as { features: { id: string }[] };
    expect(geo.features.map((x) => x.id)).toEqual(rows.map((row) => row[1]));
    const proj = JSON.parse(readFileSync(f('PROJ/project.qpproj'), 'utf8')) as { images: { imageName: string; serverBuilder: { uri: string } }[] };
    expect(proj.images).toHaveLength(1);
    expect(proj.images[0].serverBuilder.uri).toBe(`file://${f('image.ome.tiff')}`);
  });

  test('channels measured on helper threads give the same table, in channel order, as one thread', async () => {
    const base = { imageUri: f('image.ome.tiff'), wholeCellMaskUri: f('wholecell.tiff'), nucleusMaskUri: f('nucleus.tiff'), imageName: 'img' };
    const one = await quantify({ ...base, outTsvUri: f('t1.tsv'), threads: 1 });
    const progress: number[] = [];
    const three = await quantify({ ...base, outTsvUri: f('t3.tsv'), threads: 3, onProgress: (p) => progress.push(p) });
    expect(three.channels).toEqual(one.channels);
    expect(one.channels.length).toBe(3);
    expect(readFileSync(f('t3.tsv'), 'utf8')).toBe(readFileSync(f('t1.tsv'), 'utf8'));
    expect(progress.at(-1)).toBe(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress); // monotone, whichever thread finishes first
  });

  test('uncalibrated image → px columns and one warning', async () => {
    const r = await quantify({ imageUri: f('image_uncal.ome.tiff'), wholeCellMaskUri: f('wholecell.tiff'), nucleusMaskUri: f('nucleus.tiff'), outTsvUri: f('px.tsv') });
    expect(r.calibrated).toBe(false);
    expect(r.warnings.filter((w) => /px/.test(w))).toHaveLength(1);
    const { header } = parseTsv(f('px.tsv'));
    expect(header).toEqual(expect.arrayContaining(['Centroid X px', 'Cell: Area px^2', 'Cell: Max diameter px']));
  });

  test('a mask of the wrong size fails naming both files and writes nothing', async () => {
    writeFileSync(f('small.tiff'), encodeLabelMaskTiff({ data: new Int32Array(20 * 10).fill(1), width: 20, height: 10 }));
    await expect(quantify({ imageUri: f('image.ome.tiff'), wholeCellMaskUri: f('small.tiff'), nucleusMaskUri: f('nucleus.tiff'), outTsvUri: f('never.tsv') }))
      .rejects.toThrow(/small\.tiff.*20×10.*image\.ome\.tiff.*96×96/);
    expect(existsSync(f('never.tsv'))).toBe(false);
  });
});

describe('upsertProjectEntry', () => {
  test('creates a valid project, is idempotent, numbers new entries, keeps unknown fields', () => {
    const a = upsertProjectEntry(undefined, { uri: 'file:/data/a.ome.tiff', name: 'a.ome.tiff' }, { now: 1000, projectUri: 'file:/p/project.qpproj' });
    const pa = JSON.parse(a);
    expect(pa).toMatchObject({ createTimestamp: 1000, modifyTimestamp: 1000, lastID: 1, uri: 'file:/p/project.qpproj' });
    expect(typeof pa.version).toBe('string');
    expect(pa.images[0]).toMatchObject({
      serverBuilder: { builderType: 'uri', providerClassName: 'qupath.lib.images.servers.bioformats.BioFormatsServerBuilder', uri: 'file:/data/a.ome.tiff', args: [] },
      entryID: 1, imageName: 'a.ome.tiff',
    });
    expect(pa.images[0].randomizedName).toMatch(/^[0-9a-f-]{36}$/);
    expect(upsertProjectEntry(a, { uri: 'file:/data/a.ome.tiff', name: 'a.ome.tiff' }, { now: 5000 })).toBe(a);
    const withExtra = JSON.stringify({ ...pa, extra: { keep: true } });
    const b = JSON.parse(upsertProjectEntry(withExtra, { uri: 'file:/data/b.ome.tiff', name: 'b.ome.tiff' }, { now: 2000 }));
    expect(b).toMatchObject({ createTimestamp: 1000, modifyTimestamp: 2000, lastID: 2, extra: { keep: true } });
    expect(b.images.map((e: { entryID: number }) => e.entryID)).toEqual([1, 2]);
    expect(() => upsertProjectEntry('{"images": 3}', { uri: 'x', name: 'x' })).toThrow(/not a QuPath project/);
  });

  test('many at once (what finalizeRun does): the same project as one at a time, duplicates skipped, unchanged when nothing is new', () => {
    const images = Array.from({ length: 300 }, (_, i) => ({ uri: `file:/data/img_${i}.ome.tiff`, name: `img_${i}` }));
    let oneByOne: string | undefined;
    for (const im of images) oneByOne = upsertProjectEntry(oneByOne, im, { now: 7 });
    const batch = upsertProjectEntries(undefined, [...images, images[3], images[299]], { now: 7 });
    expect(batch).toBe(oneByOne);
    expect(JSON.parse(batch).images).toHaveLength(300);
    expect(upsertProjectEntries(batch, images.slice(0, 50), { now: 9 })).toBe(batch);
    const more = JSON.parse(upsertProjectEntries(batch, [images[0], { uri: 'file:/data/new.ome.tiff', name: 'new' }], { now: 9 }));
    expect(more).toMatchObject({ lastID: 301, modifyTimestamp: 9 });
    expect(more.images[300]).toMatchObject({ entryID: 301, imageName: 'new' });
  });
});
