/** @jest-environment ./test/unit/predict/ort-environment.js */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matchObjects } from '../../../core/eval/match';
import type { NdArray } from '../../../core/formats/ndarray';
import { readLabelMask } from '../../../core/formats/image';
import { readNpz } from '../../../core/formats/npz';
import { encodeModelCollection, loadModelCollection } from '../../../core/model/collection';
import { HeadMeaning } from '../../../core/model/metadata';
import { ensureReferenceModel } from '../../../core/reference';
import { describeWithDeepcell, deepcellPython, oracleMesmerSavedModel, ORACLE_SCRIPT, runDeepcellPython, tesselCli, writeSyntheticNpz } from '../../helpers/deepcell';

/**
 * DeepCell itself as the oracle: deepcell 0.12.10's Mesmer network (PanopticNet, ResNet50, seeded random weights —
 * the real weights need an access token) imported by `tessel model import-mesmer`, then DeepCell's own pipeline and
 * Tessel's on the same 512×512 synthetic image. Random weights give flat maps, so the masks are compared at
 * thresholds low enough that both find many objects (Mesmer's defaults find a handful on these maps).
 */
const ROOT = join(__dirname, '..', '..', '..');
const SIZE = 512;
const IMAGE_SEED = 5;
/**
 * h-maxima h and interior threshold for these random-weight maps (inner distance ≈ 0–0.25, interior ≈ 0.31–0.38):
 * about 80 whole cells and 100 nuclei at 512² where Mesmer's defaults find 4 and 0.
 */
const LOW = { maximaThreshold: 0.001, interiorThreshold: 0.32 };
const LOW_DEEPCELL = { maxima_threshold: LOW.maximaThreshold, interior_threshold: LOW.interiorThreshold };
const LOW_FLAGS = ['--maxima-threshold', String(LOW.maximaThreshold), '--interior-threshold', String(LOW.interiorThreshold)];

const maxAbsDiff = (a: NdArray, b: NdArray) => {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return m;
};
const countLabels = (labels: Int32Array) => new Set(labels).size - (labels.includes(0) ? 1 : 0);
const differingPixels = (a: Int32Array, b: Int32Array) => {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
};
const ok = (r: { code: number; stderr: string }) => {
  if (r.code !== 0) throw new Error(`tessel failed (${r.code}): ${r.stderr.slice(-2000)}`);
};

