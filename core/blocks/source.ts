import { defaultChannels } from '../convert/default-channels';
import { ConfigError, InvalidArrayError } from '../errors';
import { openImage, resolveChannels, type ImageSource } from '../formats/image';
import { readNpz } from '../formats/npz';
import { sidecarUmPerPixel } from '../predict';
import type { Rect } from './grid';

/** Which channels make Mesmer's two inputs, as `RunSettings['channels']` says it. */
export interface ChannelPlan {
  nuclear?: (string | number)[];
  membrane?: (string | number)[];
  combine?: 'sum' | 'max';
}

/**
 * Mesmer's two input planes (nuclear, membrane) read by region: from an OME-TIFF (or anything
 * `openImage` reads) the chosen channels combined exactly as `tessel convert` combines them (float32,
 * channel by channel in the same order), or from an NPZ intermediate's `input_channels`.
 */
export interface BlockInput {
  readonly uri: string;
  readonly width: number;
  readonly height: number;
  /** µm/pixel from the image's metadata (absent when uncalibrated or from an NPZ without a sidecar value). */
  readonly umPerPixel?: number;
  /** Names of the channels behind each input, for messages and records. */
  readonly nuclear: string[];
  readonly membrane: string[];
  /** The two planes over `rect` (row-major float32 each). */
  readPlanes(rect: Rect): Promise<[Float32Array, Float32Array]>;
  /**
   * The two planes at pyramid level `level` (whole plane; for the tissue check), with that level's size;
   * undefined when the source has no such level.
   */
  readLevel(level: number): Promise<{ planes: [Float32Array, Float32Array]; width: number; height: number } | undefined>;
  readonly levels: number;
  close(): Promise<void>;
}

/**
 * Opens the blockwise input: an `.npz` (Mesmer's intermediate, held in memory: 8 bytes/pixel) or an image
 * read region by region (memory set by the region).
 */
export async function openBlockInput(uri: string, channels: ChannelPlan = {}): Promise<BlockInput> {
  if (uri.endsWith('.npz')) return npzInput(uri);
  const src = await openImage(uri);
  try {
    const { info } = src;
    const defaults = defaultChannels(info.channels);
    const nuclear = channels.nuclear?.length ? resolveChannels(info, channels.nuclear) : defaults.nuclear;
    const membrane = channels.membrane?.length ? resolveChannels(info, channels.membrane) : defaults.membrane;
    const combine = channels.combine ?? 'sum';
    if (combine !== 'sum' && combine !== 'max') throw new ConfigError(`channel combine must be 'sum' or 'max', got '${String(combine)}'`);
    return new ImageInput(src, nuclear, membrane, combine);
  } catch (e) {
    await src.close().catch(() => undefined);
    throw e;
  }
}

class ImageInput implements BlockInput {
  readonly uri: string;
  readonly width: number;
  readonly height: number;
  readonly umPerPixel?: number;
  readonly nuclear: string[];
  readonly membrane: string[];
  readonly levels: number;

  constructor(private readonly src: ImageSource, private readonly nuclearIdx: number[], private readonly membraneIdx: number[], private readonly combine: 'sum' | 'max') {
    const { info } = src;
    this.uri = info.uri;
    this.width = info.width;
    this.height = info.height;
    this.umPerPixel = info.calibrated ? info.physicalSizeX : undefined;
    this.nuclear = nuclearIdx.map((i) => info.channels[i]);
    this.membrane = membraneIdx.map((i) => info.channels[i]);
    this.levels = info.levels;
  }

  async readPlanes(rect: Rect): Promise<[Float32Array, Float32Array]> {
    return [await this.combined(this.nuclearIdx, 0, rect), await this.combined(this.membraneIdx, 0, rect)];
  }

  async readLevel(level: number): Promise<{ planes: [Float32Array, Float32Array]; width: number; height: number } | undefined> {
    if (level >= this.levels) return undefined;
    const { width, height } = await this.src.levelSize(level);
    const whole = { x: 0, y: 0, width, height };
    return { planes: [await this.combined(this.nuclearIdx, level, whole), await this.combined(this.membraneIdx, level, whole)], width, height };
  }

  /** As convert's `accumulate`: the first channel as float32, then each next one added (or maxed) in float32. */
  private async combined(indices: number[], level: number, region: Rect): Promise<Float32Array> {
    const out = new Float32Array(region.width * region.height);
    for (let k = 0; k < indices.length; k++) {
      const data = (await this.src.readChannel(indices[k], { level, region })).data as ArrayLike<number>;
      if (k === 0) for (let i = 0; i < out.length; i++) out[i] = data[i];
      else if (this.combine === 'sum') for (let i = 0; i < out.length; i++) out[i] += data[i];
      else for (let i = 0; i < out.length; i++) if (data[i] > out[i]) out[i] = data[i];
    }
    return out;
  }

  close(): Promise<void> {
    return this.src.close();
  }
}

async function npzInput(uri: string): Promise<BlockInput> {
  const arrays = await readNpz(uri);
  const a = arrays.get('input_channels');
  if (!a) throw new InvalidArrayError(uri, `no array 'input_channels' (found: ${[...arrays.keys()].join(', ') || 'none'})`);
  const shape = a.shape.length === 4 && a.shape[0] === 1 ? a.shape.slice(1) : a.shape;
  if (a.dtype !== 'float32' || shape.length !== 3 || shape[2] !== 2) {
    throw new InvalidArrayError(uri, `'input_channels' must be H×W×2 float32, got ${a.dtype} (${a.shape.join(', ')})`);
  }
  const [height, width] = shape;
  const data = a.data as Float32Array;
  const plane = (rect: Rect, c: number): Float32Array => {
    const out = new Float32Array(rect.width * rect.height);
    for (let y = 0; y < rect.height; y++) {
      let s = ((rect.y + y) * width + rect.x) * 2 + c;
      const row = y * rect.width;
      for (let x = 0; x < rect.width; x++, s += 2) out[row + x] = data[s];
    }
    return out;
  };
  return {
    uri, width, height, umPerPixel: await sidecarUmPerPixel(uri), nuclear: ['input_channels[0]'], membrane: ['input_channels[1]'], levels: 1,
    readPlanes: async (rect) => [plane(rect, 0), plane(rect, 1)],
    readLevel: async (level) => (level === 0 ? { planes: [plane({ x: 0, y: 0, width, height }, 0), plane({ x: 0, y: 0, width, height }, 1)], width, height } : undefined),
    close: async () => undefined,
  };
}

