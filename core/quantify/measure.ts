import { ConfigError, InvalidArrayError } from '../errors';
import type { Plane } from '../formats/ndarray';
import { traceRegion, TraceScratch } from './contour';
import { ALL_COMPARTMENTS, ALL_STATS, indexCompartments, measureChannel } from './intensity';
import type { Compartment, CompartmentPixels, Stat, StatColumns } from './intensity';
import { indexLabels, pairNuclei, type LabelIndex } from './labels';

export type { Compartment, Stat } from './intensity';

/** Shape columns for one compartment (Cell or Nucleus); NaN where missing. Lengths in the table's unit. */
export interface ShapeColumns {
  area: Float64Array;
  length: Float64Array;
  circularity: Float64Array;
  solidity: Float64Array;
  maxDiameter: Float64Array;
  minDiameter: Float64Array;
}

/** GeoJSON-style polygon coordinates: polygons → rings → [x, y] pairs, in pixel coordinates. */
export type MultiPolygonCoords = number[][][][];

/** Intensity columns of one channel. */
export interface ChannelColumns {
  name: string;
  compartments: Partial<Record<Compartment, StatColumns>>;
}

/** The measured cells, column-oriented: row r describes whole-cell label `labels[r]`. */
export interface CellTable {
  width: number;
  height: number;
  /** µm when calibrated, px otherwise. */
  unit: 'µm' | 'px';
  umPerPixel?: number;
  labels: Int32Array;
  /** Paired nucleus label per row, 0 when none. */
  nucleusLabels: Int32Array;
  centroidX: Float64Array;
  centroidY: Float64Array;
  cell: ShapeColumns;
  nucleus: ShapeColumns;
  nucleusCellAreaRatio: Float64Array;
  compartments: Compartment[];
  stats: Stat[];
  channels: ChannelColumns[];
  unpairedNuclei: number;
  cellsWithoutNucleus: number;
  /** Cell and nucleus outlines, when `withGeometry` was set. */
  geometry?: { cell: MultiPolygonCoords[]; nucleus: (MultiPolygonCoords | undefined)[] };
}

export interface MeasureOptions {
  wholeCell: Plane<Int32Array>;
  nucleus: Plane<Int32Array>;
  /** Pixel size in µm; absent → pixel units. */
  umPerPixel?: number;
  /** @default all four: nucleus, cytoplasm, membrane, cell */
  compartments?: Compartment[];
  /** @default all five: mean, median, min, max, std */
  stats?: Stat[];
  /** Keep cell and nucleus polygons for GeoJSON. @default false */
  withGeometry?: boolean;
  /** Names for error messages. */
  wholeCellFile?: string;
  nucleusFile?: string;
  /**
   * Where the masks' pixel (0, 0) lies in the image, when they are a window of it (blockwise
   * quantification): centroids and outlines come out in image coordinates, with the same arithmetic
   * as for the whole masks. @default { x: 0, y: 0 }
   */
  origin?: { x: number; y: number };
  /**
   * Leave shape columns (polygons, areas, diameters…) to a later {@link CellMeasurer.measureShapes}
   * call, so a caller can trace them while helper threads measure channels. @default false
   */
  deferShapes?: boolean;
}

/**
 * QuPath-style cell measurement over label masks, one channel at a time: create it with the masks
 * (shapes, centroids and pairing are computed at once), then call {@link CellMeasurer.addChannel} per
 * channel. The measurer keeps pixel-index lists, not the masks, so the caller may drop the masks
 * after construction: memory is then O(labelled pixels + one channel + output columns).
 *
 * Conventions follow QuPath's `ObjectMeasurements` (qupath-core-processing,
 * `qupath.lib.analysis.features.ObjectMeasurements`; the README lists them); shapes come from polygons
 * traced along pixel edges ({@link traceRegion}). Multi-piece regions: area, length, solidity and
 * diameters are those of the whole MultiPolygon and circularity is missing, as in QuPath; holes count
 * in length, are excluded from area, and circularity uses the exterior ring.
 */