describeWithDeepcell('DeepCell Mesmer (deepcell 0.12.10 network, seeded weights) imported by import-mesmer vs DeepCell\'s own pipeline', () => {
  let dir: string;
  let npz: string;
  let deepcell: Map<string, NdArray>;
  const bundle = () => join(dir, 'mesmer.zip');
  const halfBundle = () => join(dir, 'mesmer-fp16.zip');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessel-deepcell-oracle-'));
    const python = await deepcellPython();
    const savedModel = await oracleMesmerSavedModel(python);
    npz = join(dir, 'tissue.npz');
    await writeSyntheticNpz(npz, SIZE, IMAGE_SEED);
    // The import as a user runs it, and DeepCell's pipeline, at the same time (two cores).
    const [imported] = await Promise.all([
      tesselCli(['model', 'import-mesmer', savedModel, '--out', bundle(), '--half']),
      runDeepcellPython(python, ORACLE_SCRIPT, ['mesmer', '--model', savedModel, '--image', npz, '--raw-out', join(dir, 'deepcell_raw.npz'),
        '--masks-out', join(dir, 'deepcell_masks.npz'), '--kwargs', JSON.stringify({ whole_cell: LOW_DEEPCELL, nuclear: LOW_DEEPCELL })]),
    ]);
    ok(imported);
    deepcell = new Map([...await readNpz(join(dir, 'deepcell_raw.npz')), ...await readNpz(join(dir, 'deepcell_masks.npz'))]);
    for (const [model, out] of [[bundle(), 'fp32'], [halfBundle(), 'fp16']]) {
      ok(await tesselCli(['segment', npz, '--model', model, '--out-dir', join(dir, out), '--name', 'tissue', ...LOW_FLAGS]));
    }
    // Tessel's post-processing on DeepCell's own raw heads: separates the watershed from the inference.
    ok(await tesselCli(['postprocess', join(dir, 'deepcell_raw.npz'), '--out-dir', join(dir, 'on-deepcell-maps'), '--name', 'tissue', ...LOW_FLAGS]));
  }, 30 * 60_000);
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  test('import-mesmer maps the heads by order and channels, and both bundles pass their own test tensors', async () => {
    const c = await loadModelCollection(bundle());
    expect(c.metadata.outputs.map((o) => [o.meaning, o.shape[3]])).toEqual(HeadMeaning.options.map((m, k) => [m, k % 2 ? 3 : 1]));
    expect(c.metadata.input).toMatchObject({ shape: [null, 256, 256, 2], channels: ['nuclear', 'membrane'] });
    expect(c.metadata.testTensors!.source).toMatch(/^tensorflow 2\.8/);
    expect(c.testTensors!.input.shape).toEqual([2, 256, 256, 2]);
    for (const zip of [bundle(), halfBundle()]) {
      const r = await tesselCli(['model', 'inspect', '--verify', '--json', zip]);
      const report = JSON.parse(r.stdout) as { ok: boolean; verification: { ok: boolean; checks: { maxAbsError: number; absoluteTolerance: number }[] } };
      expect([r.code, report.ok, report.verification.ok]).toEqual([0, true, true]);
      for (const check of report.verification.checks) {
        // fp32: onnxruntime vs TensorFlow to float32 round-off; fp16 within its (looser) stated tolerance.
        expect(check.maxAbsError).toBeLessThan(zip === bundle() ? 1e-5 : check.absoluteTolerance);
      }
    }
  }, 600_000);

  test('raw heads equal DeepCell\'s _preprocess → _tile_input → _batch_predict → _untile_output within 1e-5', async () => {
    const ours = await readNpz(join(dir, 'fp32', 'tissue_raw_predictions.npz'));
    for (let k = 0; k < 4; k++) {
      const a = ours.get(`arr_${k}`)!;
      const b = deepcell.get(`arr_${k}`)!;
      expect(a.shape).toEqual(b.shape);
      expect(a.shape).toEqual([1, SIZE, SIZE, k % 2 ? 3 : 1]);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    }
  });

  test.each([['WholeCellMask', 'whole_cell', 50], ['NucleusMask', 'nuclear', 50]] as const)(
    '%s: tessel postprocess on DeepCell\'s raw heads is identical to Mesmer.predict\'s mask (which holds many objects)', async (file, key, atLeast) => {
      const ours = (await readLabelMask(join(dir, 'on-deepcell-maps', `tissue_${file}.tiff`))).data;
      const theirs = deepcell.get(key)!.data as Int32Array;
      expect(countLabels(theirs)).toBeGreaterThanOrEqual(atLeast);
      expect(differingPixels(ours, theirs)).toBe(0);
    });

  test.each([['WholeCellMask', 'whole_cell'], ['NucleusMask', 'nuclear']] as const)(
    '%s: tessel segment end to end has Mesmer.predict\'s objects, to a few tie pixels', async (file, key) => {
      const ours = (await readLabelMask(join(dir, 'fp32', `tissue_${file}.tiff`))).data;
      const theirs = deepcell.get(key)!.data as Int32Array;
      // Same labels everywhere but where these flat maps tie within float32 round-off of onnxruntime vs TensorFlow
      // (measured: 2 pixels of the whole-cell mask at every threshold tried, 0 of the nuclear one).
      expect(countLabels(ours)).toBe(countLabels(theirs));
      expect(differingPixels(ours, theirs)).toBeLessThanOrEqual(ours.length * 1e-4);
      const m = matchObjects(theirs, ours, 0.5);
      expect(m.f1).toBe(1);
      expect(m.meanMatchedIoU).toBeGreaterThan(0.999);
    });

  test('the fp16 variant stays within 1e-3 of fp32 on every head of a whole image', async () => {
    // Its masks are not compared here: on random-weight maps this flat, fp16 round-off (≈3e-4) moves watershed
    // boundaries (matched F1 0.87–0.97 at thresholds 0.001–0.01). Mask agreement is checked on a trained model below.
    const full = await readNpz(join(dir, 'fp32', 'tissue_raw_predictions.npz'));
    const half = await readNpz(join(dir, 'fp16', 'tissue_raw_predictions.npz'));
    for (let k = 0; k < 4; k++) expect(maxAbsDiff(full.get(`arr_${k}`)!, half.get(`arr_${k}`)!)).toBeLessThan(1e-3);
  });
});

