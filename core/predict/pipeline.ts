/**
 * The predict stage on arrays: Mesmer normalisation, tiling, batched ONNX runs pipelined with tile
 * extraction and blending. No file I/O here (see index.ts) and no model loading (see model-cache.ts).
 */
import { join } from 'node:path';
import { ModelContractError } from '../errors';
import { HeadMeaning } from '../model/metadata';
import { releaseBuffers } from '../parallel/release';
import { runInWorker } from '../parallel/run-in-worker';
import { extractChannel, mesmerNormalizeLevels, type MesmerNormalizeOptions, type NormalizedPlane } from './normalize';
import { mesmerResizedShape, resizeBilinear } from './resample';
import { getSession, type InferenceDevice, type InferenceModel, type ModelSession } from './session';
import type { HostedOutput } from './session-host';
import { accumulateTile, extractNormalizedTile, extractTile, planTiles, type TileGrid } from './tiles';

export { type InferenceModel } from './session';

/**
 * Tiles per `session.run` when the caller does not say and the model's batch is dynamic. On a CPU a
 * larger batch is no faster per tile (the reference model: 200–270 ms a tile at batches of 2 and 8 on
 * 2 cores) while every tile in a batch holds ~90 MB of activations (peak RSS 0.82 GB at 8, 0.28 GB at 2);
 * a GPU wants its batches full.
 */
export const DEFAULT_BATCH_SIZE: Record<InferenceDevice, number> = { cpu: 2, cuda: 8 };

/** Images with at least this many pixels are normalised on worker threads (one per channel). */
export const NORMALIZE_OFFLOAD_PIXELS = 4_000_000;

/** Mesmer's head order: `arr_0`…`arr_3` of raw_predictions.npz. */
export const HEAD_ORDER: readonly HeadMeaning[] = HeadMeaning.options;

export interface PredictArrayOptions {
  /** H×W×2 float32, interleaved (nuclear, membrane), raw intensities (normalised here). */
  input?: Float32Array;
  /**
   * The image as one H×W plane per channel instead of `input` (as `predict` reads them from the NPZ):
   * no interleaved copy is made, and for Mesmer normalisation on worker threads the planes move to
   * the threads (their buffers are detached here).
   */
  channels?: Float32Array[];
  /**
   * Hand the heads over as they are finished instead of returning them whole: called in row order
   * with rows [y0, y1) of each head (H×W×C rows, views valid until the returned promise settles), and
   * the result's `heads` is empty. Only a band of rows is then held at a time — unless the image is
   * resampled, when the whole heads are resampled back and handed over in one call.
   */
  onRows?: (y0: number, y1: number, rows: Float32Array[]) => Promise<void> | void;
  width: number;
  height: number;
  /** The image's µm/pixel; when it differs from the model's the image is resampled (Mesmer's rule). */
  umPerPixel?: number;
  model: InferenceModel;
  /** Tiles per run. @default {@link DEFAULT_BATCH_SIZE} for the device (or the model's fixed batch) */
  batchSize?: number;
  /** @default 'cpu' */
  device?: InferenceDevice;
  /** CPU threads for inference, all of the model's sessions together (session.ts `cpuSessionLayout`). @default one per physical core */
  cpuThreads?: number;
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
  /** The four heads in Mesmer order, each H×W×C interleaved at the image's resolution (empty with `onRows`). */
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
  if (opts.channels ? opts.channels.length !== inChannels || opts.channels.some((c) => c.length !== width * height) : opts.input?.length !== width * height * inChannels) {
    throw new RangeError(`input must be ${inChannels} planes of ${height}×${width} (channels) or ${height}×${width}×${inChannels} interleaved values (input)`);
  }
  throwIfAborted(opts.signal);
  const tLoad = performance.now();
  const ms = await getSession(model, { device: opts.device ?? 'cpu', cpuThreads: opts.cpuThreads });
  const modelLoadS = ms.createS > 0 ? (performance.now() - tLoad) / 1000 : 0;

