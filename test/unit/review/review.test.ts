import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readLabelMask } from '../../../core/formats/image';
import { outlinePath } from '../../../core/review/crops';
import { foldLabels, LabelStore, parseLabels, type LabelDecision } from '../../../core/review/labels';
import { parseFilter, Review, writeStaticReview } from '../../../core/review';
import { measuredWorkspace } from '../../helpers/review-fixture';

/**
 * The review's domain parts: the unified sample (deterministic, the same fraction of every image,
 * filters), crops (decodable JPEGs whose outline is the cell's mask boundary), static pages (bytes per
 * page measured) and the append-only label store under concurrent writers.
 */
jest.setTimeout(120_000);

let ws: string;
let images: string[];

beforeAll(async () => {
  ws = mkdtempSync(join(tmpdir(), 'tessel-review-'));
  images = await measuredWorkspace(ws, { images: 3, size: 384, seed: 5 });
});

const decision = (i: number, extra: Partial<LabelDecision> = {}): LabelDecision => ({
  cellId: `cell-${i}`, image: 'im', maskLabel: i + 1, x: i, y: i, label: 'positive', time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), reviewer: 'r', ...extra,
});

describe('sample', () => {
  test('is the same fraction of every image, stable across openings, in a hash order that mixes images', async () => {
    const a = await Review.open({ root: ws, sampleFraction: 0.3 });
    const b = await Review.open({ root: ws, sampleFraction: 0.3, imageFilter: [images[0]] });
    expect(a.index.images.map((i) => i.name)).toEqual(images);
    for (const im of images) {
      const all = a.index.cells.filter((c) => c.image === im).length;
      const got = a.sample.filter((c) => c.image === im).length;
      expect(got / all).toBeGreaterThan(0.18);
      expect(got / all).toBeLessThan(0.42);
    }
    // The first image's cells are sampled the same whether or not the others are in the review.
    expect(b.sample.map((c) => c.id)).toEqual(a.sample.filter((c) => c.image === images[0]).map((c) => c.id));
    const firstPage = new Set(a.pageCells(1).slice(0, 30).map((c) => c.image));
    expect(firstPage.size).toBe(3);
    const again = await Review.open({ root: ws, sampleFraction: 0.3 });
    expect(again.sample.map((c) => c.id)).toEqual(a.sample.map((c) => c.id));
    const other = await Review.open({ root: ws, sampleFraction: 0.3, seed: 2 });
    expect(other.sample.map((c) => c.id)).not.toEqual(a.sample.map((c) => c.id));
    await Promise.all([a, b, again, other].map((r) => r.close()));
  });

  test('filters by area and by any measurement; a filter on a missing column names it and the closest ones', async () => {
    const r = await Review.open({ root: ws, sampleFraction: 1, filters: [{ column: 'Cell: Area', op: '>=', value: 150 }, parseFilter('Membrane: CD3: Mean > 300')] });
    expect(r.sample.length).toBeGreaterThan(0);
    for (const c of r.sample) expect(c.area).toBeGreaterThanOrEqual(150);
    const f = r.index.features.get(r.sample[0].image)!;
    const k = f.names.indexOf('Membrane: CD3: Mean');
    for (const c of r.sample) expect(r.index.features.get(c.image)!.values[c.row * f.names.length + k]).toBeGreaterThan(300);
    await r.close();
    await expect(Review.open({ root: ws, filters: [parseFilter('Cell: CD4: Mean > 1')] })).rejects.toThrow(/no such column in .*_QUANT\.tsv; did you mean 'Cell: CD[38]: Mean'/);
    expect(() => parseFilter('CD3 high')).toThrow(/expected '<measurement> <op> <number>'/);
  });
});

