import { ConfigError, UnsupportedFormatError } from '../errors';
import { MaskPyramid } from './mask-pyramid';
import { openTiffMaskBackend, type MaskBackend } from './mask-tiff-writer';
import { openZarrMaskBackend } from './mask-zarr-writer';

/**
 * Label masks written region by region, for images too large to hold one mask in memory (blockwise
 * runs): the caller hands over tile-aligned rectangles in any order, then commits, and the output
 * appears at its URI atomically (or not at all on abort).
 *
 * Memory is set by the regions in flight and the pyramid's partly covered tiles (core/formats/mask-pyramid.ts),
 * not by the image: each tile is compressed and written to a local staging file or folder as soon as it
 * arrives, and the downsampled levels are built from it at once.
 */
export type MaskFormat = 'ome-tiff' | 'ome-zarr';

export const MASK_FORMATS: readonly MaskFormat[] = ['ome-tiff', 'ome-zarr'];

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
  /** ome-tiff: force BigTIFF (true) or classic TIFF (false); by default BigTIFF when the file could pass 4 GiB ({@link needsBigTiff}). */
  bigtiff?: boolean;
  /** ome-zarr: the label's name under `<uri>/labels/`. @default 'mask' */
  labelName?: string;
  /** ome-zarr: the other labels written into the same root at the same time, from other threads or processes (see `ZarrMaskOptions.listedWith`). */
  listedWith?: string[];
  /** ome-zarr: NGFF 0.4 (Zarr v2) or 0.5 (Zarr v3). @default '0.4' */
  ngffVersion?: '0.4' | '0.5';
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

export { needsBigTiff } from './mask-tiff-writer';
export { pyramidLevels } from './mask-pyramid';

/**
 * Opens a mask writer. `ome-tiff`: `uri` is the TIFF file, tiled int32 Deflate with a SubIFD pyramid.
 * `ome-zarr`: `uri` is the OME-Zarr root (`*.ome.zarr`); the mask becomes the NGFF label
 * `<uri>/labels/<labelName>`, with a pyramid.
 * @throws ConfigError for a size or tile edge that is not valid; UnsupportedFormatError for a format not written here.
 */
export async function openMaskWriter(uri: string, opts: MaskWriterOptions): Promise<MaskWriter> {
  const { width, height } = opts;
  const tileSize = opts.tileSize ?? 512;
  const format = opts.format ?? 'ome-tiff';
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new ConfigError(`mask size ${width}×${height} is not valid`, { file: uri });
  if (!Number.isInteger(tileSize) || tileSize < 16 || tileSize % 16 !== 0) throw new ConfigError(`mask tile size must be a multiple of 16, got ${tileSize}`, { file: uri });
  if (!MASK_FORMATS.includes(format)) throw new UnsupportedFormatError(uri, `mask format '${format}' is not one Tessel writes (${MASK_FORMATS.join(', ')})`);
  const backend: MaskBackend = format === 'ome-tiff'
    ? await openTiffMaskBackend(uri, { width, height, tileSize, bigtiff: opts.bigtiff, umPerPixel: opts.umPerPixel, name: opts.name })
    : await openZarrMaskBackend(uri, { width, height, tileSize, umPerPixel: opts.umPerPixel, labelName: opts.labelName ?? 'mask', listedWith: opts.listedWith, ngffVersion: opts.ngffVersion ?? '0.4' });
  const pyramid = new MaskPyramid(width, height, tileSize, (level, tx, ty, tile) => backend.writeTile(level, tx, ty, tile));
  const tilesAcross = Math.ceil(width / tileSize);
  const written = new Uint8Array(tilesAcross * Math.ceil(height / tileSize));
  const inFlight = new Set<Promise<void>>();
  let closed = false;
  let failure: unknown;

  const writeTiles = async (x: number, y: number, w: number, h: number, labels: Int32Array): Promise<void> => {
    const jobs: Promise<void>[] = [];
    for (let ty = y / tileSize; ty < Math.ceil((y + h) / tileSize); ty++) {
      for (let tx = x / tileSize; tx < Math.ceil((x + w) / tileSize); tx++) {
        // Each tile is a fresh T×T buffer, zero beyond the image's edge (TIFF pads edge tiles, Zarr chunks are full-size).
        const tile = new Int32Array(tileSize * tileSize);
        const x0 = tx * tileSize - x, y0 = ty * tileSize - y;
        const tw = Math.min(tileSize, w - x0), th = Math.min(tileSize, h - y0);
        for (let r = 0; r < th; r++) tile.set(labels.subarray((y0 + r) * w + x0, (y0 + r) * w + x0 + tw), r * tileSize);
        jobs.push(pyramid.add(0, tx, ty, tile));
      }
    }
    await Promise.all(jobs);
  };

  const fail = async (err: unknown): Promise<never> => {
    closed = true;
    await Promise.allSettled([...inFlight]);
    await backend.discard();
    throw err;
  };

  return {
    width, height, tileSize,
    async writeRegion(x, y, w, h, labels) {
      if (closed) throw new ConfigError('mask writer is closed', { file: uri });
      const aligned = x % tileSize === 0 && y % tileSize === 0 && (w % tileSize === 0 || x + w === width) && (h % tileSize === 0 || y + h === height);
      if (!aligned || x < 0 || y < 0 || w < 1 || h < 1 || x + w > width || y + h > height || labels.length !== w * h) {
        throw new ConfigError(`region x=${x} y=${y} ${w}×${h} (${labels.length} values) is not a tile-aligned part of the ${width}×${height} mask (tile ${tileSize})`, { file: uri });
      }
      const tiles: number[] = [];
      for (let ty = y / tileSize; ty < Math.ceil((y + h) / tileSize); ty++) {
        for (let tx = x / tileSize; tx < Math.ceil((x + w) / tileSize); tx++) {
          const i = ty * tilesAcross + tx;
          if (written[i]) throw new ConfigError(`mask tile ${tx},${ty} was already written (region x=${x} y=${y} ${w}×${h})`, { file: uri });
          tiles.push(i);
        }
      }
      for (const i of tiles) written[i] = 1;
      const job = writeTiles(x, y, w, h, labels);
      inFlight.add(job);
      try {
        await job;
      } catch (e) {
        failure ??= e;
        throw e;
      } finally {
        inFlight.delete(job);
      }
    },
    async commit() {
      if (closed) throw new ConfigError('mask writer is closed', { file: uri });
      closed = true;
      await Promise.allSettled([...inFlight]);
      if (failure !== undefined) return fail(failure);
      const missing = written.indexOf(0);
      if (missing >= 0) {
        const more = written.reduce((a, v) => a + (v ? 0 : 1), 0) - 1;
        const which = `mask tile ${missing % tilesAcross},${Math.floor(missing / tilesAcross)}${more ? ` and ${more} more` : ''}`;
        return fail(new ConfigError(`${which} never written; nothing was published`, { file: uri }));
      }
      if (pyramid.pendingTiles !== 0) return fail(new Error(`internal: ${pyramid.pendingTiles} pyramid tiles incomplete after every tile was written`));
      try {
        await backend.finish();
      } catch (e) {
        return fail(e);
      }
    },
    async abort() {
      closed = true;
      await Promise.allSettled([...inFlight]);
      await backend.discard(); // idempotent: also after a commit that failed or succeeded
    },
  };
}
