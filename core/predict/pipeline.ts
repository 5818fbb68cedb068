/**
 * The predict stage on arrays: Mesmer normalisation, tiling, batched ONNX runs pipelined with tile
 * extraction and blending. No file I/O here (see index.ts) and no model loading (see model-cache.ts).
 */
import { join } from 'node:path';
import { ModelContractError } from '../errors';
import { HeadMeaning } from '../model/metadata';
import { runInWorker } from '../parallel/run-in-worker';
import { extractChannel, mesmerNormalizeLevels, type MesmerNormalizeOptions, type NormalizedPlane } from './normalize';
import { mesmerResizedShape, resizeBilinear } from './resample';
import { getSession, type InferenceDevice, type InferenceModel, type ModelSession } from './session';
import type { HostedOutput } from './session-host';
import { accumulateTile, extractNormalizedTile, extractTile, planTiles, type TileGrid } from './tiles';

export { type InferenceModel } from './session';

/** Tiles per `session.run` when the caller does not say and the model's batch is dynamic. */
export const DEFAULT_BATCH_SIZE = 8;

/** Images with at least this many pixels are normalised on worker threads (one per channel). */
export const NORMALIZE_OFFLOAD_PIXELS = 4_000_000;

/** Mesmer's head order: `arr_0`…`arr_3` of raw_predictions.npz. */
export const HEAD_ORDER: readonly HeadMeaning[] = HeadMeaning.options;

export interface PredictArrayOptions {
  /** H×W×2 float32, interleaved (nuclear, membrane), raw intensities (normalised here). */
  input: Float32Array;
  width: number;
  height: number;
  /** The image's µm/pixel; when it differs from the model's the image is resampled (Mesmer's rule). */
  umPerPixel?: number;
  model: InferenceModel;
  /** Tiles per run. @default 8 (or the model's fixed batch) */
  batchSize?: number;
  /** @default 'cpu' */
  device?: InferenceDevice;
  /** onnxruntime intra-op threads. @default onnxruntime's choice */
  intraOpThreads?: number;
  /** Checked between batches; rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Called after each batch is blended in: tiles done, tiles in all. */
  onProgress?: (done: number, total: number) => void;
  /** Normalise on worker threads (default: when the image has ≥ {@link NORMALIZE_OFFLOAD_PIXELS} pixels). */
  normalizeOnWorkers?: boolean;
}

export interface PredictTimings {
  /** Resampling to the model's resolution plus Mesmer normalisation. */
  normalizeS: number;
  /** Wall time of the pipelined tile loop (tile extraction and blending overlap the runs and are inside it). */
  inferenceS: number;
  /** What is left after the loop: resampling the heads back to the image's size. */
  untileS: number;
  /** Session creation (0 when the process already held it). */
  modelLoadS: number;
  /** Of inferenceS: time the main thread spent preparing batches and blending outputs (overlapped with runs). */
  overlappedCpuS: number;
}

export interface PredictArrayResult {
  /** The four heads in Mesmer order, each H×W×C interleaved at the image's resolution. */
  heads: Float32Array[];
  /** Channels per head (Mesmer: 1, 3, 1, 3). */
  headChannels: number[];
  tiles: number;
  batchSize: number;
  timings: PredictTimings;
}

/**
 * Mesmer inference on one image: resample to the model's µm/pixel if needed, normalise (percentile clip
 * + CLAHE per channel), cut 256-px tiles at stride ratio 0.75, run the ONNX model in batches, blend the
 * tiles back with spline windows and resample the heads to the image's size.
 *
 * Pipelining: while `session.run` works on batch k on the session's own thread (onnxruntime-node runs it
 * synchronously, so it must not run on this one), batch k+1 is extracted into a second input buffer here;
 * as soon as run k returns, run k+1 starts and the outputs of k are blended in. Two input buffers and at most two batches of outputs are alive, so memory is bounded
 * whatever the image size.
 *
 * @throws ModelContractError when the model's outputs do not have the expected shapes.
 * @throws the signal's reason when aborted (checked between batches).
 */
