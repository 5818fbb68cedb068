import { measurementColumns, objectId, type MeasurementColumn } from './columns';
import type { CellTable } from './measure';

export interface TsvOptions {
  /** Value of the `Image` column and seed of the object IDs (QuPath shows the project entry name). */
  imageName: string;
  /** Pre-0.6 intensity names (`CD3: Cell: Mean`). @default false */
  legacyNames?: boolean;
}

/**
 * The measurement table as QuPath (≥ 0.6) exports it from *Measure → Export measurements*:
 * tab-separated, one row per cell, `Image`, `Object ID`, `Object type` (Cell), `Name` (whole-cell
 * label), `Classification` (empty), `Parent` (Image), `ROI` (Polygon), `Centroid X µm`,
 * `Centroid Y µm` (`px` when uncalibrated), then the measurements; missing values are empty.
 * This is the header line (with its newline); {@link putTsvRows} writes the rows.
 */
export function tsvHeader(table: CellTable, opts: TsvOptions): string {
  const u = table.unit;
  const cols = measurementColumns(table, opts.legacyNames);
  return ['Image', 'Object ID', 'Object type', 'Name', 'Classification', 'Parent', 'ROI', `Centroid X ${u}`, `Centroid Y ${u}`, ...cols.map((c) => c.name)].join('\t') + '\n';
}

/**
 * A growable byte buffer text is formatted into, handed on in pieces by its owner: ASCII numbers are
 * written byte by byte (no string per value, which made formatting a 6-million-value table the
 * slowest part of quantification).
 */
export class TextBuffer {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity = 1 << 20) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** Text that is plain ASCII (numbers, UUIDs, fixed words); room must be reserved. */
  ascii(s: string): void {
    const b = this.bytes;
    let o = this.length;
    for (let i = 0; i < s.length; i++) b[o++] = s.charCodeAt(i);
    this.length = o;
  }

  /** Any text, as UTF-8 (reserves its own room). */
  utf8(s: string): void {
    const enc = Buffer.from(s, 'utf8');
    this.reserve(enc.length);
    this.bytes.set(enc, this.length);
    this.length += enc.length;
  }

  byte(c: number): void {
    this.bytes[this.length++] = c;
  }

  /** The bytes written so far, then empty (the view is valid until the next write). */
  take(): Uint8Array {
    const out = this.bytes.subarray(0, this.length);
    this.length = 0;
    return out;
  }
}

const TAB = 9, NEWLINE = 10, MINUS = 45, DOT = 46, ZERO = 48;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7];
/**
 * The whole table as text, header first, in chunks of `rowsPerChunk` rows (default 2000): the same
 * text {@link tsvHeader} and {@link putTsvRows} write, for callers that keep a block's rows as a
 * string (blockwise quantification) rather than streaming them to a file.
 */
export function* formatQuPathTsv(table: CellTable, opts: TsvOptions & { rowsPerChunk?: number }): Generator<string> {
  const cols = measurementColumns(table, opts.legacyNames);
  const step = Math.max(1, opts.rowsPerChunk ?? 2000);
  const text = new TextBuffer();
  const decoder = new TextDecoder();
  let chunk = tsvHeader(table, opts);
  const n = table.labels.length;
  for (let r = 0; r < n; r += step) {
    putTsvRows(table, cols, opts, r, Math.min(n, r + step), text);
    yield chunk + decoder.decode(text.take());
    chunk = '';
  }
  if (n === 0) yield chunk;
}

/** The most bytes one formatted value takes (a float64's shortest form is at most 24 characters). */
const VALUE_BYTES = 32;

/**
 * Writes rows `from`…`to − 1` of the table: the same text as formatting each value with
 * `formatValue` (empty when missing, integers plainly, float32 measurements with 7 significant digits,
 * float64 ones in full), tab-separated, one line per cell.
 */
export function putTsvRows(
  table: Pick<CellTable, 'labels' | 'centroidX' | 'centroidY'>, cols: Pick<MeasurementColumn, 'values' | 'single'>[], opts: TsvOptions,
  from: number, to: number, out: TextBuffer,
): void {
  const image = Buffer.from(opts.imageName.replace(/[\t\r\n]/g, ' '), 'utf8');
  const rowBytes = image.length + 64 + (2 + cols.length) * VALUE_BYTES;
  for (let r = from; r < to; r++) {
    out.reserve(rowBytes);
    out.bytes.set(image, out.length);
    out.length += image.length;
    out.byte(TAB);
    out.ascii(objectId(opts.imageName, table.labels[r]));
    out.ascii('\tCell\t');
    putInteger(out, table.labels[r]);
    out.ascii('\t\tImage\tPolygon\t');
    putValue(out, table.centroidX[r], false);
    out.byte(TAB);
    putValue(out, table.centroidY[r], false);
    for (let k = 0; k < cols.length; k++) {
      out.byte(TAB);
      putValue(out, cols[k].values[r], cols[k].single);
    }
    out.byte(NEWLINE);
  }
}