export class CellMeasurer {
  readonly table: CellTable;
  private readonly pixels: CompartmentPixels;
  private scratch: Float64Array;
  /** What {@link measureShapes} still needs: bounding boxes, the pairing and the origin (the masks are not kept). */
  private pendingShapes?: { cells: Boxes; nuclei: Boxes; nucleusOfCell: Int32Array; scale: number; origin: { x: number; y: number } };

  constructor(opts: MeasureOptions) {
    const { wholeCell, nucleus } = opts;
    const wcFile = opts.wholeCellFile ?? 'whole-cell mask', nuFile = opts.nucleusFile ?? 'nucleus mask';
    if (wholeCell.width !== nucleus.width || wholeCell.height !== nucleus.height) {
      throw new InvalidArrayError(wcFile, `is ${wholeCell.width}×${wholeCell.height} but ${nuFile} is ${nucleus.width}×${nucleus.height}`);
    }
    const um = opts.umPerPixel;
    if (um !== undefined && !(um > 0 && Number.isFinite(um))) throw new ConfigError(`umPerPixel must be a positive number, got ${um}`);
    const compartments = canonical('compartment', opts.compartments, ALL_COMPARTMENTS);
    const stats = canonical('statistic', opts.stats, ALL_STATS);
    const cells = indexLabels(wholeCell, wcFile);
    const nuclei = indexLabels(nucleus, nuFile);
    const pairing = pairNuclei(cells, nuclei);
    const n = cells.ids.length;
    const scale = um ?? 1;
    const table: CellTable = {
      width: wholeCell.width, height: wholeCell.height,
      unit: um === undefined ? 'px' : 'µm', umPerPixel: um,
      labels: cells.ids,
      nucleusLabels: new Int32Array(n),
      centroidX: new Float64Array(n), centroidY: new Float64Array(n),
      cell: shapeColumns(n), nucleus: shapeColumns(n), nucleusCellAreaRatio: new Float64Array(n),
      compartments, stats, channels: [],
      unpairedNuclei: pairing.unpairedNuclei, cellsWithoutNucleus: pairing.cellsWithoutNucleus,
      geometry: opts.withGeometry ? { cell: new Array(n), nucleus: new Array(n) } : undefined,
    };
    const origin = opts.origin ?? { x: 0, y: 0 };
    for (let c = 0; c < n; c++) {
      // Integer sums, exact in float64 either way: a window's centroid equals the whole mask's.
      const sumX = cells.sumX[c] + origin.x * cells.count[c], sumY = cells.sumY[c] + origin.y * cells.count[c];
      table.centroidX[c] = ((sumX + 0.5 * cells.count[c]) / cells.count[c]) * scale;
      table.centroidY[c] = ((sumY + 0.5 * cells.count[c]) / cells.count[c]) * scale;
      const nr = pairing.nucleusOfCell[c];
      table.nucleusLabels[c] = nr < 0 ? 0 : nuclei.ids[nr];
    }
    this.pixels = indexCompartments(cells, nuclei, pairing, compartments.includes('membrane'));
    this.scratch = new Float64Array(Math.max(1, this.pixels.maxLength));
    this.table = table;
    // Shapes are traced from the pixel lists, so the measurer keeps none of the masks.
    this.pendingShapes = { cells: boxesOf(cells), nuclei: boxesOf(nuclei), nucleusOfCell: pairing.nucleusOfCell, scale, origin };
    if (!opts.deferShapes) this.measureShapes();
  }