describe('crops and pages', () => {
  test('a crop is a decodable JPEG centred on its cell, and the outline is that cell\'s mask boundary', async () => {
    const r = await Review.open({ root: ws, sampleFraction: 0.2 });
    const cell = r.sample[0];
    const crop = await r.crop(cell);
    const meta = await sharp(Buffer.from(crop.jpeg)).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([crop.size, crop.size]);
    expect(crop.size).toBe(64); // 32 µm at 0.5 µm/pixel
    // The outline's vertices lie on the boundary of this label in the mask window.
    const mask = await readLabelMask(r.index.image(cell.image).wholeCellMaskUri);
    const x0 = Math.min(mask.width - crop.size, Math.max(0, Math.round(cell.x * 2 - crop.size / 2)));
    const y0 = Math.min(mask.height - crop.size, Math.max(0, Math.round(cell.y * 2 - crop.size / 2)));
    const win = new Int32Array(crop.size * crop.size);
    for (let y = 0; y < crop.size; y++) for (let x = 0; x < crop.size; x++) win[y * crop.size + x] = mask.data[(y + y0) * mask.width + x + x0];
    expect(crop.outline).toBe(outlinePath(win, crop.size, crop.size, cell.label));
    expect(crop.outline).toMatch(/^M\d+ \d+(L\d+ \d+)+Z/);
    expect(outlinePath(win, crop.size, crop.size, 999999)).toBe('');
    await r.close();
  });

  test('static pages: one self-contained HTML per page, lazy-loaded crops; a page of 300 cells is far under 3 MB', async () => {
    const r = await Review.open({ root: ws, sampleFraction: 1, perPage: 300, classes: ['CD3+', 'other'] });
    const out = await writeStaticReview(r, join(ws, 'REVIEW', 'pages'));
    await r.close();
    expect(out.pages).toBe(Math.ceil(r.sample.length / 300));
    const html = readFileSync(join(ws, 'REVIEW', 'pages', 'page-0001.html'), 'utf8');
    // Tiles are built by the page's script from the embedded cells, each crop an <img loading="lazy">.
    expect(html).toContain('<img loading="lazy"');
    expect(html).toContain('"cells":[');
    expect((html.match(/"src":"crops\//g) ?? []).length).toBe(300);
    expect(out.pageBytes[0]).toBeLessThan(3e6);
    // The figure the issue asks for, measured: printed so a run shows it.
    process.stdout.write(`review page of 300 cells: ${(out.pageBytes[0] / 1e6).toFixed(2)} MB with its crops\n`);
  });
});

describe('labels', () => {
  test('two stores appending to one file at once keep every decision whole', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tessel-labels-')), 'REVIEW', 'labels.jsonl');
    const [a, b] = await Promise.all([LabelStore.open(path), LabelStore.open(path)]);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) writes.push((i % 2 ? a : b).append([decision(i, { reviewer: i % 2 ? 'a' : 'b' }), decision(i + 1000)]));
    await Promise.all(writes);
    const { decisions, offset } = await a.since(0);
    expect(decisions).toHaveLength(400);
    expect(new Set(decisions.map((d) => d.cellId)).size).toBe(400);
    // Following by offset: only what came after.
    await b.append([decision(5000)]);
    const next = await a.since(offset);
    expect(next.decisions.map((d) => d.cellId)).toEqual(['cell-5000']);
    await expect(a.append([{ ...decision(1), maskLabel: -3 }])).rejects.toThrow();
    expect((await a.since(0)).decisions).toHaveLength(401);
  });

  test('the latest decision wins, a cleared label removes the cell, and a cut-short last line is dropped with a warning', () => {
    const folded = foldLabels([decision(1), decision(1, { label: 'negative', time: '2026-02-01T00:00:00.000Z' }), decision(2), decision(2, { label: null, time: '2026-02-01T00:00:00.000Z' })]);
    expect([...folded.values()].map((d) => [d.cellId, d.label])).toEqual([['cell-1', 'negative']]);
    const text = JSON.stringify(decision(1)) + '\n' + JSON.stringify(decision(2)).slice(0, 30);
    const parsed = parseLabels(text, 'labels.jsonl');
    expect(parsed.decisions).toHaveLength(1);
    expect(parsed.warnings[0]).toMatch(/line 2 is cut short/);
    expect(() => parseLabels('{"cellId": 3}\n\n', 'labels.jsonl')).toThrow(/labels\.jsonl: line 1 is not a label decision/);
    const exported = JSON.stringify({ format: 'tessel-review-labels', version: 1, labels: [decision(7)] });
    expect(parseLabels(exported, 'labels.json').decisions[0].cellId).toBe('cell-7');
    writeFileSync(join(ws, 'x.json'), exported);
  });
});