/** Rows of a table copied out of it (its row `from` is row 0 here): what a helper thread needs to format them. */
export interface TsvRows {
  opts: TsvOptions;
  labels: Int32Array;
  centroidX: Float64Array;
  centroidY: Float64Array;
  columns: { values: ArrayLike<number>; single: boolean }[];
}

/** Rows `from`…`to − 1` of a table, copied out of it (see {@link formatTsvRows}). */
export function tsvRows(table: Pick<CellTable, 'labels' | 'centroidX' | 'centroidY'>, cols: MeasurementColumn[], opts: TsvOptions, from: number, to: number): TsvRows {
  const slice = (v: ArrayLike<number>) => (ArrayBuffer.isView(v) ? (v as Float32Array).slice(from, to) : Array.prototype.slice.call(v, from, to) as number[]);
  return {
    opts: { imageName: opts.imageName, legacyNames: opts.legacyNames },
    labels: table.labels.slice(from, to), centroidX: table.centroidX.slice(from, to), centroidY: table.centroidY.slice(from, to),
    columns: cols.map((c) => ({ values: slice(c.values), single: c.single })),
  };
}

let rowsText: TextBuffer | undefined;

/** The text {@link putTsvRows} writes for these rows (run on a helper thread by the table writer). */
export function formatTsvRows(rows: TsvRows): Uint8Array {
  rowsText ??= new TextBuffer();
  putTsvRows(rows, rows.columns, rows.opts, 0, rows.labels.length, rowsText);
  return rowsText.take().slice(); // a copy: the buffer stays for the next chunk, the copy moves to the caller
}

/** One value as `formatValue` formats it, as bytes (room must be reserved). */
export function putValue(out: TextBuffer, v: number, single: boolean): void {
  if (Number.isNaN(v)) return;
  if (Number.isInteger(v)) {
    if (Math.abs(v) < 2 ** 31) putInteger(out, v);
    else out.ascii(String(v));
    return;
  }
  const a = Math.abs(v);
  if (!single || a < 1 || a >= 1e7 || !Number.isFinite(a)) {
    out.ascii(single ? String(Number(v.toPrecision(7))) : String(v));
    return;
  }
  // 7 significant digits through an integer, trailing zeros dropped (as formatValue's formatSingle).
  // Below 1e7 with that many decimals the integer is under 2^31: int32 arithmetic from here on.
  const decimals = a >= 1e6 ? 0 : a >= 1e5 ? 1 : a >= 1e4 ? 2 : a >= 1e3 ? 3 : a >= 100 ? 4 : a >= 10 ? 5 : 6;
  let m = Math.round(a * POW10[decimals]) | 0;
  let d = decimals;
  while (d > 0) {
    const q = (m / 10) | 0;
    if (m - q * 10 !== 0) break;
    m = q;
    d--;
  }
  if (v < 0) out.byte(MINUS);
  const b = out.bytes;
  const end = out.length + digitCount(m) + (d > 0 ? 1 : 0);
  let o = end;
  for (let i = 0; o > out.length; i++) {
    if (d > 0 && i === d) b[--o] = DOT;
    const q = (m / 10) | 0;
    b[--o] = ZERO + m - q * 10;
    m = q;
  }
  out.length = end;
}

/** Decimal digits of a non-negative int32. */
function digitCount(m: number): number {
  return m < 10 ? 1 : m < 100 ? 2 : m < 1e3 ? 3 : m < 1e4 ? 4 : m < 1e5 ? 5 : m < 1e6 ? 6 : m < 1e7 ? 7 : m < 1e8 ? 8 : m < 1e9 ? 9 : 10;
}

/** An integer below 2^31 in magnitude, as decimal digits (−0 as 0). */
function putInteger(out: TextBuffer, v: number): void {
  let m = v < 0 ? -v | 0 : v | 0;
  if (v < 0) out.byte(MINUS);
  const b = out.bytes;
  let o = out.length + digitCount(m);
  out.length = o;
  do { const q = (m / 10) | 0; b[--o] = ZERO + m - q * 10; m = q; } while (m > 0);
}
