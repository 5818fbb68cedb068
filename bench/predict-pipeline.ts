/**
 * Pipeline efficiency of `predictArray`: end-to-end tiles/s (normalisation, tiling, batched runs,
 * blending — everything) ÷ raw `session.run` tiles/s of the same session on pre-made batches of the
 * same size, measured in the same process, alternating, so machine load hits both alike. Goal ≥ 0.9.
 *
 *   npx tsx bench/predict-pipeline.ts [--size 2048] [--batch 8] [--rounds 2] [--threads N] [--model zip] [--device cpu|cuda]
 *
 * `--device cuda` needs onnxruntime-node's CUDA build (docs/gpu.md); both paths then run on the GPU.
 *
 * Model: --model, else the reference model when `core/reference` exists, else a small conv net
 * built by test/unit/predict/fixtures/make_test_model.py (3×3 convs, 32 channels, depth 4).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { predictArray } from '../core/predict/pipeline';
import { getSession, type InferenceModel } from '../core/predict/session';
import { ModelMetadata } from '../core/model/metadata';
import { blobImage } from '../core/synth/blobs';
import { rawRunS } from './timing';
import { ensureBenchTools } from './tools';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

async function loadModel(): Promise<InferenceModel> {
  const explicit = arg('model', '');
  try {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const uri = explicit || await (require('../core/reference') as { ensureReferenceModel(): Promise<string> }).ensureReferenceModel();
    return await (require('../core/model/collection') as { loadModelCollection(u: string): Promise<InferenceModel> }).loadModelCollection(uri);
    /* eslint-enable @typescript-eslint/no-require-imports */
  } catch (e) {
    if (explicit) throw e;
    process.stderr.write(`reference model unavailable (${(e as Error).message.split('\n')[0]}); using a built conv test model\n`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessel-bench-'));
  const py = ensureBenchTools({ reference: true });
  execFileSync(py, [join(__dirname, '..', 'test', 'unit', 'inference', 'fixtures', 'make_test_model.py'), dir, 'conv', '32', '4']);
  const onnx = new Uint8Array(readFileSync(join(dir, 'conv.onnx')));
  const metadata = ModelMetadata.parse(JSON.parse(readFileSync(join(dir, 'conv.json'), 'utf8')));
  return { uri: join(dir, 'conv.onnx'), sha256: createHash('sha256').update(onnx).digest('hex'), onnx, metadata };
}

async function main(): Promise<void> {
  const size = Number(arg('size', '2048'));
  const batch = Number(arg('batch', '8'));
  const rounds = Number(arg('rounds', '2'));
  const threads = arg('threads', '') ? Number(arg('threads', '')) : undefined;
  const device = arg('device', 'cpu');
  if (device !== 'cpu' && device !== 'cuda') throw new Error(`--device must be cpu or cuda, not '${device}'`);
  const model = await loadModel();
  const ms = await getSession(model, { cpuThreads: threads, device });
  const t = model.metadata.tileSize;
  const image = blobImage(size, size, 12345);

  // Warm up both paths once (JIT, onnxruntime arenas), small image.
  await predictArray({ input: blobImage(300, 300, 12345), width: 300, height: 300, model, batchSize: batch, cpuThreads: threads, device });

  const results: { raw: number; e2e: number; timings: unknown }[] = [];
  for (let r = 0; r < rounds; r++) {
    // End to end.
    const t0 = performance.now();
    const e = await predictArray({ input: image, width: size, height: size, model, batchSize: batch, cpuThreads: threads, device });
    const e2eS = (performance.now() - t0) / 1000;
    // Raw session.run on pre-made batches: the same tiles in the same batch sizes (last one partial).
    const batches = Math.ceil(e.tiles / batch);
    const feedFor = (n: number) => ({ data: new Float32Array(n * t * t * 2).map((_, i) => ((i * 2654435761) >>> 0) / 2 ** 32), dims: [n, t, t, 2] });
    const full = feedFor(batch);
    const last = feedFor(e.tiles - (batches - 1) * batch);
    // The sessions live on threads of their own; raw runs go there too (each batch copied there, outputs
    // transferred back, as in the pipeline), spread over them as the pipeline spreads them, with
    // nothing else to do.
    const rawS = await rawRunS(ms, Array.from({ length: batches }, (_, b) => (b === batches - 1 ? last : full)));
    const raw = e.tiles / rawS;
    const e2e = e.tiles / e2eS;
    results.push({ raw, e2e, timings: e.timings });
    process.stdout.write(`round ${r + 1}: ${size}×${size}, ${e.tiles} tiles, batch ${batch}: end-to-end ${e2e.toFixed(2)} tiles/s (${e2eS.toFixed(2)} s; ` +
      `normalise ${e.timings.normalizeS.toFixed(2)} s, loop ${e.timings.inferenceS.toFixed(2)} s, main-thread prep+blend inside loop ${e.timings.overlappedCpuS.toFixed(2)} s), ` +
      `raw session.run ${raw.toFixed(2)} tiles/s (${rawS.toFixed(2)} s for the same ${e.tiles} tiles) → efficiency ${(e2e / raw).toFixed(3)}\n`);
  }
  const eff = results.map((r) => r.e2e / r.raw).sort((a, b) => a - b);
  process.stdout.write(`model ${model.metadata.name}@${model.metadata.version} on ${device}; median efficiency ${eff[Math.floor(eff.length / 2)].toFixed(3)} (goal ≥ 0.9)\n`);
}

void main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
