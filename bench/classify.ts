/**
 * Cell classification on synthetic tissue with known, marker-defined cell types (CD3+, CD8+, PanCK+,
 * other; `tessel synth --cell-types`), through the real pipeline: `tessel run --embedded` segments and
 * measures, each segmented cell gets the type of the ground-truth cell it matches (IoU > 0.5), a forest
 * is trained on 200 of them (as 200 review labels would) and classifies all the others. Target: accuracy
 * ≥ 0.95. The same 200 labels also train `ml-random-forest` (mljs), the npm library the issue suggests,
 * timed in the same run as the reference.
 *
 *   npx tsx bench/classify.ts [--images 3] [--size 512] [--labels 200] [--seed 100]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RandomForestClassifier } from 'ml-random-forest';
import { readLabelMask } from '../core/formats/image';
import { readQuantTable } from '../core/quantify/read-tsv';
import { cellFeatures, chooseFeatures, imputeInPlace, featureMedians } from '../core/classify/features';
import { predictForest } from '../core/classify/forest';
import { argmax, pick } from '../core/classify/evaluate';
import { trainClassifier } from '../core/classify/train';
import { Random } from '../core/synth';
import { ensureBenchTools } from './tools';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const images = arg('images', 3), size = arg('size', 512), nLabels = arg('labels', 200), seed = arg('seed', 100);
const CLI = join(__dirname, '..', 'cli', 'main.ts');
const tessel = (...args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

/** For each predicted label, the ground-truth label it overlaps with IoU > 0.5 (0: none). */
async function matchLabels(truthUri: string, predUri: string): Promise<Map<number, number>> {
  const t = (await readLabelMask(truthUri)).data, p = (await readLabelMask(predUri)).data;
  const area = new Map<string, number>(), at = new Map<number, number>(), ap = new Map<number, number>();
  for (let i = 0; i < t.length; i++) {
    if (t[i]) at.set(t[i], (at.get(t[i]) ?? 0) + 1);
    if (p[i]) ap.set(p[i], (ap.get(p[i]) ?? 0) + 1);
    if (t[i] && p[i]) area.set(`${p[i]} ${t[i]}`, (area.get(`${p[i]} ${t[i]}`) ?? 0) + 1);
  }
  const out = new Map<number, number>();
  for (const [k, inter] of area) {
    const [pl, tl] = k.split(' ').map(Number);
    if (inter / (ap.get(pl)! + at.get(tl)! - inter) > 0.5) out.set(pl, tl);
  }
  return out;
}

async function main(): Promise<void> {
  ensureBenchTools({ reference: false }); // the Temporal CLI for the pipeline run
  const ws = mkdtempSync(join(tmpdir(), 'tessel-bench-classify-'));
  tessel('synth', ws, '--images', String(images), '--size', String(size), '--seed', String(seed), '--cell-types');
  const t0 = Date.now();
  tessel('run', 'workspace', ws, '--embedded', '--no-geojson', '--json');
  console.log(`segmented and measured ${images} image(s) of ${size}² in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const names = Array.from({ length: images }, (_, i) => `tissue_${String(i).padStart(3, '0')}`);
  const tables = await Promise.all(names.map((n) => readQuantTable(join(ws, 'REPORTS', `${n}_QUANT.tsv`))));
  const features = chooseFeatures(tables);
  const rows: Float32Array[] = [];
  const types: string[] = [];
  let segmented = 0;
  for (const [i, name] of names.entries()) {
    const truth = new Map(readFileSync(join(ws, 'GROUND_TRUTH', `${name}_CellTypes.tsv`), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t')).map(([a, b]) => [Number(a), b]));
    const match = await matchLabels(join(ws, 'GROUND_TRUTH', `${name}_WholeCellMask.tiff`), join(ws, 'SEGMASK', `${name}_WholeCellMask.tiff`));
    const f = cellFeatures(tables[i], features);
    segmented += f.ids.length;
    for (let r = 0; r < f.ids.length; r++) {
      const t = match.get(f.labels[r]);
      if (!t) continue;
      rows.push(f.values.subarray(r * features.length, (r + 1) * features.length));
      types.push(truth.get(t)!);
    }
  }
  const classNames = [...new Set(types)].sort();
  const y = types.map((t) => classNames.indexOf(t));
  const all = new Float32Array(rows.length * features.length);
  rows.forEach((r, i) => all.set(r, i * features.length));
  console.log(`${segmented} segmented cells, ${rows.length} matched to a ground-truth cell (IoU > 0.5): ` +
    classNames.map((c) => `${c} ${types.filter((t) => t === c).length}`).join(', '));

  // 200 labels drawn at random (seeded), as a reviewer's sample would be; every other matched cell is the test set.
  const rng = new Random(seed);
  const order = Array.from({ length: rows.length }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
  const trainIdx = order.slice(0, nLabels), testIdx = order.slice(nLabels);
  const trainRows = pick(all, trainIdx, features.length), testRows = pick(all, testIdx, features.length);
  const fill = featureMedians(trainRows, features.length);
  imputeInPlace(trainRows, fill);
  imputeInPlace(testRows, fill);

  let t = performance.now();
  const ours = trainClassifier({ rows: trainRows, y: trainIdx.map((i) => y[i]), features, classNames, images: names, ignored: {}, warnings: [] }, { folds: 5 });
  const oursTrainS = (performance.now() - t) / 1000;
  const probs = predictForest(ours.forest, testRows);
  const k = classNames.length;
  const oursAcc = testIdx.filter((i, r) => argmax(probs, r * k, k) === y[i]).length / testIdx.length;

  t = performance.now();
  const toArrays = (m: Float32Array) => Array.from({ length: m.length / features.length }, (_, r) => Array.from(m.subarray(r * features.length, (r + 1) * features.length)));
  const ref = new RandomForestClassifier({ nEstimators: 100, maxFeatures: Math.ceil(Math.sqrt(features.length)), seed, useSampleBagging: true, noOOB: true, replacement: false });
  ref.train(toArrays(trainRows), trainIdx.map((i) => y[i]));
  const refTrainS = (performance.now() - t) / 1000;
  const refPred = ref.predict(toArrays(testRows));
  const refAcc = testIdx.filter((i, r) => refPred[r] === y[i]).length / testIdx.length;

  console.log(`Tessel forest: trained on ${nLabels} labels (with 5-fold cross-validation: ${((ours.metadata.crossValidation?.accuracy ?? NaN) * 100).toFixed(1)}%) in ${oursTrainS.toFixed(2)} s; ` +
    `accuracy on the other ${testIdx.length} cells ${oursAcc.toFixed(4)} (target ≥ 0.95: ${oursAcc >= 0.95 ? 'met' : 'NOT met'})`);
  console.log(`ml-random-forest 2.1.0 (reference, same labels, 100 trees, no cross-validation): trained in ${refTrainS.toFixed(2)} s, accuracy ${refAcc.toFixed(4)}`);
  console.log(`ratio: training time ml-random-forest / Tessel (Tessel's including 5 cross-validation fits) ${(refTrainS / oursTrainS).toFixed(1)}×; accuracy difference ${(oursAcc - refAcc).toFixed(4)}`);
  if (oursAcc < 0.95) process.exitCode = 1;
}

void main();
