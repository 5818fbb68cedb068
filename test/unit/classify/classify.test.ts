import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildTrainingSet, classify, crossValidate, loadClassifier, loadLabelledTables, predictForest, trainClassifier, trainForest, writeClassifier,
} from '../../../core/classify';
import { readZip, writeZip } from '../../../core/formats/zip';
import { foldLabels } from '../../../core/review/labels';
import { Random } from '../../../core/synth';
import { measuredWorkspace, truthLabels, truthTypes } from '../../helpers/review-fixture';

/**
 * The classifier: the forest itself, training from review labels (with every kind of bad label), the
 * bundle in the model-collection ZIP, and `classify` writing QuPath's Classification column and GeoJSON
 * classification — checked against the synthetic tissue's known cell types.
 */
jest.setTimeout(120_000);

let ws: string;
let images: string[];
let zip: string;

beforeAll(async () => {
  ws = mkdtempSync(join(tmpdir(), 'tessel-classify-'));
  images = await measuredWorkspace(ws, { images: 2, size: 320, seed: 21 });
  const labels = foldLabels(truthLabels(ws, images, 60));
  const set = buildTrainingSet(labels, await loadLabelledTables(join(ws, 'REPORTS'), images));
  zip = join(ws, 'classifier.zip');
  await writeClassifier(zip, trainClassifier(set, { trees: 60 }));
});

function gaussianBlobs(n: number, seed: number): { rows: Float32Array; y: number[] } {
  const rng = new Random(seed);
  const rows = new Float32Array(n * 5);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y.push(c);
    for (let k = 0; k < 5; k++) rows[i * 5 + k] = rng.normal() + (k === c ? 4 : 0);
  }
  return { rows, y };
}

