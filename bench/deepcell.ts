/**
 * Tessel against DeepCell itself, in one run, on the same network and image: deepcell 0.12.10's Mesmer network
 * (PanopticNet, ResNet50, seeded random weights: the real weights need an access token), imported by
 * `tessel model import-mesmer`, on a seeded synthetic image.
 *
 * - End to end: the whole compiled `tessel segment` process (what `npm run build` makes; node start, NPZ read, model
 *   load and self-check, normalisation, tiled inference, both watersheds, TIFF writes) vs DeepCell's
 *   `Mesmer.predict(compartment='both')` (model already loaded, Keras predict traced by a warm-up). Goal ≥ 3×.
 * - Pipeline efficiency: raw onnxruntime `session.run` time of the same normalised tiles in the same batches, on the
 *   sessions' threads as the pipeline runs them (batch b on session b mod n), ÷ Tessel's predict stage (normalise + tile loop + untile). Goal ≥ 0.9.
 * - Postprocess: the whole `tessel postprocess` process vs deepcell_toolbox's `deep_watershed` compute only (no I/O),
 *   both compartments, on the reference model's predictions for a `--pp-size` synthetic image (maps with many cells,
 *   unlike random weights'). Goal ≥ 8× at 4096².
 *
 *   npx tsx bench/deepcell.ts [--size 2048] [--pp-size 4096] [--rounds 1] [--half] [--threads N]
 *
 * Needs Python 3.10 (DeepCell's environment is created on first use: `npx tsx infra/deepcell-env.ts`). The network
 * and its bundle are cached in .tessel/deepcell/fixtures, images and outputs in .bench-out/deepcell.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { readLabelMask } from '../core/formats/image';
import { readNpz } from '../core/formats/npz';
import { mesmerNormalize } from '../core/predict/normalize';
import { DEFAULT_BATCH_SIZE } from '../core/predict/pipeline';
import { getSession, releaseSessions } from '../core/predict/session';
import { extractTile, planTiles } from '../core/predict/tiles';
import { loadModelCollection } from '../core/model/collection';
import { importMesmer } from '../core/mesmer-import';
import { buildCompiledCli } from '../infra/build-cli';
import { deepcellPython, oracleMesmerSavedModel, ORACLE_SCRIPT, runDeepcellPython, writeSyntheticNpz } from '../test/helpers/deepcell';
import { rawRunS } from './timing';
import { ensureBenchTools } from './tools';

const exec = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const WORK = join(ROOT, '.bench-out', 'deepcell');
const arg = (name: string, fallback: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : fallback; };
const size = Number(arg('--size', '2048'));
const ppSize = Number(arg('--pp-size', '4096'));
const rounds = Number(arg('--rounds', '1'));
const threads = arg('--threads', '');
const half = process.argv.includes('--half');
const log = (s: string) => process.stdout.write(`${s}\n`);
const s2 = (x: number) => `${x.toFixed(2)} s`;

interface SegmentJson {
  predict: { tiles: number; batchSize: number; timings: { normalizeS: number; inferenceS: number; untileS: number; modelLoadS: number; inputLoadS: number; outputWriteS: number; overlappedCpuS: number } };
  postprocess: { wholeCellCount: number; nucleusCount: number };
  postprocessS: number;
  totalS: number;
}

const maxLabel = (a: Int32Array) => a.reduce((m, v) => (v > m ? v : m), 0);
const differingPixels = (a: Int32Array, b: Int32Array) => a.reduce((n, v, i) => n + (v !== b[i] ? 1 : 0), 0);

/** Wall time of a whole process. */
async function timed(cmd: string, args: string[]): Promise<{ wallS: number; stdout: string }> {
  const t0 = performance.now();
  const { stdout } = await exec(cmd, args, { cwd: ROOT, maxBuffer: 1 << 26 });
  return { wallS: (performance.now() - t0) / 1000, stdout };
}

