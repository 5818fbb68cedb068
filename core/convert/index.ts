import { ConfigError, ImageTooLargeError } from '../errors';
import { openImage, resolveChannels, type ImageSource } from '../formats/image';
import type { Plane } from '../formats/ndarray';
import { NpzWriter } from '../formats/npz-stream';
import { storeFor } from '../storage';
import { defaultChannels } from './default-channels';

/**
 * OME-TIFF → Mesmer input: the chosen nuclear channels and membrane channels, each combined
 * (float32 sum or max), interleaved as H×W×2 float32 in an NPZ holding exactly one array,
 * `input_channels`, plus a JSON sidecar saying where it came from. Both files are written atomically,
 * NPZ last-but-one and sidecar last, and nothing is written when anything fails.
 */

/** Largest image {@link convert} accepts (pixels). H×W×2 float32 plus one source plane must fit in memory. */
export const MAX_CONVERT_PIXELS = 1_000_000_000;

export interface ConvertOptions {
  imageUri: string;
  outUri: string;
  /** Names or 0-based indices, combined. Empty or absent: a known nuclear stain (see {@link defaultChannels}). */
  nuclearChannels?: (string | number)[];
  /** Names or 0-based indices, combined. Empty or absent: the known membrane stains. */
  membraneChannels?: (string | number)[];
  /** How several channels of one kind combine. @default 'sum' */
  combine?: 'sum' | 'max';
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /** Refuse images with more pixels than this. @default MAX_CONVERT_PIXELS */
  maxPixels?: number;
}

export interface ConvertOutcome {
  width: number;
  height: number;
  umPerPixel?: number;
  calibrated: boolean;
  nuclear: string[];
  membrane: string[];
  sidecarUri: string;
  bytes: number;
  /** What the reader noticed about the input (unusable OME-XML, no calibration…), also kept in the sidecar. */
  warnings: string[];
}

/** The sidecar's URI: the NPZ URI with `.npz` replaced by `.json`. */
export function sidecarUriFor(outUri: string): string {
  return outUri.endsWith('.npz') ? `${outUri.slice(0, -4)}.json` : `${outUri}.json`;
}

/** Adds (or maxes) one channel into interleaved slot `slot` of the H×W×2 output. */
function accumulate(out: Float32Array, src: ArrayLike<number>, slot: number, combine: 'sum' | 'max', first: boolean): void {
  const n = src.length;
  if (first) {
    for (let i = 0; i < n; i++) out[2 * i + slot] = src[i];
  } else if (combine === 'sum') {
    for (let i = 0; i < n; i++) out[2 * i + slot] += src[i];
  } else {
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (v > out[2 * i + slot]) out[2 * i + slot] = v;
    }
  }
}

/**
 * Converts an image to Mesmer's NPZ input and writes the sidecar.
 * @throws ChannelNotFoundError (lists available names), ImageTooLargeError (before allocating),
 *   InvalidImageError / UnsupportedFormatError from the reader, ConfigError for bad options.
 */
export async function convert(opts: ConvertOptions): Promise<ConvertOutcome> {
  const combine = opts.combine ?? 'sum';
  if (combine !== 'sum' && combine !== 'max') throw new ConfigError(`--combine must be 'sum' or 'max', got '${String(combine)}'`);
  if (!opts.outUri.endsWith('.npz')) throw new ConfigError(`output must end in .npz, got '${opts.outUri}'`);
  const src: ImageSource = await openImage(opts.imageUri);
  try {
    const { info } = src;
    const defaults = defaultChannels(info.channels);
    const nuclear = opts.nuclearChannels?.length ? resolveChannels(info, opts.nuclearChannels) : defaults.nuclear;
    const membrane = opts.membraneChannels?.length ? resolveChannels(info, opts.membraneChannels) : defaults.membrane;
    const pixels = info.width * info.height;
    const limit = opts.maxPixels ?? MAX_CONVERT_PIXELS;
    if (pixels > limit) {
      throw new ImageTooLargeError(opts.imageUri, `${info.width}×${info.height} (${(pixels / 1e6).toFixed(0)} megapixels) exceeds the conversion limit of ${(limit / 1e6).toFixed(0)} megapixels (needs ${((pixels * 8) / 2 ** 30).toFixed(1)} GiB for the H×W×2 float32 array)`);
    }
    const out = new Float32Array(pixels * 2);
    const steps = [...nuclear.map((c) => [c, 0] as const), ...membrane.map((c) => [c, 1] as const)];
    let done = 0;
    let last: Plane['data'] | undefined; // each channel is decoded into the last one's array
    for (const [slot, list] of [[0, nuclear], [1, membrane]] as const) {
      for (let k = 0; k < list.length; k++) {
        opts.signal?.throwIfAborted();
        const plane = await src.readChannel(list[k], { into: last });
        last = plane.data;
        accumulate(out, plane.data as ArrayLike<number>, slot, combine, k === 0);
        opts.onProgress?.(++done / (steps.length + 1));
      }
    }
    last = undefined;
    opts.signal?.throwIfAborted();
    // Written straight from the array into the file (no in-memory copy of the archive).
    const npz = await NpzWriter.create(opts.outUri, [{ name: 'input_channels', dtype: 'float32', shape: [info.height, info.width, 2] }]);
    try {
      await npz.append('input_channels', out);
    } catch (e) {
      await npz.abort();
      throw e;
    }
    const umPerPixel = info.calibrated ? info.physicalSizeX : undefined;
    const sidecarUri = sidecarUriFor(opts.outUri);
    const sidecar = {
      source: opts.imageUri,
      width: info.width,
      height: info.height,
      nuclearChannels: nuclear.map((i) => ({ index: i, name: info.channels[i] })),
      membraneChannels: membrane.map((i) => ({ index: i, name: info.channels[i] })),
      combine,
      dtype: info.dtype,
      umPerPixel: umPerPixel ?? null,
      physicalSizeX: info.physicalSizeX ?? null,
      physicalSizeY: info.physicalSizeY ?? null,
      calibrated: info.calibrated,
      warnings: info.warnings,
      array: { name: 'input_channels', shape: [info.height, info.width, 2], dtype: 'float32', channels: ['nuclear', 'membrane'] },
    };
    const store = storeFor(opts.outUri);
    await npz.commit();
    try {
      await storeFor(sidecarUri).writeAtomic(sidecarUri, JSON.stringify(sidecar, null, 2) + '\n');
    } catch (err) {
      // Keep the pair consistent: an NPZ without its sidecar is removed.
      await store.delete(opts.outUri).catch(() => undefined);
      throw err;
    }
    opts.onProgress?.(1);
    return {
      width: info.width, height: info.height, umPerPixel, calibrated: info.calibrated,
      nuclear: nuclear.map((i) => info.channels[i]), membrane: membrane.map((i) => info.channels[i]),
      sidecarUri, bytes: npz.bytes, warnings: info.warnings,
    };
  } finally {
    await src.close();
  }
}