export async function predictArray(opts: PredictArrayOptions): Promise<PredictArrayResult> {
  const { width, height, model } = opts;
  const md = model.metadata;
  const inChannels = md.input.channels.length;
  if (opts.input.length !== width * height * inChannels) {
    throw new RangeError(`input has ${opts.input.length} values, expected ${height}×${width}×${inChannels}`);
  }
  throwIfAborted(opts.signal);
  const tLoad = performance.now();
  const ms = await getSession(model, { device: opts.device ?? 'cpu', intraOpThreads: opts.intraOpThreads });
  const modelLoadS = ms.createS > 0 ? (performance.now() - tLoad) / 1000 : 0;

  const tNorm = performance.now();
  const resampled = opts.umPerPixel !== undefined && Math.abs(opts.umPerPixel / md.umPerPixel - 1) > 1e-9;
  const size = resampled ? mesmerResizedShape(width, height, opts.umPerPixel!, md.umPerPixel) : { width, height };
  const image = resampled ? resizeBilinear(opts.input, width, height, inChannels, size.width, size.height, { mode: 'constant' }) : opts.input;
  // Mesmer normalisation computes each channel's statistics and CLAHE levels here; the float values
  // are made per tile as batches are prepared, overlapping the runs.
  let source: TileSource = { image };
  if (md.normalization.kind === 'mesmer') {
    const normOpts: MesmerNormalizeOptions = { clipPercentile: md.normalization.clipPercentile, kernelSize: md.normalization.kernelSize };
    const offload = opts.normalizeOnWorkers ?? size.width * size.height >= NORMALIZE_OFFLOAD_PIXELS;
    source = {
      planes: offload
        ? await normalizeOnWorkers(image, size.width, size.height, inChannels, normOpts, opts.signal)
        : Array.from({ length: inChannels }, (_, c) => mesmerNormalizeLevels(extractChannel(image, inChannels, c), size.width, size.height, normOpts)),
    };
  }
  const normalizeS = (performance.now() - tNorm) / 1000;

  const grid = planTiles(size.width, size.height, md.tileSize, md.strideRatio);
  const order = HEAD_ORDER.map((meaning) => md.outputs.findIndex((o) => o.meaning === meaning));
  const headChannels = order.map((i) => ms.outputChannels[i]);
  const headNames = order.map((i) => md.outputs[i].name);
  const tInfer = performance.now();
  const loop = await runTiles(ms, grid, source, headNames, headChannels, opts);
  const inferenceS = (performance.now() - tInfer) / 1000;

  const tBack = performance.now();
  const heads = resampled
    ? loop.heads.map((h, k) => resizeBilinear(h, size.width, size.height, headChannels[k], width, height, { mode: 'edge' }))
    : loop.heads;
  const untileS = (performance.now() - tBack) / 1000;
  return {
    heads, headChannels, tiles: grid.count, batchSize: loop.batchSize,
    timings: { normalizeS, inferenceS, untileS, modelLoadS, overlappedCpuS: loop.cpuS },
  };
}

/** Where tiles are cut from: the interleaved image as is, or its normalised channels. */
type TileSource = { image: Float32Array } | { planes: NormalizedPlane[] };

/** The pipelined batch loop over a whole image's tiles, blended into its heads. */
async function runTiles(ms: ModelSession, grid: TileGrid, source: TileSource, headNames: string[], headChannels: number[], opts: PredictArrayOptions): Promise<{ heads: Float32Array[]; batchSize: number; cpuS: number }> {
  const inChannels = ms.inputChannels;
  const heads = headChannels.map((c) => new Float32Array(grid.width * grid.height * c));
  const t = grid.tileSize;
  const loop = await runTileBatches(ms, {
    count: grid.count, tileSize: t, headNames, headChannels, batchSize: opts.batchSize, signal: opts.signal, onProgress: opts.onProgress,
    fill: (k, dest, offset) => {
      if ('planes' in source) extractNormalizedTile(source.planes, grid, k, dest, offset);
      else extractTile(source.image, inChannels, grid, k, dest, offset);
    },
    take: (out, first, n) => headNames.forEach((name, h) => {
      const c = headChannels[h];
      for (let k = 0; k < n; k++) accumulateTile(out[name].data, k * t * t * c, c, grid, first + k, heads[h]);
    }),
  });
  return { heads, ...loop };
}