  /**
   * Fills the shape columns (and outlines, with `withGeometry`) from polygons traced along pixel edges.
   * Runs once; the constructor calls it unless `deferShapes` was set.
   */
  measureShapes(): void {
    const pending = this.pendingShapes;
    if (!pending) return;
    this.pendingShapes = undefined;
    const { cells, nuclei, nucleusOfCell, scale, origin } = pending;
    const { table, pixels } = this;
    const withGeometry = !!table.geometry;
    const n = table.labels.length;
    const trace = new TraceScratch();
    const window = new RegionWindow(table.width);
    for (let c = 0; c < n; c++) {
      // The cell's runs hold all its pixels (cytoplasm, then its nucleus).
      const cellShape = window.trace(pixels, pixels.cellRuns[c], pixels.cellRuns[c + 1], cells, c, trace, withGeometry);
      putShape(table.cell, c, cellShape, scale);
      if (table.geometry) table.geometry.cell[c] = toPolygons(cellShape.rings!, origin);
      const nr = nucleusOfCell[c];
      if (nr < 0) {
        for (const col of Object.values(table.nucleus) as Float64Array[]) col[c] = NaN;
        table.nucleusCellAreaRatio[c] = NaN;
        continue;
      }
      const nucShape = window.trace(pixels, pixels.nucleusRuns[c], pixels.nucleusRuns[c + 1], nuclei, nr, trace, withGeometry);
      putShape(table.nucleus, c, nucShape, scale);
      if (table.geometry) table.geometry.nucleus[c] = toPolygons(nucShape.rings!, origin);
      table.nucleusCellAreaRatio[c] = Math.min(1, Math.max(0, nucShape.area / cellShape.area));
    }
  }

  /** The per-cell pixel lists every channel is measured over (shared memory: they go to other threads without a copy). */
  get compartmentPixels(): CompartmentPixels {
    return this.pixels;
  }

  /** Measures one channel (any integer or float dtype) and appends its columns to the table. */
  addChannel(channel: { name: string; plane: Plane }): void {
    const { table } = this;
    const compartments = measureChannelColumns(this.pixels, channel, table, this.scratch);
    table.channels.push({ name: channel.name, compartments });
  }

  /** Appends columns measured elsewhere (another thread, see {@link measureChannelColumns}), in channel order. */
  addMeasuredChannel(columns: ChannelColumns): void {
    this.table.channels.push(columns);
  }
}

/** Bounding boxes per label row, from a {@link LabelIndex}. */
interface Boxes { minX: Int32Array; minY: Int32Array; maxX: Int32Array; maxY: Int32Array }

function boxesOf(index: LabelIndex): Boxes {
  return { minX: index.minX, minY: index.minY, maxX: index.maxX, maxY: index.maxY };
}

/**
 * One region's pixels painted into a window of its bounding box plus a pixel of margin, where
 * {@link traceRegion} traces them exactly as in the whole mask (coordinates come out in the image's).
 */
class RegionWindow {
  private mask = new Int32Array(0);

  constructor(private readonly imageWidth: number) {}

  /** Paints runs `from`…`to − 1` of `px` (one region, bounding box `row` of `boxes`) and traces them. */
  trace(px: CompartmentPixels, from: number, to: number, boxes: Boxes, row: number, scratch: TraceScratch, keepRings: boolean): ReturnType<typeof traceRegion> {
    const x0 = boxes.minX[row], y0 = boxes.minY[row];
    const w = boxes.maxX[row] - x0 + 1, h = boxes.maxY[row] - y0 + 1;
    const ww = w + 2, size = ww * (h + 2);
    if (this.mask.length < size) this.mask = new Int32Array(Math.max(size, 2 * this.mask.length));
    const mask = this.mask;
    mask.fill(0, 0, size);
    const width = this.imageWidth;
    for (let r = from; r < to; r++) {
      const p = px.runStart[r];
      const y = Math.floor(p / width);
      const at = (y - y0 + 1) * ww + (p - y * width - x0 + 1);
      mask.fill(1, at, at + px.runLength[r]);
    }
    return traceRegion(mask, ww, h + 2, 1, 1, 1, w, h, scratch, keepRings, x0 - 1, y0 - 1);
  }
}

/**
 * One channel's intensity columns over `pixels` for the table's compartments and statistics. Pure, so a
 * helper thread holding a copy of the pixel lists can measure some channels while the owner measures others.
 */
