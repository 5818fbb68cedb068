import { createHash } from 'node:crypto';
import { ConfigError } from '../errors';
import { classColor } from '../classify/bundle';
import { completedImages, reviewFolders, type ReviewFolders } from './images';
import { ImageCropper, type Crop } from './crops';
import { UNSURE } from './labels';
import type { PageCell, PageConfig } from './page';
import { CellIndex, type CellFilter, type ReviewCell } from './sample';

/** Options of a review (`tessel review`). */
export interface ReviewOptions {
  /** Workspace root (local path or gs://). */
  root: string;
  folders?: Partial<ReviewFolders>;
  /** Image name prefixes or globs. @default every completed image */
  imageFilter?: string[];
  /** Fraction of cells sampled from every image. @default 0.1 */
  sampleFraction?: number;
  /** Cells per page. @default 300 */
  perPage?: number;
  /** Channels of the composite (names or indices). */
  channels?: (string | number)[];
  /** Class names, keys 1…9 in this order. @default ['positive', 'negative'] */
  classes?: string[];
  filters?: CellFilter[];
  /** Seed of the sample. @default 1 */
  seed?: number;
  /** Side of a crop in µm. @default 32 */
  windowUm?: number;
  reviewer?: string;
}

/** Crops kept open at once (each holds two open files and its display ranges). */
const OPEN_CROPPERS = 4;

/**
 * A review of a workspace: the completed images, their cells (filtered), the unified sample in pages,
 * and crops rendered on demand. Used by the static export and the server alike.
 */
export class Review {
  private readonly croppers = new Map<string, Promise<ImageCropper>>();

  private constructor(readonly opts: Required<Pick<ReviewOptions, 'root' | 'sampleFraction' | 'perPage' | 'classes' | 'seed' | 'reviewer'>> & ReviewOptions,
    readonly index: CellIndex, readonly sample: ReviewCell[], readonly incomplete: { name: string; missing: string }[]) {}

  /**
   * Finds the completed images, reads their tables and draws the sample.
   * @throws ConfigError without completed images, with more than 9 classes, or a class named `unsure`.
   */
  static async open(o: ReviewOptions): Promise<Review> {
    const classes = o.classes?.length ? o.classes : ['positive', 'negative'];
    if (classes.length > 9) throw new ConfigError(`at most 9 classes (keys 1–9), got ${classes.length}`);
    if (new Set(classes).size !== classes.length) throw new ConfigError(`--class names must differ: ${classes.join(', ')}`);
    if (classes.includes(UNSURE)) throw new ConfigError(`'${UNSURE}' is always available (key u); it cannot be a class`);
    const folders = { ...reviewFolders(o.root), ...o.folders };
    const { images, incomplete } = await completedImages(folders, o.imageFilter ?? []);
    if (images.length === 0) {
      throw new ConfigError(`no completed images to review in ${o.root}` + (incomplete.length ? ` (${incomplete.length} without a mask or table, e.g. ${incomplete[0].name}: missing ${incomplete[0].missing})` : '') +
        '; run tessel run workspace first');
    }
    const opts = { ...o, classes, sampleFraction: o.sampleFraction ?? 0.1, perPage: o.perPage ?? 300, seed: o.seed ?? 1, reviewer: o.reviewer ?? '' };
    const index = await CellIndex.load(images, o.filters ?? [], opts.seed);
    const sample = index.sample(opts.sampleFraction);
    return new Review(opts, index, sample, incomplete);
  }

  get pages(): number {
    return Math.max(1, Math.ceil(this.sample.length / this.opts.perPage));
  }

  /** The sampled cells of page `n` (1-based). */
  pageCells(n: number): ReviewCell[] {
    if (!Number.isInteger(n) || n < 1 || n > this.pages) throw new ConfigError(`page ${n} does not exist (1–${this.pages})`);
    return this.sample.slice((n - 1) * this.opts.perPage, n * this.opts.perPage);
  }

  /** Where this review's labels live in a browser: one key per workspace, sample and classes. */
  get storageKey(): string {
    const h = createHash('sha256').update(JSON.stringify([this.opts.root, this.opts.seed, this.opts.sampleFraction, this.opts.classes])).digest('hex').slice(0, 16);
    return `tessel-review:${h}`;
  }

  private cropper(image: string): Promise<ImageCropper> {
    let c = this.croppers.get(image);
    if (c) {
      this.croppers.delete(image); // re-insert: most recently used last
      this.croppers.set(image, c);
      return c;
    }
    c = ImageCropper.open(this.index.image(image), { channels: this.opts.channels, windowUm: this.opts.windowUm });
    c.catch(() => this.croppers.delete(image));
    this.croppers.set(image, c);
    while (this.croppers.size > OPEN_CROPPERS) {
      const [oldest, p] = this.croppers.entries().next().value as [string, Promise<ImageCropper>];
      this.croppers.delete(oldest);
      void p.then((x) => x.close(), () => undefined);
    }
    return c;
  }

  /** The crop of one cell. */
  async crop(cell: ReviewCell): Promise<Crop> {
    const cropper = await this.cropper(cell.image);
    const f = this.index.features.get(cell.image)!;
    const d = f.names.indexOf(`Cell: Max diameter ${this.index.unit}`);
    const diameter = d >= 0 ? f.values[cell.row * f.names.length + d] * cropper.pixelsPerUnit : undefined;
    return cropper.crop({ x: cell.x, y: cell.y, label: cell.label, diameterPx: Number.isFinite(diameter) ? diameter : undefined });
  }

  /** A page's view of a cell with its crop at `src`. */
  async pageCell(cell: ReviewCell, crop: Crop, src: string): Promise<PageCell> {
    const cropper = await this.cropper(cell.image);
    return { id: cell.id, image: cell.image, label: cell.label, x: cell.x, y: cell.y, area: cell.area, src, outline: crop.outline, size: crop.size, um: cropper.umPerPixel ?? null };
  }

  /** The page configuration shared by both modes (cells and files added by the caller). */
  async pageConfig(mode: PageConfig['mode'], page: number): Promise<PageConfig> {
    const first = await this.cropper(this.index.images[0].name);
    const hex = (c: number[]) => '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');
    return {
      mode, title: `Review: ${this.opts.root.replace(/\/+$/, '').split('/').pop()}`,
      classes: this.opts.classes.map((name, i) => ({ name, color: hex(classColor(i)), key: String(i + 1) })),
      storageKey: this.storageKey, reviewer: this.opts.reviewer, page, pages: this.pages, sampled: this.sample.length, perPage: this.opts.perPage,
      legend: first.channels.map((c) => ({ name: c.name, color: hex(c.color) })), unit: this.index.unit,
    };
  }

  async close(): Promise<void> {
    const all = [...this.croppers.values()];
    this.croppers.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close(), () => undefined)));
  }
}