  const tNorm = performance.now();
  const resampled = opts.umPerPixel !== undefined && Math.abs(opts.umPerPixel / md.umPerPixel - 1) > 1e-9;
  const size = resampled ? mesmerResizedShape(width, height, opts.umPerPixel!, md.umPerPixel) : { width, height };
  const mesmer = md.normalization.kind === 'mesmer';
  // Planes per channel where normalisation takes them as they are; the interleaved image otherwise.
  let planes = mesmer && !resampled ? opts.channels : undefined;
  let image: Float32Array | undefined;
  if (!planes) {
    const interleaved = opts.input ?? interleave(opts.channels!, width * height);
    image = resampled ? resizeBilinear(interleaved, width, height, inChannels, size.width, size.height, { mode: 'constant' }) : interleaved;
  }
  // Mesmer normalisation computes each channel's statistics and CLAHE levels here; the float values
  // are made per tile as batches are prepared, overlapping the runs.
  let source: TileSource;
  if (mesmer) {
    const normOpts: MesmerNormalizeOptions = { clipPercentile: md.normalization.clipPercentile, kernelSize: md.normalization.kernelSize };
    const offload = opts.normalizeOnWorkers ?? size.width * size.height >= NORMALIZE_OFFLOAD_PIXELS;
    const planeOf = (c: number) => planes?.[c] ?? extractChannel(image!, inChannels, c);
    source = {
      planes: offload
        ? await normalizeOnWorkers(planeOf, size.width, size.height, inChannels, normOpts, opts.signal)
        : Array.from({ length: inChannels }, (_, c) => mesmerNormalizeLevels(planeOf(c), size.width, size.height, normOpts)),
    };
    planes = image = undefined; // only the levels are needed from here on
  } else {
    source = { image: image! };
  }
  const normalizeS = (performance.now() - tNorm) / 1000;

  const grid = planTiles(size.width, size.height, md.tileSize, md.strideRatio);
  const order = HEAD_ORDER.map((meaning) => md.outputs.findIndex((o) => o.meaning === meaning));
  const headChannels = order.map((i) => ms.outputChannels[i]);
  const headNames = order.map((i) => md.outputs[i].name);
  const tInfer = performance.now();
  // Finished rows go straight to the caller unless the heads must be resampled back first.
  const stream = opts.onRows && !resampled ? opts.onRows : undefined;
  const loop = await runTiles(ms, grid, source, headNames, headChannels, opts, stream);
  const inferenceS = (performance.now() - tInfer) / 1000;
  // The levels (and a streamed band) are this function's own: their memory goes now, before the
  // caller's next step allocates, not at some later garbage collection.
  if ('planes' in source) releaseBuffers(...source.planes.map((p) => p.levels?.buffer));
  if (stream) releaseBuffers(...loop.ring.map((h) => h.buffer));

  const tBack = performance.now();
  let heads = resampled
    ? loop.heads.map((h, k) => resizeBilinear(h, size.width, size.height, headChannels[k], width, height, { mode: 'edge' }))
    : loop.heads;
  if (opts.onRows && !stream) {
    await opts.onRows(0, height, heads);
    heads = [];
  }
  const untileS = (performance.now() - tBack) / 1000;
  return {
    heads, headChannels, tiles: grid.count, batchSize: loop.batchSize,
    timings: { normalizeS, inferenceS, untileS, modelLoadS, overlappedCpuS: loop.cpuS },
  };
}

/** Where tiles are cut from: the interleaved image as is, or its normalised channels. */
type TileSource = { image: Float32Array } | { planes: NormalizedPlane[] };

/**
 * The pipelined batch loop over a whole image's tiles, blended into its heads; with `onRows`, into
 * rings of rows instead (the band the tiles in flight can still add to), each row handed over as soon
 * as no tile still to come adds to it.
 */