export function measureChannelColumns(
  pixels: CompartmentPixels, channel: { name: string; plane: Plane },
  table: Pick<CellTable, 'width' | 'height' | 'compartments' | 'stats'>, scratch?: Float64Array,
): Partial<Record<Compartment, StatColumns>> {
  const { plane } = channel;
  if (plane.width !== table.width || plane.height !== table.height) {
    throw new InvalidArrayError(channel.name, `channel is ${plane.width}×${plane.height} but the masks are ${table.width}×${table.height}`);
  }
  const n = pixels.cellCount.length;
  const compartments: Partial<Record<Compartment, StatColumns>> = {};
  for (const comp of table.compartments) {
    const cols: StatColumns = {};
    for (const s of table.stats) cols[s] = new Float32Array(n);
    compartments[comp] = cols;
  }
  measureChannel(pixels, plane.data, compartments, scratch);
  return compartments;
}

/** Convenience: measure masks and a list of channels in one call. */
export function measureCells(opts: MeasureOptions & { channels: { name: string; plane: Plane }[] }): CellTable {
  const m = new CellMeasurer(opts);
  for (const ch of opts.channels) m.addChannel(ch);
  return m.table;
}

/** Validates a requested subset and returns it in QuPath's order. */
function canonical<T extends string>(what: string, requested: readonly string[] | undefined, all: readonly T[]): T[] {
  if (!requested) return [...all];
  for (const r of requested) {
    if (!all.includes(r as T)) throw new ConfigError(`unknown ${what} '${r}'; expected one of ${all.join(', ')}`);
  }
  return all.filter((a) => requested.includes(a));
}

function shapeColumns(n: number): ShapeColumns {
  return {
    area: new Float64Array(n), length: new Float64Array(n), circularity: new Float64Array(n),
    solidity: new Float64Array(n), maxDiameter: new Float64Array(n), minDiameter: new Float64Array(n),
  };
}

function putShape(cols: ShapeColumns, row: number, s: ReturnType<typeof traceRegion>, scale: number): void {
  cols.area[row] = s.area * scale * scale;
  cols.length[row] = s.length * scale;
  // Scale-free; QuPath computes it only for a single Polygon, from its exterior ring when there are holes.
  cols.circularity[row] = s.pieces === 1 ? (4 * Math.PI * s.exteriorArea) / (s.exteriorLength * s.exteriorLength) : NaN;
  cols.solidity[row] = s.area / s.convexArea;
  cols.maxDiameter[row] = s.maxDiameter * scale;
  cols.minDiameter[row] = s.minDiameter * scale;
}

/** Groups traced rings into polygons (moved by `origin`): each hole goes to the exterior ring that contains it. */
function toPolygons(rings: { exterior: boolean; coords: number[] }[], origin: { x: number; y: number }): MultiPolygonCoords {
  const toPairs = (flat: number[]) => {
    const out: number[][] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i] + origin.x, flat[i + 1] + origin.y]);
    out.push([flat[0] + origin.x, flat[1] + origin.y]); // GeoJSON rings are closed
    return out;
  };
  const exteriors = rings.filter((r) => r.exterior);
  const polygons: number[][][][] = exteriors.map((r) => [toPairs(r.coords)]);
  for (const hole of rings.filter((r) => !r.exterior)) {
    // A point just inside the hole: the midpoint of its first edge, nudged off the edge towards the hole side.
    const [ax, ay, bx, by] = hole.coords;
    const mx = (ax + bx) / 2, my = (ay + by) / 2;
    // Holes are clockwise (x right, y up numbers): the hole interior lies to the right of travel.
    const px = mx + 0.25 * Math.sign(by - ay), py = my - 0.25 * Math.sign(bx - ax);
    let owner = exteriors.length === 1 ? 0 : exteriors.findIndex((e) => pointInRing(px, py, e.coords));
    if (owner < 0) owner = 0;
    polygons[owner].push(toPairs(hole.coords));
  }
  return polygons;
}

function pointInRing(x: number, y: number, ring: number[]): boolean {
  let inside = false;
  const n = ring.length >> 1;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = ring[2 * i], yi = ring[2 * i + 1], xj = ring[2 * j], yj = ring[2 * j + 1];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
