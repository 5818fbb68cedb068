import sharp from 'sharp';
import { ConfigError } from '../errors';
import { openImage, resolveChannels, type ImageSource } from '../formats/image';
import { TraceScratch, traceRegion } from '../quantify/contour';
import type { ReviewImage } from './images';

/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;

/** One channel of the false-colour composite: its colour and the display range mapped to 0…full colour. */
export interface ChannelStyle {
  index: number;
  name: string;
  color: [number, number, number];
  lo: number;
  hi: number;
}

/** A rendered cell: the composite as JPEG, the whole-cell outline as an SVG path in crop pixels. */
export interface Crop {
  jpeg: Uint8Array;
  outline: string;
  /** Width and height of the crop in image pixels. */
  size: number;
}

export interface CropOptions {
  /** Channels of the composite (names or indices). @default the nuclear stain and the next three markers */
  channels?: (string | number)[];
  /** Side of a crop in µm (in px when the image is uncalibrated); larger cells get a larger crop. @default 32 */
  windowUm?: number;
  /** JPEG quality 1–100. @default 80 */
  quality?: number;
}

/** Colours of the composite in channel order: the nuclear stain blue, then green, red, magenta, yellow, cyan, orange. */
const COLORS: [number, number, number][] = [[40, 110, 255], [0, 255, 0], [255, 0, 0], [255, 0, 255], [255, 255, 0], [0, 255, 255], [255, 140, 0]];
const NUCLEAR = /^(dapi|hoechst|dna\d*|ir19[13]|draq5|sytox|nuclear)$/i;
/** Stains that outline every cell: no help in telling types apart, so left out of the default composite. */
const PAN_MEMBRANE = /^(na-k-atpase|nakatpase|na\/k-atpase|membrane|wga)$/i;

/**
 * Renders cell crops of one image: a false-colour composite of the chosen channels, each scaled by a
 * display range taken once per image (0.5th to 99.8th percentile of a sample of its pixels, as QuPath's
 * auto-contrast saturates the top 0.1–0.2 %; the 5th as black, so unstained tissue stays dark), so a dim cell looks dim next to a bright one. Pixels are
 * read by region, so crops of an image larger than memory cost their own windows only.
 */
export class ImageCropper {
  private readonly scratch = new TraceScratch();

  private constructor(
    readonly image: ReviewImage, private readonly source: ImageSource, private readonly mask: ImageSource,
    readonly channels: ChannelStyle[], readonly umPerPixel: number | undefined, private readonly windowPx: number, private readonly quality: number,
  ) {}

  /**
   * Opens the image and its whole-cell mask and measures the display ranges.
   * @throws ChannelNotFoundError for a channel the image lacks; InvalidImageError for unreadable files.
   */
  static async open(image: ReviewImage, opts: CropOptions = {}): Promise<ImageCropper> {
    const source = await openImage(image.imageUri);
    const mask = await openImage(image.wholeCellMaskUri).catch(async (e) => {
      await source.close();
      throw e;
    });
    try {
      const { info } = source;
      if (mask.info.width !== info.width || mask.info.height !== info.height) {
        throw new ConfigError(`mask ${image.wholeCellMaskUri} is ${mask.info.width}×${mask.info.height} but image ${image.imageUri} is ${info.width}×${info.height}`);
      }
      const indices = opts.channels?.length ? resolveChannels(info, opts.channels) : defaultCompositeChannels(info.channels);
      const channels: ChannelStyle[] = [];
      for (const [k, index] of indices.entries()) {
        const { lo, hi } = await displayRange(source, index);
        channels.push({ index, name: info.channels[index], color: COLORS[k % COLORS.length], lo, hi });
      }
      const umPerPixel = info.calibrated ? info.physicalSizeX : undefined;
      const windowPx = math.max(16, math.round((opts.windowUm ?? 32) / (umPerPixel ?? 1)));
      return new ImageCropper(image, source, mask, channels, umPerPixel, windowPx, opts.quality ?? 80);
    } catch (e) {
      await Promise.all([source.close(), mask.close()]);
      throw e;
    }
  }

  /** Table units (µm, or px) to pixels. */
  get pixelsPerUnit(): number {
    return this.umPerPixel ? 1 / this.umPerPixel : 1;
  }