/** The import, cached beside the SavedModel while the import code is unchanged. */
async function bundleFor(savedModel: string): Promise<{ fp32: string; fp16: string }> {
  const code = ['infra/python/mesmer_import.py', 'core/mesmer-import/index.ts', 'core/model/test-tensors.ts'].map((f) => readFileSync(join(ROOT, f)));
  const digest = createHash('sha256').update(Buffer.concat(code)).digest('hex').slice(0, 12);
  const fp32 = `${savedModel}-import-${digest}.zip`;
  const fp16 = fp32.replace(/\.zip$/, '-fp16.zip');
  if (!existsSync(fp32) || !existsSync(fp16)) {
    const r = await importMesmer({ source: savedModel, out: fp32, half: true, onProgress: (m) => process.stderr.write(`${m}\n`) });
    log(`import-mesmer (fp32 + fp16) in ${s2(r.seconds)}; fp16 vs TensorFlow, max |Δ| per head: ${r.bundles[1].verify.checks.map((c) => c.maxAbsError.toExponential(1)).join(', ')}`);
  }
  return { fp32, fp16 };
}

/** Raw `session.run` on the image's own normalised tiles, batched and spread over the sessions as the pipeline does. */
async function rawSessionRunS(bundle: string, npz: string): Promise<number> {
  const model = await loadModelCollection(bundle);
  const ms = await getSession(model, threads ? { cpuThreads: Number(threads) } : {});
  const input = (await readNpz(npz)).get('input_channels')!.data as Float32Array;
  const image = mesmerNormalize(input, size, size);
  const grid = planTiles(size, size, model.metadata.tileSize, model.metadata.strideRatio);
  const t = grid.tileSize;
  const tileValues = t * t * 2;
  const batches: { data: Float32Array; dims: number[] }[] = [];
  const batchSize = DEFAULT_BATCH_SIZE[ms.device];
  for (let first = 0; first < grid.count; first += batchSize) {
    const n = Math.min(batchSize, grid.count - first);
    const data = new Float32Array(n * tileValues);
    for (let k = 0; k < n; k++) extractTile(image, 2, grid, first + k, data, k * tileValues);
    batches.push({ data, dims: [n, t, t, 2] });
  }
  await rawRunS(ms, batches.slice(0, ms.sessions.length)); // warm-up, a batch on each session
  const s = await rawRunS(ms, batches);
  await releaseSessions();
  return s;
}

