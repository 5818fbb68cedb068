import { createHash } from 'node:crypto';
import { ConfigError } from '../errors';
import { cellFeatures, chooseFeatures, type CellFeatures } from '../classify/features';
import { columnIndex, numericColumn, readQuantTable, suggest, type QuantTable } from '../quantify/read-tsv';
import type { ReviewImage } from './images';

/** A condition on a measurement, e.g. `Cell: Area µm^2 >= 40` or `Cell: CD3: Mean > 200`. */
export interface CellFilter {
  column: string;
  op: '<' | '<=' | '>' | '>=' | '=' | '!=';
  value: number;
}

/**
 * Parses `<column> <op> <number>` (op one of < <= > >= = !=; spaces around it optional).
 * @throws ConfigError for anything else.
 */
export function parseFilter(expr: string): CellFilter {
  const m = /^(.*?)\s*(<=|>=|!=|=|<|>)\s*(-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*$/i.exec(expr.trim());
  if (!m || !m[1].trim()) throw new ConfigError(`--where '${expr}': expected '<measurement> <op> <number>', e.g. 'Cell: CD3: Mean > 200' (op: < <= > >= = !=)`);
  return { column: m[1].trim(), op: m[2] as CellFilter['op'], value: Number(m[3]) };
}

/** Filters on the cell area (µm², or px² in uncalibrated tables) from `--min-area` / `--max-area`. */
export function areaFilters(min?: number, max?: number): CellFilter[] {
  const out: CellFilter[] = [];
  if (min !== undefined) out.push({ column: AREA, op: '>=', value: min });
  if (max !== undefined) out.push({ column: AREA, op: '<=', value: max });
  return out;
}

/** Stand-in column name for the cell area, whatever the table's unit. */
const AREA = 'Cell: Area';

function areaColumn(table: QuantTable): string {
  return table.header.find((h) => /^Cell: Area (µm|px)\^2$/.test(h)) ?? 'Cell: Area µm^2';
}

function passes(v: number, f: CellFilter): boolean {
  switch (f.op) {
    case '<': return v < f.value;
    case '<=': return v <= f.value;
    case '>': return v > f.value;
    case '>=': return v >= f.value;
    case '=': return v === f.value;
    default: return v !== f.value;
  }
}

/** One cell a reviewer may see: its identity, centroid (table units), area and place in the sample order. */
export interface ReviewCell {
  /** The table's `Object ID`. */
  id: string;
  image: string;
  /** Whole-cell mask label. */
  label: number;
  x: number;
  y: number;
  area: number;
  /** Uniform in [0, 1), from a hash of (seed, image, label): below the sample fraction means sampled; the sample is ordered by it. */
  key: number;
  /** Row in the image's {@link CellFeatures}. */
  row: number;
}

/** A cell's sample key: the first 48 bits of SHA-1(seed, image, label) as a fraction. */
export function sampleKey(seed: number, image: string, label: number): number {
  const h = createHash('sha1').update(`${seed}\u0000${image}\u0000${label}`).digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}

/**
 * Every cell of the completed images that passes the filters, with its measurements (the classifier's
 * features: every measurement the tables share). The sample is the same for the same seed and fraction
 * whatever else is in the workspace: each cell is in or out by its own hash (MK+HSPC's "unified sample":
 * the same fraction of every image), and the sample is ordered by that hash, so every page mixes images.
 */
export class CellIndex {
  readonly byId = new Map<string, ReviewCell>();

  private constructor(readonly images: ReviewImage[], readonly features: Map<string, CellFeatures>, readonly cells: ReviewCell[], readonly unit: string) {
    for (const c of cells) this.byId.set(c.id, c);
  }

  /**
   * Reads the tables of `images` and applies `filters`.
   * @throws ConfigError when a filter names a column a table lacks (with the closest names);
   *   InvalidArrayError for a malformed table.
   */
  static async load(images: ReviewImage[], filters: readonly CellFilter[] = [], seed = 1): Promise<CellIndex> {
    const tables: QuantTable[] = [];
    for (const im of images) tables.push(await readQuantTable(im.tsvUri));
    const names = tables.length ? chooseFeatures(tables) : [];
    const features = new Map<string, CellFeatures>();
    const cells: ReviewCell[] = [];
    let unit = 'µm';
    tables.forEach((table, t) => {
      const image = images[t].name;
      const f = cellFeatures(table, names);
      f.image = image;
      features.set(image, f);
      const area = numericColumn(table, areaColumn(table));
      if (/px\^2$/.test(areaColumn(table))) unit = 'px';
      const cols = filters.map((flt) => {
        const name = flt.column === AREA ? areaColumn(table) : flt.column;
        if (columnIndex(table, name) < 0) throw new ConfigError(`filter on '${flt.column}': no such column in ${table.uri}${suggest(table.header, flt.column)}`, { file: table.uri });
        return numericColumn(table, name);
      });
      for (let r = 0; r < f.ids.length; r++) {
        if (!filters.every((flt, k) => passes(cols[k][r], flt))) continue;
        cells.push({ id: f.ids[r], image, label: f.labels[r], x: f.x[r], y: f.y[r], area: area[r], key: sampleKey(seed, image, f.labels[r]), row: r });
      }
    });
    return new CellIndex(images, features, cells, unit);
  }

  /** The sampled cells (key below `fraction`), in key order. */
  sample(fraction: number): ReviewCell[] {
    if (!(fraction > 0 && fraction <= 1)) throw new ConfigError(`--sample-fraction must be in (0, 1], got ${fraction}`);
    return this.cells.filter((c) => c.key < fraction).sort((a, b) => a.key - b.key);
  }

  /** The image a cell belongs to. */
  image(name: string): ReviewImage {
    const im = this.images.find((i) => i.name === name);
    if (!im) throw new ConfigError(`no completed image '${name}' in this review`);
    return im;
  }
}
