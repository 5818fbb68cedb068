import { InvalidArrayError } from '../errors';
import type { NdArray } from '../formats/ndarray';
import { writeNpz } from '../formats/npz';
import { NpzFile, NpzWriter } from '../formats/npz-stream';
import { storeFor } from '../storage';
import { cachedCollection } from './model-cache';
import { predictArray, throwIfAborted, type PredictTimings } from './pipeline';
import type { InferenceDevice, InferenceModel } from './session';

export interface PredictOptions {
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
  cpuThreads?: number;
  /** Deflate the NPZ. @default false — raw predictions are 32 bytes/pixel of noisy floats that deflate poorly and slowly; uncompressed writes at disk speed. */
  compress?: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface PredictOutcome {
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
 * The predict stage on files: reads `input_channels` from the NPZ channel by channel (and `umPerPixel`
 * from the sidecar `<name>.json` next to it, if any), loads the model collection (cached per URI and
 * generation), runs {@link predictArray} and writes `raw_predictions.npz` with `arr_0`…`arr_3` in
 * Mesmer's shapes (1,H,W,1), (1,H,W,3), (1,H,W,1), (1,H,W,3), atomically — as the heads' rows are
 * finished, so memory holds a band of the heads rather than all four (32 bytes/pixel).
 *
 * @throws InvalidArrayError when the NPZ lacks `input_channels` or it is not H×W×2 float32.
 */
export async function predict(opts: PredictOptions): Promise<PredictOutcome> {
  const tIn = performance.now();
  // Channel by channel, straight from the file: no interleaved copy of the image is made.
  const npz = await NpzFile.open(opts.npzUri);
  let channels: Float32Array[];
  let width: number, height: number;
  try {
    const input = npz.info('input_channels');
    if (!input) throw new InvalidArrayError(opts.npzUri, `no array 'input_channels' (found: ${npz.arrays.map((a) => a.name).join(', ') || 'none'})`);
    const shape = input.shape.length === 4 && input.shape[0] === 1 ? input.shape.slice(1) : input.shape;
    if (input.dtype !== 'float32' || shape.length !== 3 || shape[2] !== 2 || shape[0] < 1 || shape[1] < 1) {
      throw new InvalidArrayError(opts.npzUri, `'input_channels' must be H×W×2 float32, got ${input.dtype} (${input.shape.join(', ')})`);
    }
    [height, width] = shape;
    channels = [];
    for (let c = 0; c < 2; c++) channels.push((await npz.readChannel('input_channels', c)).data as Float32Array);
  } finally {
    await npz.close();
  }
  const umPerPixel = opts.umPerPixel ?? (await sidecarUmPerPixel(opts.npzUri));
  const inputLoadS = (performance.now() - tIn) / 1000;
  throwIfAborted(opts.signal);

  const tModel = performance.now();
  const model = opts.model ?? (await cachedCollection(opts.modelUri));
  const collectionS = (performance.now() - tModel) / 1000;

  // Stored NPZs are written as the rows of the heads are finished, so the four heads (32 bytes/pixel)
  // are never held whole; a deflated one needs each head whole in turn.
  let writer: NpzWriter | undefined;
  let whole: Float32Array[] | undefined;
  let writeS = 0;
  let headChannels: number[] | undefined;
  const onRows = async (y0: number, y1: number, rows: Float32Array[]) => {
    const t = performance.now();
    if (!headChannels) {
      headChannels = rows.map((r) => r.length / ((y1 - y0) * width));
      if (opts.compress) whole = headChannels.map((c) => new Float32Array(width * height * c));
      else writer = await NpzWriter.create(opts.outUri, headChannels.map((c, k) => ({ name: `arr_${k}`, dtype: 'float32' as const, shape: [1, height, width, c] })));
    }
    if (whole) rows.forEach((r, k) => whole![k].set(r, y0 * width * headChannels![k]));
    if (writer) for (let k = 0; k < rows.length; k++) await writer.append(`arr_${k}`, rows[k]);
    writeS += (performance.now() - t) / 1000;
  };
  let r: Awaited<ReturnType<typeof predictArray>>;
  try {
    r = await predictArray({
      channels, width, height, umPerPixel, model, batchSize: opts.batchSize, device: opts.device,
      cpuThreads: opts.cpuThreads, signal: opts.signal, onProgress: opts.onProgress, onRows,
    });
    throwIfAborted(opts.signal);
  } catch (e) {
    await writer?.abort();
    throw e;
  }

  const tOut = performance.now();
  if (writer) {
    await writer.commit();
  } else {
    const out: Record<string, NdArray> = {};
    whole!.forEach((data, k) => {
      out[`arr_${k}`] = { data, shape: [1, height, width, r.headChannels[k]], dtype: 'float32' };
    });
    await writeNpz(opts.outUri, out, { compress: true });
  }
  const outputWriteS = (performance.now() - tOut) / 1000 + writeS;
  const md = model.metadata;
  return {
    width, height, umPerPixel, tiles: r.tiles, batchSize: r.batchSize, modelName: md.name, modelVersion: md.version, modelSha256: model.sha256,
    timings: { ...r.timings, modelLoadS: r.timings.modelLoadS + collectionS, inputLoadS, outputWriteS },
  };
}

/** `umPerPixel` from the `<name>.json` sidecar that convert writes next to the NPZ, when present and valid. */
export async function sidecarUmPerPixel(npzUri: string): Promise<number | undefined> {
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
