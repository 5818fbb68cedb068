import { ChannelNotFoundError, ConfigError, InvalidImageError, UnsupportedFormatError, isTesselError } from '../errors';
import { storeFor, type RangeReader } from '../storage';
import type { DType, Plane, TypedArray } from './ndarray';
import { TiffFile } from './tiff-ifd';
import { layoutOf, type TiffLayout } from './tiff-layout';
import { parsePage, readPageRegion, type TiffPage } from './tiff-page';
import { isZarrUri, looksLikeZarr, openZarrImage } from './zarr/source';

/**
 * The image reader: OME-TIFF, ImageJ and plain TIFF/BigTIFF through one interface, read by byte
 * range through the storage layer so regions of images larger than memory can be streamed.
 */

export interface ImageInfo {
  uri: string;
  width: number;
  height: number;
  /** Channel names in order (OME `Channel Name`, else `Channel <i>`). */
  channels: string[];
  /** numpy-style sample type of the file (`uint16`, `float32`…). */
  dtype: DType;
  /** µm per pixel along x and y; absent when the file carries no calibration. */
  physicalSizeX?: number;
  physicalSizeY?: number;
  calibrated: boolean;
  /** Pyramid levels (1 = full resolution only). */
  levels: number;
  tiled: boolean;
  /** `none`, `lzw`, `deflate`, `packbits` or `zstd`. */
  compression: string;
  bigtiff: boolean;
  dimensionOrder?: string;
  /** Things a user should know (no calibration, ignored pages, z/t planes skipped…). */
  warnings: string[];
  /** Container: `tiff` (OME-TIFF, ImageJ, plain TIFF) or `ome-zarr`; absent means `tiff`. */
  format?: 'tiff' | 'ome-zarr';
  /** OME-Zarr only: the NGFF version (`0.4`, `0.5`) and Zarr format (2, 3) of the image. */
  ngffVersion?: string;
  zarrFormat?: 2 | 3;
  /** OME-Zarr only: the chunk edge along x and y of level 0. */
  chunkSize?: { width: number; height: number };
}

export interface ReadChannelOptions {
  /** Pyramid level, 0 = full resolution (default). */
  level?: number;
  /** Window in the chosen level's pixel coordinates; default the whole plane. */
  region?: { x: number; y: number; width: number; height: number };
  /**
   * An array to decode into, overwritten, when it has the file's dtype and the region's size (e.g. the
   * previous channel's, no longer needed): no new plane, and no garbage plane per channel read.
   */
  into?: TypedArray;
}

export interface ImageSource {
  info: ImageInfo;
  /** Reads one channel (or a window of it) in the file's dtype, decoding only the tiles it touches. */
  readChannel(index: number, opts?: ReadChannelOptions): Promise<Plane>;
  /** Width and height of a pyramid level. */
  levelSize(level: number): Promise<{ width: number; height: number }>;
  close(): Promise<void>;
}

class TiffImageSource implements ImageSource {
  private readonly pages = new Map<number, Promise<TiffPage>>();

  constructor(readonly info: ImageInfo, private readonly tf: TiffFile, private readonly layout: TiffLayout, private readonly reader: RangeReader) {
    this.pages.set(layout.first.offset, Promise.resolve(layout.first));
  }

  private page(offset: number): Promise<TiffPage> {
    let p = this.pages.get(offset);
    if (!p) {
      p = this.tf.readIfd(offset).then((ifd) => parsePage(this.tf, ifd));
      this.pages.set(offset, p);
    }
    return p;
  }

  async levelSize(level: number): Promise<{ width: number; height: number }> {
    this.checkLevel(level);
    const p = await this.page(this.layout.channels[0].levels[level]);
    return { width: p.width, height: p.height };
  }

  private checkLevel(level: number): void {
    if (!Number.isInteger(level) || level < 0 || level >= this.info.levels) {
      throw new ConfigError(`pyramid level ${level} requested; the image has ${this.info.levels} level(s) (0–${this.info.levels - 1})`, { file: this.info.uri });
    }
  }

  async readChannel(index: number, opts: ReadChannelOptions = {}): Promise<Plane> {
    if (!Number.isInteger(index) || index < 0 || index >= this.layout.channels.length) {
      throw new ChannelNotFoundError(this.info.uri, String(index), this.info.channels);
    }
    const level = opts.level ?? 0;
    this.checkLevel(level);
    const ref = this.layout.channels[index];
    const page = await this.page(ref.levels[level]);
    if (page.dtype !== this.info.dtype) throw new UnsupportedFormatError(this.info.uri, `level ${level} of channel ${index} is ${page.dtype}, level 0 is ${this.info.dtype}`);
    const region = opts.region ?? { x: 0, y: 0, width: page.width, height: page.height };
    const { x, y, width, height } = region;
    if (![x, y, width, height].every(Number.isInteger) || x < 0 || y < 0 || width < 1 || height < 1 || x + width > page.width || y + height > page.height) {
      throw new ConfigError(`region x=${x} y=${y} ${width}×${height} is outside the ${page.width}×${page.height} image (level ${level})`, { file: this.info.uri });
    }
    const data = await readPageRegion(this.tf, page, ref.sample, region, opts.into);
    return { data, width, height };
  }

  close(): Promise<void> {
    return this.reader.close();
  }
}