describeWithDeepcell('on the trained reference model: deepcell_toolbox\'s deep watershed, and float16 weights', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessel-deepcell-reference-'));
    const python = await deepcellPython();
    const npz = join(dir, 'tissue.npz');
    await writeSyntheticNpz(npz, SIZE, IMAGE_SEED);
    ok(await tesselCli(['segment', npz, '--out-dir', join(dir, 'fp32'), '--name', 'tissue'])); // the reference model, Mesmer's defaults
    await runDeepcellPython(python, ORACLE_SCRIPT, ['watershed', '--predictions', join(dir, 'fp32', 'tissue_raw_predictions.npz'), '--out', join(dir, 'deepcell.npz')]);
    // The reference model's weights cast to float16 by import-mesmer's own converter (mesmer_import.to_float16).
    const reference = await loadModelCollection(await ensureReferenceModel());
    writeFileSync(join(dir, 'reference.onnx'), reference.onnx);
    await runDeepcellPython(python, '-c', ['import sys, onnx; sys.path.insert(0, sys.argv[1]); import mesmer_import; '
      + 'onnx.save(mesmer_import.to_float16(onnx.load(sys.argv[2])), sys.argv[3])', join(ROOT, 'infra', 'python'), join(dir, 'reference.onnx'), join(dir, 'reference16.onnx')]);
    const md = reference.metadata;
    writeFileSync(join(dir, 'reference16.zip'), encodeModelCollection(readFileSync(join(dir, 'reference16.onnx')), { ...md, version: `${md.version}+fp16`, testTensors: undefined }));
    ok(await tesselCli(['segment', npz, '--model', join(dir, 'reference16.zip'), '--out-dir', join(dir, 'fp16'), '--name', 'tissue']));
  }, 30 * 60_000);
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  test.each([['WholeCellMask', 'whole_cell'], ['NucleusMask', 'nuclear']] as const)('%s: tessel postprocess and deepcell_toolbox give identical labels (Mesmer defaults)', async (file, key) => {
    const ours = (await readLabelMask(join(dir, 'fp32', `tissue_${file}.tiff`))).data;
    const theirs = (await readNpz(join(dir, 'deepcell.npz'))).get(key)!.data as Int32Array;
    expect(countLabels(theirs)).toBeGreaterThan(100);
    expect(differingPixels(ours, theirs)).toBe(0);
  });

  test.each(['WholeCellMask', 'NucleusMask'])('%s with float16 weights agrees with float32 (matched F1 ≥ 0.99)', async (file) => {
    const full = (await readLabelMask(join(dir, 'fp32', `tissue_${file}.tiff`))).data;
    const half = (await readLabelMask(join(dir, 'fp16', `tissue_${file}.tiff`))).data;
    expect(countLabels(full)).toBeGreaterThan(100);
    expect(matchObjects(full, half, 0.5).f1).toBeGreaterThanOrEqual(0.99);
  });
});
