import { InvalidImageError } from '../errors';
import { openImage, readLabelMask } from '../formats/image';
import type { Plane } from '../formats/ndarray';
import { formatGeoJson } from '../quantify/geojson';
import { measurementCalibration } from '../quantify/job';
import { CellMeasurer, type CellTable, type Compartment, type ShapeColumns, type Stat } from '../quantify/measure';
import { formatQuPathTsv } from '../quantify/tsv';
import { storeFor } from '../storage';
import { growRect, unionRects, type Rect } from './grid';
import { readBoxRows } from './boxes';

/**
 * Blockwise quantification: a block measures the cells whose box starts in its core, from the masks and
 * channels of the smallest window that holds, for each of them, its box grown by one pixel (membrane
 * pixels look at their 4-neighbours) and the box of every nucleus touching it (a nucleus goes to the
 * cell it covers, else the one it overlaps most, which only its own box decides). Inside that window
 * the whole-image measurer gives each such cell exactly its whole-image row — medians, pairing and
 * outlines included — because every pixel those depend on is there, in the same order. Rows of cells
 * the window merely cuts are dropped.
 */

export interface QuantifyBlockJob {
  imageUri: string;
  wholeCellMaskUri: string;
  nucleusMaskUri: string;
  /** Boxes of the nuclei (npy, row = label − 1), to grow the window by the nuclei that touch its cells. */
  nucleusBoxesUri: string;
  /** The cells this block measures: labels, and their boxes [y0, x0, y1, x1) four numbers each. */
  cells: { labels: number[]; boxes: number[] };
  imageName: string;
  legacyNames?: boolean;
  compartments?: Compartment[];
  stats?: Stat[];
  /** Also outlines for GeoJSON. */
  geometry: boolean;
}

export interface BlockReport {
  /** The block's rows of the QuPath table, header first (formatQuPathTsv's text). */
  tsv: string;
  /** One GeoJSON feature per line, in the rows' order (when `geometry`). */
  features?: string;
  cells: number;
  /** Cells with a nucleus. */
  paired: number;
  /** Pixels read per mask (the window), for the record. */
  windowPixels: number;
}