describe('random forest', () => {
  test('learns separable classes, is deterministic for a seed, and cross-validates', () => {
    const train = gaussianBlobs(300, 1);
    const test = gaussianBlobs(300, 2);
    const a = trainForest(train.rows, train.y, 5, 3, { trees: 30, seed: 4 });
    const b = trainForest(train.rows, train.y, 5, 3, { trees: 30, seed: 4 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const p = predictForest(a, test.rows);
    let right = 0;
    for (let i = 0; i < 300; i++) {
      const row = [p[3 * i], p[3 * i + 1], p[3 * i + 2]];
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 3);
      if (row.indexOf(Math.max(...row)) === test.y[i]) right++;
    }
    expect(right / 300).toBeGreaterThan(0.95);
    const cv = crossValidate(train.rows, train.y, 5, ['a', 'b', 'c'], 5, { trees: 20 });
    expect(cv.confusion.flat().reduce((s, v) => s + v, 0)).toBe(300);
    expect(cv.accuracy).toBeGreaterThan(0.9);
    expect(cv.perClass.map((c) => c.support)).toEqual([100, 100, 100]);
  });

  test('random labels give chance accuracy (the cross-validation does not leak)', () => {
    const { rows } = gaussianBlobs(300, 3);
    const rng = new Random(9);
    const y = Array.from({ length: 300 }, () => rng.int(3));
    expect(crossValidate(rows, y, 5, ['a', 'b', 'c'], 5, { trees: 20 }).accuracy).toBeLessThan(0.5);
  });

  test('refuses NaN features and classes out of range', () => {
    expect(() => trainForest(new Float32Array([NaN, 1]), [0, 1], 1, 2)).toThrow(/NaN/);
    expect(() => trainForest(new Float32Array([0, 1]), [0, 2], 1, 2)).toThrow(/outside/);
  });
});

describe('training from review labels', () => {
  test('the bundle records features, classes, colours and the cross-validated confusion matrix, and classifies unseen cells', async () => {
    const c = await loadClassifier(zip);
    const m = c.metadata;
    expect(m.features).toContain('Cell: CD3: Mean');
    expect(m.features.some((f) => /Centroid/.test(f))).toBe(false);
    expect(m.classes.map((k) => k.name).sort()).toEqual(['CD3+', 'CD8+', 'PanCK+', 'other']);
    expect(m.crossValidation!.confusion).toHaveLength(4);
    expect(m.crossValidation!.accuracy).toBeGreaterThan(0.85);
    expect(m.training.labels).toBe(120);
    expect(c.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Apply to a copy of an image's table and score the cells it was not trained on against the truth.
    const out = join(ws, 'applied.tsv');
    const r = await classify({ tsvUri: join(ws, 'REPORTS', `${images[1]}_QUANT.tsv`), classifier: c, outTsvUri: out });
    const [header, ...rows] = readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split('\t'));
    const truth = truthTypes(ws, images[1]);
    const held = rows.slice(60);
    const right = held.filter((row) => row[header.indexOf('Classification')] === truth.get(Number(row[header.indexOf('Name')]))).length;
    expect(right / held.length).toBeGreaterThan(0.9);
    expect(Object.values(r.counts).reduce((s, v) => s + v, 0)).toBe(rows.length);
  });

  test('bad labels: none, an unknown class, unsure only, cells that no longer exist', async () => {
    const tables = await loadLabelledTables(join(ws, 'REPORTS'), images);
    const labels = truthLabels(ws, images, 30);
    expect(() => buildTrainingSet(new Map(), tables, { labelsFile: 'L.jsonl' })).toThrow(/no labels in L\.jsonl/);
    expect(() => buildTrainingSet(foldLabels(labels), tables, { classes: ['CD3+', 'Bcell'] })).toThrow(/unknown class 'Bcell'.*labelled classes: /);
    expect(() => buildTrainingSet(foldLabels(labels.map((d) => ({ ...d, label: 'unsure' }))), tables)).toThrow(/at least two classes/);
    // A re-segmented image: ids vanished, or the same label number now marks a cell elsewhere.
    const moved = labels.map((d, i) => (i < 5 ? { ...d, cellId: `gone-${i}` } : i < 8 ? { ...d, x: d.x + 20 } : d));
    const set = buildTrainingSet(foldLabels(moved), tables);
    expect(set.ignored['cell no longer exists']).toBe(5);
    expect(set.ignored['cell changed']).toBe(3);
    expect(set.y).toHaveLength(labels.length - 8);
    expect(set.warnings.join('\n')).toMatch(/no longer exist.*re-segmented/);
    const elsewhere = labels.map((d) => ({ ...d, image: 'other_image' }));
    expect(() => buildTrainingSet(foldLabels(elsewhere), tables)).toThrow(/no usable labels of class/);
  });
});

describe('classify', () => {
  test('fills Classification and GeoJSON classification {name, color}, replaces them on a second run, and changes nothing else', async () => {
    const tsv = join(ws, 'REPORTS', `${images[0]}_QUANT.tsv`);
    const geo = join(ws, 'REPORTS', `${images[0]}.geojson`);
    const before = readFileSync(tsv, 'utf8').split('\n');
    const geoBefore = readFileSync(geo, 'utf8');
    const r = await classify({ tsvUri: tsv, geojsonUri: geo, classifier: zip });
    const after = readFileSync(tsv, 'utf8').split('\n');
    const at = after[0].split('\t').indexOf('Classification');
    expect(after.length).toBe(before.length);
    for (let i = 1; i < after.length - 1; i++) {
      const a = after[i].split('\t');
      const b = before[i].split('\t');
      expect(['CD3+', 'CD8+', 'PanCK+', 'other']).toContain(a[at]);
      a[at] = b[at];
      expect(a).toEqual(b);
    }
    const doc = JSON.parse(readFileSync(geo, 'utf8')) as { features: { id: string; properties: { classification?: { name: string; color: number[] }; measurements: object } }[] };
    const docBefore = JSON.parse(geoBefore) as typeof doc;
    expect(doc.features).toHaveLength(r.cells);
    const byId = new Map(after.slice(1, -1).map((l) => l.split('\t')).map((c) => [c[1], c[at]]));
    for (const [i, f] of doc.features.entries()) {
      expect(f.properties.classification!.name).toBe(byId.get(f.id));
      expect(f.properties.classification!.color).toHaveLength(3);
      expect(f.properties.measurements).toEqual(docBefore.features[i].properties.measurements);
    }
    const again = await classify({ tsvUri: tsv, geojsonUri: geo, classifier: zip });
    expect(again.counts).toEqual(r.counts);
    expect(readFileSync(tsv, 'utf8')).toBe(after.join('\n'));
  });

  test('a table without the classifier\'s features fails naming them and leaves both files as they were', async () => {
    const tsv = join(ws, 'narrow.tsv');
    const lines = readFileSync(join(ws, 'REPORTS', `${images[0]}_QUANT.tsv`), 'utf8').trim().split('\n').map((l) => l.split('\t'));
    const keep = lines[0].map((h, i) => (/CD3/.test(h) ? -1 : i)).filter((i) => i >= 0);
    writeFileSync(tsv, lines.map((r) => keep.map((i) => r[i]).join('\t')).join('\n') + '\n');
    const geo = join(ws, 'REPORTS', `${images[1]}.geojson`);
    const stamp = [statSync(tsv).mtimeMs, readFileSync(geo, 'utf8')];
    await expect(classify({ tsvUri: tsv, geojsonUri: geo, classifier: zip })).rejects.toThrow(/narrow\.tsv: classifier .* needs \d+ measurement\(s\) this table does not have: 'Nucleus: CD3: Mean'/);
    expect([statSync(tsv).mtimeMs, readFileSync(geo, 'utf8')]).toEqual(stamp);
  });

  test('a tampered classifier is refused by its checksums', async () => {
    const entries = readZip(readFileSync(zip), zip);
    const meta = entries.get('classifier/classifier_metadata.json')!;
    entries.set('classifier/classifier_metadata.json', new TextEncoder().encode(new TextDecoder().decode(meta).replace('"CD3+"', '"CD4+"')));
    const bad = join(ws, 'tampered.zip');
    writeFileSync(bad, writeZip([...entries].map(([name, data]) => ({ name, data }))));
    await expect(loadClassifier(bad)).rejects.toThrow(/checksum mismatch: classifier\/classifier_metadata\.json/);
  });

  test('`tessel classify apply` on a workspace: an image that fails is reported, the others are classified (exit 3)', () => {
    const copy = mkdtempSync(join(tmpdir(), 'tessel-classify-ws-'));
    execFileSync('cp', ['-r', join(ws, 'OMETIFF'), join(ws, 'SEGMASK'), join(ws, 'REPORTS'), copy]);
    writeFileSync(join(copy, 'REPORTS', `${images[0]}_QUANT.tsv`), 'Image\tObject ID\tName\n');
    let out = '';
    let code = 0;
    try {
      out = execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, '../../../cli/main.ts'), 'classify', 'apply', copy, '--classifier', zip], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      code = err.status;
      out = err.stdout + err.stderr;
    }
    expect(code).toBe(3);
    expect(out).toMatch(new RegExp(`${images[0]}: .*_QUANT\\.tsv: classifier .* needs`));
    expect(out).toMatch(new RegExp(`${images[1]}: \\d+ cells: `));
    expect(readFileSync(join(copy, 'REPORTS', `${images[0]}_QUANT.tsv`), 'utf8')).toBe('Image\tObject ID\tName\n');
  });
});