/**
 * Opens an image by URI (local path or gs://) and reads its structure and metadata; pixels are read
 * later, by channel and region. A URI ending in `.zarr` (or a folder holding Zarr metadata) opens as
 * OME-Zarr (core/formats/zarr), anything else as TIFF.
 * @throws InvalidImageError for empty, truncated, corrupt or non-TIFF files, and OME-Zarr images with
 *   missing or malformed metadata; UnsupportedFormatError for valid files using a compression or
 *   sample type Tessel does not read; NotFoundError when the file does not exist.
 */
export async function openImage(uri: string): Promise<ImageSource> {
  if (isZarrUri(uri)) return openZarrImage(uri);
  let reader: RangeReader;
  try {
    reader = await storeFor(uri).openRange(uri);
  } catch (e) {
    // A folder (local) or a prefix with no object (gs://) may still be an OME-Zarr not named *.zarr.
    if (isTesselError(e) && (e.code === 'NOT_FOUND' || e.code === 'INVALID_IMAGE') && await looksLikeZarr(uri)) return openZarrImage(uri);
    throw e;
  }
  return openImageReader(reader, uri);
}

/**
 * {@link openImage} for a TIFF over an open range reader (closed with the source, or here when opening
 * fails); `uri` names the file in messages.
 */
export async function openImageReader(reader: RangeReader, uri: string): Promise<ImageSource> {
  try {
    const tf = await TiffFile.open(reader, uri);
    const layout = await layoutOf(tf);
    const levels = Math.min(...layout.channels.map((c) => c.levels.length));
    for (const c of layout.channels) c.levels.length = levels;
    const info: ImageInfo = {
      uri,
      width: layout.first.width,
      height: layout.first.height,
      channels: layout.channelNames,
      dtype: layout.dtype,
      physicalSizeX: layout.physicalSizeX,
      physicalSizeY: layout.physicalSizeY,
      calibrated: layout.physicalSizeX !== undefined,
      levels,
      tiled: layout.first.tiled,
      compression: layout.first.compressionName,
      bigtiff: tf.bigtiff,
      dimensionOrder: layout.dimensionOrder,
      warnings: layout.warnings,
    };
    return new TiffImageSource(info, tf, layout, reader);
  } catch (err) {
    await reader.close().catch(() => undefined);
    if (isTesselError(err)) throw err;
    // Anything unexpected from a malformed file still becomes one clear, non-retryable message.
    throw new InvalidImageError(uri, `cannot read the image structure: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Resolves channel specs to 0-based indices: a number or an all-digit string is an index; a name
 * matches exactly first, then case-insensitively (when that is unambiguous).
 * @throws ChannelNotFoundError listing the available names.
 */
export function resolveChannels(info: ImageInfo, specs: (string | number)[]): number[] {
  return specs.map((spec) => {
    if (typeof spec === 'number') {
      if (Number.isInteger(spec) && spec >= 0 && spec < info.channels.length) return spec;
      throw new ChannelNotFoundError(info.uri, String(spec), info.channels);
    }
    const name = spec.trim();
    const exact = info.channels.indexOf(name);
    if (exact >= 0) return exact;
    const lower = name.toLowerCase();
    const loose = info.channels.flatMap((c, i) => (c.toLowerCase() === lower ? [i] : []));
    if (loose.length === 1) return loose[0];
    if (/^\d+$/.test(name)) {
      const i = Number(name);
      if (i < info.channels.length) return i;
    }
    throw new ChannelNotFoundError(info.uri, name, info.channels);
  });
}

export interface LabelMaskReadOptions {
  /** Only this rectangle (blockwise quantify reads a block's window). */
  region?: { x: number; y: number; width: number; height: number };
  /** The image the mask belongs to: a mask of another size is refused. */
  imageSize?: { width: number; height: number };
}

/**
 * Reads a single-channel label mask (uint8/int8/uint16/int16/int32/uint32), or a region of it, as Int32Array.
 * @throws InvalidImageError when the file has several channels, labels beyond int32 or another size than `imageSize`.
 */
export async function readLabelMask(uri: string, opts: LabelMaskReadOptions = {}): Promise<Plane<Int32Array>> {
  const src = await openImage(uri);
  try {
    const { info } = src;
    if (info.channels.length !== 1) throw new InvalidImageError(uri, `a label mask must have one channel, this file has ${info.channels.length}`);
    if (info.dtype.startsWith('float')) throw new UnsupportedFormatError(uri, `a label mask must hold integers, this file holds ${info.dtype}`);
    const size = opts.imageSize;
    if (size && (info.width !== size.width || info.height !== size.height)) throw new InvalidImageError(uri, `mask is ${info.width}×${info.height} but the image is ${size.width}×${size.height}`);
    const plane = await src.readChannel(0, { region: opts.region });
    if (plane.data instanceof Int32Array) return plane as Plane<Int32Array>;
    const out = new Int32Array(plane.data.length);
    const d = plane.data as ArrayLike<number>;
    for (let i = 0; i < d.length; i++) {
      if (d[i] > 0x7fffffff) throw new InvalidImageError(uri, `label ${d[i]} does not fit in int32`);
      out[i] = d[i];
    }
    return { data: out, width: plane.width, height: plane.height };
  } finally {
    await src.close();
  }
}