async function runTiles(
  ms: ModelSession, grid: TileGrid, source: TileSource, headNames: string[], headChannels: number[], opts: PredictArrayOptions,
  onRows?: PredictArrayOptions['onRows'],
): Promise<{ heads: Float32Array[]; ring: Float32Array[]; batchSize: number; cpuS: number }> {
  const inChannels = ms.inputChannels;
  const t = grid.tileSize;
  const batchSize = tileBatchSize(ms, opts.batchSize);
  // Streaming, the heads are rings of rows: the band the tiles in flight can still add to.
  const ring = onRows ? ringRows(grid, batchSize) : undefined;
  const rowsHeld = ring ?? grid.height;
  const heads = headChannels.map((c) => new Float32Array(grid.width * rowsHeld * c));
  let flushed = 0; // output rows [0, flushed) have been handed over
  const flush = async (until: number): Promise<void> => {
    while (flushed < until) {
      // Up to the ring's end at most, so each call gets contiguous rows.
      const from = flushed, to = Math.min(until, (Math.floor(from / ring!) + 1) * ring!);
      const a = from % ring!, b = a + (to - from);
      await onRows!(from, to, heads.map((h, k) => h.subarray(a * grid.width * headChannels[k], b * grid.width * headChannels[k])));
      heads.forEach((h, k) => h.fill(0, a * grid.width * headChannels[k], b * grid.width * headChannels[k])); // the slots are reused
      flushed = to;
    }
  };
  const loop = await runTileBatches(ms, {
    count: grid.count, tileSize: t, headNames, headChannels, batchSize, signal: opts.signal, onProgress: opts.onProgress,
    fill: (k, dest, offset) => {
      if ('planes' in source) extractNormalizedTile(source.planes, grid, k, dest, offset);
      else extractTile(source.image, inChannels, grid, k, dest, offset);
    },
    take: (out, first, n) => headNames.forEach((name, h) => {
      const c = headChannels[h];
      for (let k = 0; k < n; k++) accumulateTile(out[name].data, k * t * t * c, c, grid, first + k, heads[h], ring);
    }),
    afterTake: onRows ? (done) => flush(finishedRows(grid, done)) : undefined,
  });
  return { heads: onRows ? [] : heads, ring: onRows ? heads : [], ...loop };
}

/** Tiles per run: the model's fixed batch, else the request, else the device's default. */
function tileBatchSize(ms: ModelSession, requested?: number): number {
  return ms.fixedBatch ?? Math.max(1, Math.trunc(requested ?? DEFAULT_BATCH_SIZE[ms.device]));
}

