import { ConfigError, UnsupportedFormatError } from '../errors';
import { writeLabelMask } from './tiff-write';

/**
 * Label masks written region by region, for images too large to hold one mask in memory (blockwise
 * runs): the caller hands over tile-aligned rectangles in any order, then commits, and the file
 * appears at its URI atomically (or not at all on abort).
 */
export type MaskFormat = 'ome-tiff' | 'ome-zarr';

export interface MaskWriterOptions {
  width: number;
  height: number;
  /** Tile edge in pixels (a multiple of 16); region writes are aligned to it. @default 512 */
  tileSize?: number;
  /** @default 'ome-tiff' */
  format?: MaskFormat;
  /** µm per pixel, recorded in the file's metadata when known. */
  umPerPixel?: number;
  /** The image's name, for the file's metadata. */
  name?: string;
}

export interface MaskWriter {
  readonly width: number;
  readonly height: number;
  readonly tileSize: number;
  /**
   * Writes one rectangle of labels (row-major int32, `width × height` values). `x` and `y` are
   * multiples of the tile size; `width` and `height` are too, or reach the image's edge. Regions may
   * come in any order; each pixel is written once.
   */
  writeRegion(x: number, y: number, width: number, height: number, labels: Int32Array): Promise<void>;
  /** Finishes the file and publishes it at its URI atomically. Rejects when part of the image was never written. */
  commit(): Promise<void>;
  /** Drops what was written; nothing appears at the URI. */
  abort(): Promise<void>;
}

/**
 * Opens a mask writer. This implementation gathers the regions into one int32 plane and writes a tiled
 * (BigTIFF past 4 GiB) label-mask TIFF on commit.
 * @throws ConfigError for a size or tile edge that is not valid; UnsupportedFormatError for a format not written here.
 */
export async function openMaskWriter(uri: string, opts: MaskWriterOptions): Promise<MaskWriter> {
  const { width, height } = opts;
  const tileSize = opts.tileSize ?? 512;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new ConfigError(`mask size ${width}×${height} is not valid`, { file: uri });
  if (!Number.isInteger(tileSize) || tileSize < 16 || tileSize % 16 !== 0) throw new ConfigError(`mask tile size must be a multiple of 16, got ${tileSize}`, { file: uri });
  if ((opts.format ?? 'ome-tiff') !== 'ome-tiff') throw new UnsupportedFormatError(uri, `mask format '${opts.format}' is not written by this writer`);
  const plane = new Int32Array(width * height);
  const written = new Uint8Array(Math.ceil(width / tileSize) * Math.ceil(height / tileSize));
  const tilesAcross = Math.ceil(width / tileSize);
  let closed = false;
  return {
    width, height, tileSize,
    async writeRegion(x, y, w, h, labels) {
      if (closed) throw new ConfigError('mask writer is closed', { file: uri });
      const aligned = x % tileSize === 0 && y % tileSize === 0 && (w % tileSize === 0 || x + w === width) && (h % tileSize === 0 || y + h === height);
      if (!aligned || x < 0 || y < 0 || w < 1 || h < 1 || x + w > width || y + h > height || labels.length !== w * h) {
        throw new ConfigError(`region x=${x} y=${y} ${w}×${h} (${labels.length} values) is not a tile-aligned part of the ${width}×${height} mask (tile ${tileSize})`, { file: uri });
      }
      for (let r = 0; r < h; r++) plane.set(labels.subarray(r * w, (r + 1) * w), (y + r) * width + x);
      for (let ty = y / tileSize; ty < Math.ceil((y + h) / tileSize); ty++) {
        for (let tx = x / tileSize; tx < Math.ceil((x + w) / tileSize); tx++) written[ty * tilesAcross + tx] = 1;
      }
    },
    async commit() {
      if (closed) throw new ConfigError('mask writer is closed', { file: uri });
      const missing = written.indexOf(0);
      if (missing >= 0) {
        throw new ConfigError(`mask tile ${missing % tilesAcross},${Math.floor(missing / tilesAcross)} was never written`, { file: uri });
      }
      closed = true;
      await writeLabelMask(uri, { data: plane, width, height }, { tileSize });
    },
    async abort() {
      closed = true;
    },
  };
}
