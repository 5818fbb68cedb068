import { join } from 'node:path';
import { InvalidArrayError, ModelContractError, NotFoundError } from '../errors';
import type { NdArray } from '../formats/ndarray';
import { readNpz, writeNpz } from '../formats/npz';
import { HeadMeaning } from '../model/metadata';
import { runInWorker } from '../parallel/run-in-worker';
import { storeFor } from '../storage';
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

/** The pipelined batch loop: extract k+1 while k runs; blend k while k+1 runs. */
async function runTiles(ms: ModelSession, grid: TileGrid, source: TileSource, headNames: string[], headChannels: number[], opts: PredictArrayOptions): Promise<{ heads: Float32Array[]; batchSize: number; cpuS: number }> {
  const t = grid.tileSize;
  const inChannels = ms.inputChannels;
  const batchSize = ms.fixedBatch ?? Math.max(1, Math.trunc(opts.batchSize ?? DEFAULT_BATCH_SIZE));
  const batches = Math.ceil(grid.count / batchSize);
  const tileValues = t * t * inChannels;
  const buffers: Float32Array[] = [new Float32Array(batchSize * tileValues), new Float32Array(batchSize * tileValues)];
  const heads = headChannels.map((c) => new Float32Array(grid.width * grid.height * c));
  const inputName = ms.model.metadata.input.name;
  let cpuMs = 0;

  const prepare = (b: number): { data: Float32Array; dims: number[] } => {
    const c0 = performance.now();
    const buf = buffers[b % 2];
    const first = b * batchSize;
    const n = Math.min(batchSize, grid.count - first);
    for (let k = 0; k < n; k++) {
      if ('planes' in source) extractNormalizedTile(source.planes, grid, first + k, buf, k * tileValues);
      else extractTile(source.image, inChannels, grid, first + k, buf, k * tileValues);
    }
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

  const blend = (out: Record<string, HostedOutput>, b: number) => {
    const c0 = performance.now();
    const first = b * batchSize;
    const n = Math.min(batchSize, grid.count - first);
    headNames.forEach((name, h) => {
      const tensor = out[name];
      const c = headChannels[h];
      const dims = tensor.dims;
      if (tensor.type !== 'float32' || dims.length !== 4 || dims[0] < n || dims[1] !== t || dims[2] !== t || dims[3] !== c) {
        throw new ModelContractError(ms.model.uri, `output '${name}' came back as ${tensor.type} [${dims.join(', ')}], expected float32 [${n}, ${t}, ${t}, ${c}]`);
      }
      const data = tensor.data;
      for (let k = 0; k < n; k++) accumulateTile(data, k * t * t * c, c, grid, first + k, heads[h]);
    });
    cpuMs += performance.now() - c0;
  };

  let running = start(0);
  try {
    for (let b = 0; b < batches; b++) {
      const hasNext = b + 1 < batches;
      // Input buffer (b+1)%2 is free: run b-1 finished before run b started.
      const nextInput = hasNext ? prepare(b + 1) : undefined;
      const out = await running;
      if (hasNext) {
        throwIfAborted(opts.signal);
        running = run(b + 1, nextInput!);
      }
      blend(out, b);
      opts.onProgress?.(Math.min((b + 1) * batchSize, grid.count), grid.count);
    }
  } catch (e) {
    // Do not leave a run writing into buffers we drop; its result is discarded.
    await running.catch(() => undefined);
    throw e;
  }
  return { heads, batchSize, cpuS: cpuMs / 1000 };
}

/** Mesmer normalisation with one worker thread per channel, so the caller's event loop stays free. */
async function normalizeOnWorkers(image: Float32Array, width: number, height: number, channels: number, opts: MesmerNormalizeOptions, signal?: AbortSignal): Promise<NormalizedPlane[]> {
  const modulePath = join(__dirname, 'normalize');
  return Promise.all(Array.from({ length: channels }, (_, c) => {
    const plane = extractChannel(image, channels, c);
    return runInWorker<NormalizedPlane>(modulePath, 'mesmerNormalizeLevels', [plane, width, height, opts], { transfer: [plane.buffer as ArrayBuffer], signal });
  }));
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(`aborted: ${String(signal.reason ?? 'cancelled')}`);
}

export interface PredictFileOptions {
  /** NPZ intermediate with one array `input_channels`, H×W×2 float32. */
  npzUri: string;
  /** Model collection ZIP. */
  modelUri: string;
  /** An already loaded model (e.g. injected into an activity); `modelUri` is then only a label. */
  model?: InferenceModel;
  /** Where `raw_predictions.npz` goes (written atomically). */
  outUri: string;
  /** Overrides the `<name>.json` sidecar's `umPerPixel`. */
  umPerPixel?: number;
  batchSize?: number;
  device?: InferenceDevice;
  intraOpThreads?: number;
  /** Deflate the NPZ. @default false — raw predictions are 32 bytes/pixel of noisy floats that deflate poorly and slowly; uncompressed writes at disk speed. */
  compress?: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface PredictFileResult {
  width: number;
  height: number;
  umPerPixel?: number;
  tiles: number;
  batchSize: number;
  modelName: string;
  modelVersion: string;
  modelSha256: string;
  timings: PredictTimings & { inputLoadS: number; outputWriteS: number };
}

/**
 * The predict stage on files: reads `input_channels` from the NPZ (and `umPerPixel` from the sidecar
 * `<name>.json` next to it, if any), loads the model collection (cached per URI and generation),
 * runs {@link predictArray} and writes `raw_predictions.npz` with `arr_0`…`arr_3` in Mesmer's shapes
 * (1,H,W,1), (1,H,W,3), (1,H,W,1), (1,H,W,3), atomically.
 *
 * @throws InvalidArrayError when the NPZ lacks `input_channels` or it is not H×W×2 float32.
 */
export async function predictFile(opts: PredictFileOptions): Promise<PredictFileResult> {
  const tIn = performance.now();
  const arrays = await readNpz(opts.npzUri);
  const input = arrays.get('input_channels');
  if (!input) throw new InvalidArrayError(opts.npzUri, `no array 'input_channels' (found: ${[...arrays.keys()].join(', ') || 'none'})`);
  const shape = input.shape.length === 4 && input.shape[0] === 1 ? input.shape.slice(1) : input.shape;
  if (input.dtype !== 'float32' || shape.length !== 3 || shape[2] !== 2 || shape[0] < 1 || shape[1] < 1) {
    throw new InvalidArrayError(opts.npzUri, `'input_channels' must be H×W×2 float32, got ${input.dtype} (${input.shape.join(', ')})`);
  }
  const [height, width] = shape;
  const umPerPixel = opts.umPerPixel ?? (await sidecarUmPerPixel(opts.npzUri));
  const inputLoadS = (performance.now() - tIn) / 1000;
  throwIfAborted(opts.signal);

  const tModel = performance.now();
  const model = opts.model ?? (await cachedCollection(opts.modelUri));
  const collectionS = (performance.now() - tModel) / 1000;

  const r = await predictArray({
    input: input.data as Float32Array, width, height, umPerPixel, model, batchSize: opts.batchSize, device: opts.device,
    intraOpThreads: opts.intraOpThreads, signal: opts.signal, onProgress: opts.onProgress,
  });
  throwIfAborted(opts.signal);

  const tOut = performance.now();
  const out: Record<string, NdArray> = {};
  r.heads.forEach((data, k) => {
    out[`arr_${k}`] = { data, shape: [1, height, width, r.headChannels[k]], dtype: 'float32' };
  });
  await writeNpz(opts.outUri, out, { compress: opts.compress ?? false });
  const outputWriteS = (performance.now() - tOut) / 1000;
  const md = model.metadata;
  return {
    width, height, umPerPixel, tiles: r.tiles, batchSize: r.batchSize, modelName: md.name, modelVersion: md.version, modelSha256: model.sha256,
    timings: { ...r.timings, modelLoadS: r.timings.modelLoadS + collectionS, inputLoadS, outputWriteS },
  };
}

/** `umPerPixel` from the `<name>.json` sidecar that convert writes next to the NPZ, when present and valid. */
async function sidecarUmPerPixel(npzUri: string): Promise<number | undefined> {
  if (!npzUri.endsWith('.npz')) return undefined;
  const uri = npzUri.slice(0, -4) + '.json';
  const store = storeFor(uri);
  if (!(await store.stat(uri))) return undefined;
  try {
    const v = (JSON.parse(new TextDecoder().decode(await store.readAll(uri))) as { umPerPixel?: unknown }).umPerPixel;
    return typeof v === 'number' && v > 0 ? v : undefined;
  } catch {
    return undefined; // a broken sidecar is not the NPZ's fault; Mesmer then assumes the model's resolution
  }
}

const collections = new Map<string, Promise<InferenceModel>>();

/** Model collections by URI and storage generation, so a worker reads and verifies each ZIP once. */
async function cachedCollection(uri: string): Promise<InferenceModel> {
  const info = await storeFor(uri).stat(uri);
  if (!info) throw new NotFoundError(uri);
  const key = `${uri}#${info.generation ?? info.size}`;
  let p = collections.get(key);
  if (!p) {
    p = loadCollection(uri);
    collections.set(key, p);
    p.catch(() => collections.delete(key));
  }
  return p;
}

/** D's `loadModelCollection` (core/model/collection.ts), loaded lazily. */
function loadCollection(uri: string): Promise<InferenceModel> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('../model/collection') as { loadModelCollection(uri: string): Promise<InferenceModel> };
  return mod.loadModelCollection(uri);
}