  /**
   * The crop of the cell with whole-cell `label` whose centroid is (x, y) in table units, centred on it
   * (shifted to stay inside the image), widened for a cell larger than the window.
   */
  async crop(cell: { x: number; y: number; label: number; diameterPx?: number }): Promise<Crop> {
    const { width, height } = this.source.info;
    const size = math.min(width, height, math.max(this.windowPx, math.ceil((cell.diameterPx ?? 0) * 1.3)));
    const cx = cell.x * this.pixelsPerUnit, cy = cell.y * this.pixelsPerUnit;
    const x0 = math.min(width - size, math.max(0, math.round(cx - size / 2)));
    const y0 = math.min(height - size, math.max(0, math.round(cy - size / 2)));
    const region = { x: x0, y: y0, width: size, height: size };
    const rgb = new Float32Array(size * size * 3);
    for (const ch of this.channels) {
      const plane = (await this.source.readChannel(ch.index, { region })).data as ArrayLike<number>;
      const scale = 1 / (ch.hi - ch.lo);
      const [r, g, b] = ch.color;
      for (let i = 0; i < size * size; i++) {
        const v = (plane[i] - ch.lo) * scale;
        if (v <= 0) continue;
        const t = v >= 1 ? 1 : v;
        rgb[3 * i] += t * r;
        rgb[3 * i + 1] += t * g;
        rgb[3 * i + 2] += t * b;
      }
    }
    const pixels = Buffer.alloc(size * size * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = math.min(255, rgb[i]);
    // sharp (libvips + mozjpeg, prebuilt per platform as npm packages): ~0.5 ms a crop. jpeg-js, the pure-JS
    // encoder, rebuilds its tables on every call and took ~75 ms per 64×64 crop here.
    const jpeg = new Uint8Array(await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: this.quality, mozjpeg: true }).toBuffer());
    const maskPlane = (await this.mask.readChannel(0, { region })).data as ArrayLike<number>;
    const labels = maskPlane instanceof Int32Array ? maskPlane : Int32Array.from(maskPlane);
    return { jpeg, outline: outlinePath(labels, size, size, cell.label, this.scratch), size };
  }

  async close(): Promise<void> {
    await Promise.all([this.source.close(), this.mask.close()]);
  }
}

/** The nuclear stain first, then the first three other channels that are not pan-membrane stains. */
export function defaultCompositeChannels(names: readonly string[]): number[] {
  const nuclear = math.max(0, names.findIndex((n) => NUCLEAR.test(n.trim())));
  const others = names.map((_, i) => i).filter((i) => i !== nuclear && !PAN_MEMBRANE.test(names[i].trim())).slice(0, 3);
  return [nuclear, ...others];
}

/**
 * 5th and 99.8th percentiles of a channel, from up to 16 evenly spaced bands of 32 rows (the whole
 * channel for small images), so the range costs a few strips per image whatever its size.
 */
async function displayRange(source: ImageSource, index: number): Promise<{ lo: number; hi: number }> {
  const { width, height } = source.info;
  const bandRows = math.min(32, height);
  const bands = math.min(16, math.ceil(height / bandRows));
  const values: number[] = [];
  const stride = math.max(1, math.floor((width * bandRows * bands) / 400_000));
  for (let b = 0; b < bands; b++) {
    const y = bands === 1 ? 0 : math.round((b * (height - bandRows)) / (bands - 1));
    const data = (await source.readChannel(index, { region: { x: 0, y, width, height: bandRows } })).data as ArrayLike<number>;
    for (let i = 0; i < data.length; i += stride) if (Number.isFinite(data[i])) values.push(data[i]);
  }
  values.sort((a, b) => a - b);
  const at = (q: number) => values[math.min(values.length - 1, math.floor(q * values.length))] ?? 0;
  const lo = at(0.05);
  const hi = at(0.998);
  return { lo, hi: hi > lo ? hi : lo + 1 };
}

/** SVG path (`M x y L … Z` per exterior ring) of the label's outline in crop pixel coordinates; '' when absent. */
export function outlinePath(labels: Int32Array, width: number, height: number, label: number, scratch = new TraceScratch()): string {
  let found = false;
  for (let i = 0; i < labels.length && !found; i++) found = labels[i] === label;
  if (!found) return '';
  const shape = traceRegion(labels, width, height, label, 0, 0, width - 1, height - 1, scratch, true);
  return (shape.rings ?? []).filter((r) => r.exterior).map((r) => {
    const c = r.coords;
    let d = `M${c[0]} ${c[1]}`;
    for (let i = 2; i < c.length; i += 2) d += `L${c[i]} ${c[i + 1]}`;
    return d + 'Z';
  }).join('');
}
