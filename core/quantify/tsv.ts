import { formatValue, measurementColumns, objectId } from './columns';
import type { CellTable } from './measure';

export interface TsvOptions {
  /** Value of the `Image` column and seed of the object IDs (QuPath shows the project entry name). */
  imageName: string;
  /** Pre-0.6 intensity names (`CD3: Cell: Mean`). @default false */
  legacyNames?: boolean;
  /** Rows per yielded chunk. @default 2000 */
  rowsPerChunk?: number;
}

/**
 * The measurement table as QuPath (≥ 0.6) exports it from *Measure → Export measurements*:
 * tab-separated, one row per cell, `Image`, `Object ID`, `Object type` (Cell), `Name` (whole-cell
 * label), `Classification` (empty), `Parent` (Image), `ROI` (Polygon), `Centroid X µm`,
 * `Centroid Y µm` (`px` when uncalibrated), then the measurements; missing values are empty.
 *
 * Yields the text in chunks of `rowsPerChunk` rows (the first holds the header) so a million-cell
 * table is streamed to disk rather than built as one string.
 */
export function* formatQuPathTsv(table: CellTable, opts: TsvOptions): Generator<string> {
  const cols = measurementColumns(table, opts.legacyNames);
  const u = table.unit;
  const header = ['Image', 'Object ID', 'Object type', 'Name', 'Classification', 'Parent', 'ROI', `Centroid X ${u}`, `Centroid Y ${u}`, ...cols.map((c) => c.name)];
  const image = opts.imageName.replace(/[\t\r\n]/g, ' ');
  const step = opts.rowsPerChunk ?? 2000;
  let chunk = header.join('\t') + '\n';
  const n = table.labels.length;
  const parts: string[] = new Array(9 + cols.length);
  for (let r = 0; r < n; r++) {
    parts[0] = image;
    parts[1] = objectId(opts.imageName, table.labels[r]);
    parts[2] = 'Cell';
    parts[3] = String(table.labels[r]);
    parts[4] = '';
    parts[5] = 'Image';
    parts[6] = 'Polygon';
    parts[7] = formatValue(table.centroidX[r], false);
    parts[8] = formatValue(table.centroidY[r], false);
    for (let k = 0; k < cols.length; k++) parts[9 + k] = formatValue(cols[k].values[r], cols[k].single);
    chunk += parts.join('\t') + '\n';
    if ((r + 1) % step === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