/** Measures a block's cells (see the module comment). */
export async function quantifyBlock(job: QuantifyBlockJob): Promise<BlockReport> {
  const image = await openImage(job.imageUri);
  try {
    const { info } = image;
    const size = { width: info.width, height: info.height };
    const owned = new Set(job.cells.labels);
    let window: Rect | undefined;
    for (let k = 0; k < job.cells.labels.length; k++) {
      const [y0, x0, y1, x1] = job.cells.boxes.slice(4 * k, 4 * k + 4);
      window = unionRects(window, growRect({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, 1, size));
    }
    if (!window) return { tsv: '', features: job.geometry ? '' : undefined, cells: 0, paired: 0, windowPixels: 0 };
    let masks = await readMasks(job, window, size);
    const grown = unionRects(window, await nucleiWindow(job, masks, owned));
    if (grown!.width !== window.width || grown!.height !== window.height) {
      window = grown!;
      masks = await readMasks(job, window, size);
    }
    const { umPerPixel, names } = measurementCalibration(info, job.imageUri, []);
    const measurer = new CellMeasurer({
      wholeCell: masks.wholeCell, nucleus: masks.nucleus, umPerPixel, origin: { x: window.x, y: window.y }, withGeometry: job.geometry,
      compartments: job.compartments, stats: job.stats, wholeCellFile: job.wholeCellMaskUri, nucleusFile: job.nucleusMaskUri,
    });
    for (let c = 0; c < names.length; c++) measurer.addChannel({ name: names[c], plane: await image.readChannel(c, { region: window }) });
    const table = selectRows(measurer.table, owned);
    if (table.labels.length !== owned.size) {
      const missing = job.cells.labels.find((l) => !table.labels.includes(l));
      throw new InvalidImageError(job.wholeCellMaskUri, `cell ${missing} is not inside its box; the boxes do not belong to this mask`);
    }
    const tsv = [...formatQuPathTsv(table, { imageName: job.imageName, legacyNames: job.legacyNames })].join('');
    const features = job.geometry ? featureLines(table, job) : undefined;
    let paired = 0;
    for (const l of table.nucleusLabels) if (l !== 0) paired++;
    return { tsv, features, cells: table.labels.length, paired, windowPixels: window.width * window.height };
  } finally {
    await image.close();
  }
}

async function readMasks(job: QuantifyBlockJob, window: Rect, size: { width: number; height: number }): Promise<{ wholeCell: Plane<Int32Array>; nucleus: Plane<Int32Array> }> {
  const [wholeCell, nucleus] = await Promise.all([job.wholeCellMaskUri, job.nucleusMaskUri].map((uri) => readMaskRegion(uri, window, size)));
  return { wholeCell, nucleus };
}

/** A window of a single-channel integer mask, as int32 (the image's size checked). */
export function readMaskRegion(uri: string, region: Rect, size: { width: number; height: number }): Promise<Plane<Int32Array>> {
  return readLabelMask(uri, { region, imageSize: size });
}

/** The union of the boxes of the nuclei that touch the owned cells. */
async function nucleiWindow(job: QuantifyBlockJob, masks: { wholeCell: Plane<Int32Array>; nucleus: Plane<Int32Array> }, owned: ReadonlySet<number>): Promise<Rect | undefined> {
  const touching = new Set<number>();
  const wc = masks.wholeCell.data, nu = masks.nucleus.data;
  for (let i = 0; i < wc.length; i++) if (nu[i] !== 0 && owned.has(wc[i])) touching.add(nu[i]);
  if (touching.size === 0) return undefined;
  const boxes = await readBoxRows(job.nucleusBoxesUri, [...touching]);
  let out: Rect | undefined;
  for (const [y0, x0, y1, x1] of boxes.values()) out = unionRects(out, { x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  return out;
}

/** The rows of `table` whose labels are in `keep`, as a table of their own (same columns). */
export function selectRows(table: CellTable, keep: ReadonlySet<number>): CellTable {
  const rows: number[] = [];
  table.labels.forEach((l, r) => { if (keep.has(l)) rows.push(r); });
  const pick = <T extends Int32Array | Float64Array | Float32Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(rows.length);
    rows.forEach((r, k) => { out[k] = a[r]; });
    return out;
  };
  const shape = (s: ShapeColumns): ShapeColumns => ({
    area: pick(s.area), length: pick(s.length), circularity: pick(s.circularity), solidity: pick(s.solidity),
    maxDiameter: pick(s.maxDiameter), minDiameter: pick(s.minDiameter),
  });
  return {
    ...table,
    labels: pick(table.labels), nucleusLabels: pick(table.nucleusLabels), centroidX: pick(table.centroidX), centroidY: pick(table.centroidY),
    cell: shape(table.cell), nucleus: shape(table.nucleus), nucleusCellAreaRatio: pick(table.nucleusCellAreaRatio),
    channels: table.channels.map((ch) => ({
      name: ch.name,
      compartments: Object.fromEntries(Object.entries(ch.compartments).map(([comp, stats]) => [comp,
        Object.fromEntries(Object.entries(stats!).map(([stat, col]) => [stat, pick(col as Float32Array)]))])),
    })),
    geometry: table.geometry && { cell: rows.map((r) => table.geometry!.cell[r]), nucleus: rows.map((r) => table.geometry!.nucleus[r]) },
  };
}

/** The table's GeoJSON features, one per line (formatGeoJson's features without the collection around them). */
function featureLines(table: CellTable, job: QuantifyBlockJob): string {
  const text = [...formatGeoJson(table, { imageName: job.imageName, legacyNames: job.legacyNames })].join('');
  // The first line opens the collection and the last two close it; features end in ',' but the last.
  const features = text.split('\n').slice(1, -2).filter((l) => l.length > 0);
  return features.map((l) => (l.endsWith(',') ? l.slice(0, -1) : l) + '\n').join('');
}

/** Writes a block's report parts atomically. */
export async function writeBlockReport(report: BlockReport, tsvUri: string, featuresUri?: string): Promise<void> {
  await storeFor(tsvUri).writeAtomic(tsvUri, report.tsv);
  if (featuresUri && report.features !== undefined) await storeFor(featuresUri).writeAtomic(featuresUri, report.features);
}