/** What {@link runTileBatches} runs: `count` tiles, cut by `fill` and handed back to `take` in order. */
export interface TileBatchJob {
  count: number;
  tileSize: number;
  headNames: string[];
  headChannels: number[];
  /** Tiles per run (the model's fixed batch wins). @default {@link DEFAULT_BATCH_SIZE} for the device */
  batchSize?: number;
  /** Writes tile `k`'s input (tileSize × tileSize × channels) into `dest` at `offset`. */
  fill(k: number, dest: Float32Array, offset: number): void;
  /** Receives the outputs of tiles `first … first + n − 1` (checked: float32 [≥ n, t, t, c] per head). */
  take(outputs: Record<string, HostedOutput>, first: number, n: number): void;
  /** Awaited after each `take`, with the number of tiles taken so far (streamed rows go out here). */
  afterTake?(done: number): Promise<void>;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * The pipelined batch loop, with a batch in flight on each of the model's sessions: while they run, the
 * next batch is extracted, and each batch's outputs are handed back, in order, as soon as they are in.
 * One input buffer per session plus one, and at most a batch of outputs per session are alive, whatever
 * the number of tiles. Results do not depend on the number of sessions: batches are taken in order.
 * @throws ModelContractError when an output does not have the expected shape.
 */
export async function runTileBatches(ms: ModelSession, job: TileBatchJob): Promise<{ batchSize: number; cpuS: number }> {
  const t = job.tileSize;
  const { headNames, headChannels } = job;
  const inChannels = ms.inputChannels;
  const batchSize = tileBatchSize(ms, job.batchSize);
  const batches = Math.ceil(job.count / batchSize);
  const tileValues = t * t * inChannels;
  const lanes = ms.sessions.length;
  const buffers: Float32Array[] = Array.from({ length: lanes + 1 }, () => new Float32Array(batchSize * tileValues));
  const inputName = ms.model.metadata.input.name;
  let cpuMs = 0;

  const prepare = (b: number): { data: Float32Array; dims: number[] } => {
    const c0 = performance.now();
    const buf = buffers[b % buffers.length];
    const first = b * batchSize;
    const n = Math.min(batchSize, job.count - first);
    for (let k = 0; k < n; k++) job.fill(first + k, buf, k * tileValues);
    // A dynamic batch runs only the real tiles; a fixed batch is zero-filled.
    const rows = ms.fixedBatch ? batchSize : n;
    if (ms.fixedBatch && n < batchSize) buf.fill(0, n * tileValues);
    cpuMs += performance.now() - c0;
    return { data: rows === batchSize ? buf : buf.subarray(0, rows * tileValues), dims: [rows, t, t, inChannels] };
  };
  // Batch b runs on session b mod lanes; its buffer travels to that session's thread and back with the
  // outputs, into the same slot.
  const run = (b: number, input: { data: Float32Array; dims: number[] }) => ms.sessions[b % lanes].run(inputName, input.data, input.dims, headNames, { transfer: true })
    .then((r) => {
      buffers[b % buffers.length] = r.input;
      return r.outputs;
    });

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
  const running = new Map<number, Promise<Record<string, HostedOutput>>>();
  for (let b = 0; b < Math.min(lanes, batches); b++) running.set(b, run(b, prepare(b)));
  try {
    for (let b = 0; b < batches; b++) {
      // Buffer (b + lanes) mod (lanes + 1) is free: the batch that last used it was taken.
      const next = b + lanes;
      const nextInput = next < batches ? prepare(next) : undefined;
      const out = await running.get(b)!;
      running.delete(b);
      if (nextInput) {
        throwIfAborted(job.signal);
        running.set(next, run(next, nextInput)); // on the session b ran on, free now
      }
      take(out, b);
      if (job.afterTake) await job.afterTake(Math.min((b + 1) * batchSize, job.count));
      job.onProgress?.(Math.min((b + 1) * batchSize, job.count), job.count);
    }
  } catch (e) {
    // Do not leave runs writing into buffers we drop; their results are discarded.
    await Promise.all([...running.values()].map((r) => r.catch(() => undefined)));
    throw e;
  }
  return { batchSize, cpuS: cpuMs / 1000 };
}

/**
 * Rows of a streamed head held at once: a tile's height plus a stride for every tile row past the
 * first that one batch can reach into (the band starts at the first tile row not finished), so no
 * tile in flight ever writes outside the band not yet handed over.
 */
function ringRows(grid: TileGrid, batchSize: number): number {
  const stride = grid.rows.count > 1 ? grid.rows.starts[1] - grid.rows.starts[0] : grid.tileSize;
  return Math.min(grid.height, grid.tileSize + stride * Math.ceil(batchSize / grid.cols.count));
}

/** Output rows no tile from index `next` on adds to: those above the first unblended tile's row. */
function finishedRows(grid: TileGrid, next: number): number {
  if (next >= grid.count) return grid.height;
  const rowOffset = grid.rows.zeroPad[0] + grid.rows.reflectPad[0];
  return Math.max(0, Math.min(grid.height, grid.rows.starts[Math.trunc(next / grid.cols.count)] - rowOffset));
}

/** Interleaves H×W planes into one H×W×C array. */
function interleave(planes: Float32Array[], pixels: number): Float32Array {
  const c = planes.length;
  const out = new Float32Array(pixels * c);
  planes.forEach((p, k) => { for (let i = 0, j = k; i < pixels; i++, j += c) out[j] = p[i]; });
  return out;
}

/** Mesmer normalisation with one worker thread per channel, so the caller's event loop stays free. */
async function normalizeOnWorkers(planeOf: (c: number) => Float32Array, width: number, height: number, channels: number, opts: MesmerNormalizeOptions, signal?: AbortSignal): Promise<NormalizedPlane[]> {
  const modulePath = join(__dirname, 'normalize');
  return Promise.all(Array.from({ length: channels }, (_, c) => {
    const own = planeOf(c);
    // A plane sharing its buffer (a view) is copied so only its own pixels move to the thread.
    const plane = own.byteOffset === 0 && own.byteLength === own.buffer.byteLength ? own : own.slice();
    return runInWorker<NormalizedPlane>(modulePath, 'mesmerNormalizeLevels', [plane, width, height, { ...opts, releaseInput: true }], { transfer: [plane.buffer as ArrayBuffer], signal });
  }));
}

/** Rejects with the signal's reason once it is aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(`aborted: ${String(signal.reason ?? 'cancelled')}`);
}
