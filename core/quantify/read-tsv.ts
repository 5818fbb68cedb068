import { ConfigError, InvalidArrayError } from '../errors';
import { storeFor } from '../storage';

/**
 * A QuPath measurement table read back (`REPORTS/<name>_QUANT.tsv`, as {@link formatQuPathTsv} writes it
 * or QuPath exports it): the header, and each row's cells as text. Numbers are parsed per column on
 * demand, so a reader that needs three columns of a 140-column table parses three.
 */
export interface QuantTable {
  uri: string;
  header: string[];
  rows: string[][];
}

/** The columns every Tessel/QuPath table has and the review and classify steps rely on. */
export const KEY_COLUMNS = ['Image', 'Object ID', 'Name', 'Classification'] as const;

/**
 * Reads a QuPath measurement TSV.
 * @throws NotFoundError when it does not exist; InvalidArrayError when it is empty, has no `Object ID`
 *   or `Name` column, or a row with another number of cells than the header.
 */
export async function readQuantTable(uri: string): Promise<QuantTable> {
  const text = Buffer.from(await storeFor(uri).readAll(uri)).toString('utf8');
  return parseQuantTable(text, uri);
}

/** {@link readQuantTable} on text already read. */
export function parseQuantTable(text: string, uri: string): QuantTable {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0 || lines[0].trim() === '') throw new InvalidArrayError(uri, 'the measurement table is empty (no header)');
  const header = lines[0].replace(/\r$/, '').split('\t');
  for (const need of ['Object ID', 'Name']) {
    if (!header.includes(need)) throw new InvalidArrayError(uri, `the measurement table has no '${need}' column (not a QuPath/Tessel measurement table?)`);
  }
  const rows: string[][] = new Array(lines.length - 1);
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].replace(/\r$/, '').split('\t');
    if (cells.length !== header.length) {
      throw new InvalidArrayError(uri, `row ${i} has ${cells.length} cells, the header has ${header.length} (truncated or corrupt table?)`);
    }
    rows[i - 1] = cells;
  }
  return { uri, header, rows };
}

/** Index of a column, or -1. */
export function columnIndex(table: QuantTable, name: string): number {
  return table.header.indexOf(name);
}

/**
 * One column as numbers (empty cells and non-numbers become NaN).
 * @throws ConfigError naming the table and the closest column names when it has no such column.
 */
export function numericColumn(table: QuantTable, name: string): Float64Array {
  const k = columnIndex(table, name);
  if (k < 0) throw new ConfigError(`no column '${name}' in ${table.uri}${suggest(table.header, name)}`, { file: table.uri });
  const out = new Float64Array(table.rows.length);
  for (let r = 0; r < table.rows.length; r++) {
    const cell = table.rows[r][k];
    out[r] = cell === '' ? NaN : Number(cell);
  }
  return out;
}

/** One column as text. @throws ConfigError when it has no such column. */
export function textColumn(table: QuantTable, name: string): string[] {
  const k = columnIndex(table, name);
  if (k < 0) throw new ConfigError(`no column '${name}' in ${table.uri}${suggest(table.header, name)}`, { file: table.uri });
  return table.rows.map((r) => r[k]);
}

/** The measurement columns: everything after the identity, ROI and centroid columns. */
export function measurementNames(table: QuantTable): string[] {
  const start = table.header.findIndex((h) => /^Centroid Y /.test(h));
  return table.header.slice(start >= 0 ? start + 1 : 0).filter((h) => !['Image', 'Object ID', 'Object type', 'Name', 'Classification', 'Parent', 'ROI'].includes(h));
}

/**
 * `; did you mean …` with up to three names closest to `name`: most words in common, then a word that
 * starts like one of `name`'s other words (CD4 → CD3, CD8), or nothing when none shares a word.
 */
export function suggest(names: readonly string[], name: string): string {
  const split = (s: string) => s.toLowerCase().split(/[\s:]+/).filter(Boolean);
  const words = split(name);
  const scored = names.map((n) => {
    const theirs = split(n);
    const shared = words.filter((w) => theirs.includes(w));
    const alike = words.filter((w) => !shared.includes(w) && theirs.some((t) => t.length >= 2 && w.length >= 2 && t.slice(0, 2) === w.slice(0, 2))).length;
    return { n, s: shared.length + 0.5 * alike, shared: shared.length };
  }).filter((x) => x.shared > 0);
  scored.sort((a, b) => b.s - a.s);
  return scored.length ? `; did you mean ${scored.slice(0, 3).map((x) => `'${x.n}'`).join(', ')}?` : '';
}
