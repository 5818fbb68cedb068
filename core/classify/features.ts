import { ModelContractError } from '../errors';
import { globToRegExp } from '../workspace/discover';
import { columnIndex, measurementNames, numericColumn, textColumn, type QuantTable } from '../quantify/read-tsv';

/**
 * Per-cell feature rows from a measurement table: the columns a classifier uses, in its order, as one
 * row-major float array, with the cell identities beside them.
 */
export interface CellFeatures {
  /** Image name (the table's `Image` column of the first row, else the table's file name). */
  image: string;
  /** `Object ID` of each row. */
  ids: string[];
  /** Whole-cell mask label (`Name`) of each row. */
  labels: Int32Array;
  /** Centroid in the table's units (µm, or px when uncalibrated). */
  x: Float64Array;
  y: Float64Array;
  /** Feature names, in column order of `values`. */
  names: string[];
  /** rows × names.length, NaN where the table has no value. */
  values: Float32Array;
}

/** The centroid columns of a table (µm, else px). */
export function centroidColumns(table: QuantTable): { x: string; y: string } {
  const x = table.header.find((h) => /^Centroid X (µm|px)$/.test(h));
  const y = table.header.find((h) => /^Centroid Y (µm|px)$/.test(h));
  if (!x || !y) throw new ModelContractError(table.uri, 'the measurement table has no Centroid X/Y column');
  return { x, y };
}

/**
 * Feature rows of `names` from `table`.
 * @throws ModelContractError naming the table and every missing column.
 */
export function cellFeatures(table: QuantTable, names: readonly string[], what = 'the classifier'): CellFeatures {
  const missing = names.filter((n) => columnIndex(table, n) < 0);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map((m) => `'${m}'`).join(', ');
    throw new ModelContractError(table.uri, `${what} needs ${missing.length} measurement(s) this table does not have: ${shown}${missing.length > 5 ? ', …' : ''} ` +
      '(measured with other channels, compartments or statistics?)');
  }
  const n = table.rows.length;
  const values = new Float32Array(n * names.length);
  names.forEach((name, k) => {
    const col = numericColumn(table, name);
    for (let r = 0; r < n; r++) values[r * names.length + k] = col[r];
  });
  const { x, y } = centroidColumns(table);
  const imageCol = columnIndex(table, 'Image');
  const image = imageCol >= 0 && n > 0 ? table.rows[0][imageCol] : table.uri.replace(/^.*\//, '').replace(/_QUANT\.tsv$/, '');
  return {
    image, ids: textColumn(table, 'Object ID'), labels: Int32Array.from(numericColumn(table, 'Name')),
    x: numericColumn(table, x), y: numericColumn(table, y), names: [...names], values,
  };
}

/**
 * Which measurements to use: every measurement column common to all `tables` (shapes and intensities,
 * not identity or centroid columns, since position says nothing of a cell's type), or those matching one
 * of `patterns` (globs such as `Cell: *: Mean`).
 * @throws ModelContractError when nothing matches.
 */
export function chooseFeatures(tables: readonly QuantTable[], patterns: readonly string[] = []): string[] {
  if (tables.length === 0) return [];
  let common = measurementNames(tables[0]);
  for (const t of tables.slice(1)) {
    const have = new Set(measurementNames(t));
    common = common.filter((c) => have.has(c));
  }
  const res = patterns.map((p) => globToRegExp(p));
  const chosen = res.length ? common.filter((c) => res.some((r) => r.test(c))) : common;
  if (chosen.length === 0) {
    throw new ModelContractError(tables[0].uri, patterns.length
      ? `no measurement column matches ${patterns.map((p) => `'${p}'`).join(', ')}`
      : 'the measurement tables share no measurement column');
  }
  return chosen;
}

/** Per-feature median of the non-missing values (0 when a feature has none): what a missing value becomes. */
export function featureMedians(values: Float32Array, features: number): number[] {
  const n = values.length / features;
  const out: number[] = [];
  const col: number[] = [];
  for (let k = 0; k < features; k++) {
    col.length = 0;
    for (let r = 0; r < n; r++) { const v = values[r * features + k]; if (!Number.isNaN(v)) col.push(v); }
    col.sort((a, b) => a - b);
    out.push(col.length === 0 ? 0 : col.length % 2 ? col[(col.length - 1) / 2] : (col[col.length / 2 - 1] + col[col.length / 2]) / 2);
  }
  return out;
}

/** Replaces NaN by the feature's fill value, in place (a cell without a nucleus has no nucleus measurements). */
export function imputeInPlace(values: Float32Array, fill: readonly number[]): Float32Array {
  const f = fill.length;
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i])) values[i] = fill[i % f];
  return values;
}