async function main(): Promise<void> {
  ensureBenchTools({ reference: true }); // numpy and tifffile beside DeepCell's own venv
  mkdirSync(WORK, { recursive: true });
  const python = await deepcellPython();
  const savedModel = await oracleMesmerSavedModel(python);
  const { fp32, fp16 } = await bundleFor(savedModel);
  const npz = join(WORK, `tissue-${size}.npz`);
  if (!existsSync(npz)) await writeSyntheticNpz(npz, size, 5);
  process.stderr.write('building the compiled CLI (tsconfig.build.json, as npm run build)…\n');
  const cli = buildCompiledCli(join(ROOT, '.bench-out', 'cli-build'));
  const threadFlags = threads ? ['--threads', threads] : [];

  log(`\nMesmer network (deepcell 0.12.10 PanopticNet, random weights) at ${size}×${size}, both compartments, Mesmer's default post-processing`);
  for (let r = 0; r < rounds; r++) {
    const out = join(WORK, `segment-${size}`);
    rmSync(out, { recursive: true, force: true });
    const seg = await timed(process.execPath, [cli, 'segment', npz, '--model', fp32, '--out-dir', out, '--name', 'bench', '--json', ...threadFlags]);
    const j = JSON.parse(seg.stdout) as SegmentJson;
    const dc = await runDeepcellPython(python, ORACLE_SCRIPT, ['mesmer', '--model', savedModel, '--image', npz, '--masks-out', join(WORK, 'deepcell-masks.npz'), '--warm-up']);
    const rawS = await rawSessionRunS(fp32, npz);
    const p = j.predict.timings;
    const stage = p.normalizeS + p.inferenceS + p.untileS;
    const predictS = Number(dc.predict_s);
    log(`round ${r + 1}: tessel segment (whole process) ${s2(seg.wallS)}; DeepCell Mesmer.predict ${s2(predictS)} → ${(predictS / seg.wallS).toFixed(2)}× (goal ≥ 3×)`);
    log(`  tessel: process start + exit ${s2(seg.wallS - j.totalS)}, NPZ read ${s2(p.inputLoadS)}, model load + self-check ${s2(p.modelLoadS)}, normalise ${s2(p.normalizeS)}, `
      + `tile loop ${s2(p.inferenceS)} (${j.predict.tiles} tiles, batches of ${j.predict.batchSize}; main-thread prep + blend inside it ${s2(p.overlappedCpuS)}), untile ${s2(p.untileS)}, `
      + `raw_predictions write ${s2(p.outputWriteS)}, postprocess + TIFFs ${s2(j.postprocessS)}`);
    log(`  raw session.run of the same ${j.predict.tiles} tiles ${s2(rawS)} ÷ predict stage ${s2(stage)} → pipeline efficiency ${(rawS / stage).toFixed(3)} (goal ≥ 0.9)`);
    const masks = await readNpz(join(WORK, 'deepcell-masks.npz'));
    for (const [file, key] of [['WholeCellMask', 'whole_cell'], ['NucleusMask', 'nuclear']]) {
      const ours = (await readLabelMask(join(out, `bench_${file}.tiff`))).data;
      const theirs = masks.get(key)!.data as Int32Array;
      log(`  ${file}: ${maxLabel(ours)} objects (DeepCell ${maxLabel(theirs)}), ${differingPixels(ours, theirs)} pixels differ`);
    }
    if (half) {
      const h = await timed(process.execPath, [cli, 'segment', npz, '--model', fp16, '--out-dir', `${out}-fp16`, '--name', 'bench', '--json', ...threadFlags]);
      const hj = JSON.parse(h.stdout) as SegmentJson;
      log(`  fp16 bundle: tessel segment ${s2(h.wallS)} (tile loop ${s2(hj.predict.timings.inferenceS)} vs fp32 ${s2(p.inferenceS)}: ×${(hj.predict.timings.inferenceS / p.inferenceS).toFixed(2)} on this CPU)`);
    }
  }

  // Postprocess on maps with many cells: the reference model's predictions for a larger synthetic image.
  const ppNpz = join(WORK, `tissue-${ppSize}.npz`);
  if (!existsSync(ppNpz)) await writeSyntheticNpz(ppNpz, ppSize, 6);
  const maps = join(WORK, `reference-${ppSize}_raw_predictions.npz`);
  if (!existsSync(maps)) await timed(process.execPath, [cli, 'predict', ppNpz, '--out', maps]);
  const ppOut = join(WORK, `postprocess-${ppSize}`);
  for (let r = 0; r < rounds; r++) {
    rmSync(ppOut, { recursive: true, force: true });
    const pp = await timed(process.execPath, [cli, 'postprocess', maps, '--out-dir', ppOut, '--name', 'bench', '--json']);
    const dc = await runDeepcellPython(python, ORACLE_SCRIPT, ['watershed', '--predictions', maps, '--out', join(WORK, 'deepcell-watershed.npz')]);
    const computeS = Number(dc.compute_s);
    const res = JSON.parse(pp.stdout) as { wholeCellCount: number; nucleusCount: number };
    log(`\npostprocess at ${ppSize}×${ppSize} (reference model's maps, ${res.wholeCellCount} cells, ${res.nucleusCount} nuclei): tessel postprocess (whole process) ${s2(pp.wallS)}; `
      + `deepcell_toolbox deep_watershed compute ${s2(computeS)} → ${(computeS / pp.wallS).toFixed(2)}× (goal ≥ 8×)`);
    const theirs = await readNpz(join(WORK, 'deepcell-watershed.npz'));
    for (const [file, key] of [['WholeCellMask', 'whole_cell'], ['NucleusMask', 'nuclear']]) {
      const ours = (await readLabelMask(join(ppOut, `bench_${file}.tiff`))).data;
      log(`  ${file}: ${differingPixels(ours, theirs.get(key)!.data as Int32Array)} pixels differ from deepcell_toolbox`);
    }
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