/** What {@link runTileBatches} runs: `count` tiles, cut by `fill` and handed back to `take` in order. */
export interface TileBatchJob {
  count: number;
  tileSize: number;
  headNames: string[];
  headChannels: number[];
  /** Tiles per run (the model's fixed batch wins). @default {@link DEFAULT_BATCH_SIZE} */
  batchSize?: number;
  /** Writes tile `k`'s input (tileSize × tileSize × channels) into `dest` at `offset`. */
  fill(k: number, dest: Float32Array, offset: number): void;
  /** Receives the outputs of tiles `first … first + n − 1` (checked: float32 [≥ n, t, t, c] per head). */
  take(outputs: Record<string, HostedOutput>, first: number, n: number): void;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * The pipelined batch loop: extract k+1 while k runs; hand k's outputs back while k+1 runs. Two input
 * buffers and at most two batches of outputs are alive, whatever the number of tiles.
 * @throws ModelContractError when an output does not have the expected shape.
 */
export async function runTileBatches(ms: ModelSession, job: TileBatchJob): Promise<{ batchSize: number; cpuS: number }> {
  const t = job.tileSize;
  const { headNames, headChannels } = job;
  const inChannels = ms.inputChannels;
  const batchSize = ms.fixedBatch ?? Math.max(1, Math.trunc(job.batchSize ?? DEFAULT_BATCH_SIZE));
  const batches = Math.ceil(job.count / batchSize);
  const tileValues = t * t * inChannels;
  const buffers: Float32Array[] = [new Float32Array(batchSize * tileValues), new Float32Array(batchSize * tileValues)];
  const inputName = ms.model.metadata.input.name;
  let cpuMs = 0;

  const prepare = (b: number): { data: Float32Array; dims: number[] } => {
    const c0 = performance.now();
    const buf = buffers[b % 2];
    const first = b * batchSize;
    const n = Math.min(batchSize, job.count - first);
    for (let k = 0; k < n; k++) job.fill(first + k, buf, k * tileValues);
    // A dynamic batch runs only the real tiles; a fixed batch is zero-filled.
    const rows = ms.fixedBatch ? batchSize : n;
    if (ms.fixedBatch && n < batchSize) buf.fill(0, n * tileValues);
    cpuMs += performance.now() - c0;
    return { data: rows === batchSize ? buf : buf.subarray(0, rows * tileValues), dims: [rows, t, t, inChannels] };
  };
  // The batch's buffer travels to the session thread and back with the outputs, into the same slot.
  const run = (b: number, input: { data: Float32Array; dims: number[] }) => ms.session.run(inputName, input.data, input.dims, headNames, { transfer: true })
    .then((r) => {
      buffers[b % 2] = r.input;
      return r.outputs;
    });
  const start = (b: number) => run(b, prepare(b));

  const take = (out: Record<string, HostedOutput>, b: number) => {
    const c0 = performance.now();
    const first = b * batchSize;
    const n = Math.min(batchSize, job.count - first);
    headNames.forEach((name, h) => {
      const tensor = out[name];
      const c = headChannels[h];
      const dims = tensor.dims;
      if (tensor.type !== 'float32' || dims.length !== 4 || dims[0] < n || dims[1] !== t || dims[2] !== t || dims[3] !== c) {
        throw new ModelContractError(ms.model.uri, `output '${name}' came back as ${tensor.type} [${dims.join(', ')}], expected float32 [${n}, ${t}, ${t}, ${c}]`);
      }
    });
    job.take(out, first, n);
    cpuMs += performance.now() - c0;
  };

  if (job.count === 0) return { batchSize, cpuS: 0 };
  let running = start(0);
  try {
    for (let b = 0; b < batches; b++) {
      const hasNext = b + 1 < batches;
      // Input buffer (b+1)%2 is free: run b-1 finished before run b started.
      const nextInput = hasNext ? prepare(b + 1) : undefined;
      const out = await running;
      if (hasNext) {
        throwIfAborted(job.signal);
        running = run(b + 1, nextInput!);
      }
      take(out, b);
      job.onProgress?.(Math.min((b + 1) * batchSize, job.count), job.count);
    }
  } catch (e) {
    // Do not leave a run writing into buffers we drop; its result is discarded.
    await running.catch(() => undefined);
    throw e;
  }
  return { batchSize, cpuS: cpuMs / 1000 };
}

/** Mesmer normalisation with one worker thread per channel, so the caller's event loop stays free. */
async function normalizeOnWorkers(image: Float32Array, width: number, height: number, channels: number, opts: MesmerNormalizeOptions, signal?: AbortSignal): Promise<NormalizedPlane[]> {
  const modulePath = join(__dirname, 'normalize');
  return Promise.all(Array.from({ length: channels }, (_, c) => {
    const plane = extractChannel(image, channels, c);
    return runInWorker<NormalizedPlane>(modulePath, 'mesmerNormalizeLevels', [plane, width, height, opts], { transfer: [plane.buffer as ArrayBuffer], signal });
  }));
}

/** Rejects with the signal's reason once it is aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(`aborted: ${String(signal.reason ?? 'cancelled')}`);
}
