import { ConfigError } from '../errors';
import { StagedFile } from '../storage/staged-file';
import { measurementColumns, type MeasurementColumn } from './columns';
import { geoJsonFeature } from './geojson';
import type { CellTable } from './measure';
import { putTsvRows, TextBuffer, tsvHeader, tsvRows, type TsvOptions, type TsvRows } from './tsv';

/** Rows formatted per write to the staged file: ~1–2 MB of text for a few hundred columns. */
const ROWS_PER_WRITE = 2000;

/** Options of the measurement writers. */
export interface MeasurementWriterOptions extends TsvOptions {
  /**
   * Formats rows elsewhere (`formatTsvRows` on a helper thread): the table writer then formats every
   * other chunk of rows there while it formats and writes the one before (one chunk ahead, so memory
   * stays bounded). Formatting was 15–20% of quantify's time on 33,000 cells × 8 channels.
   */
  formatOffThread?: (rows: TsvRows) => Promise<Uint8Array>;
}

/**
 * The QuPath measurement table (`<name>_QUANT.tsv`, see `tsvHeader`) written as cells are measured:
 * each {@link append} formats its table's rows into a staged file, so neither the text nor the rows
 * already written are held; {@link commit} publishes the file atomically (local rename, or an upload
 * with a generation precondition on GCS). Blockwise runs append one table per block, in the order
 * the rows should appear; the first table fixes the columns and every later one must have the same.
 *
 * ```ts
 * const tsv = await MeasurementTableWriter.open('REPORTS/img_QUANT.tsv', { imageName: 'img' });
 * for (const block of blocks) await tsv.append(measureBlock(block)); // CellTable per block
 * await tsv.commit();                                                 // or tsv.abort()
 * ```
 */
export class MeasurementTableWriter {
  private columns?: MeasurementColumn[];
  private readonly text = new TextBuffer();
  private rows = 0;

  private constructor(private readonly file: StagedFile, private readonly opts: MeasurementWriterOptions) {}

  /** Starts the table at `uri` (local path or gs://); nothing appears there before {@link commit}. */
  static async open(uri: string, opts: MeasurementWriterOptions): Promise<MeasurementTableWriter> {
    return new MeasurementTableWriter(await StagedFile.create(uri), opts);
  }

  /** Rows written so far. */
  get rowCount(): number {
    return this.rows;
  }

  /**
   * Appends one row per cell of `table`.
   * @throws ConfigError when its columns differ from the first table's.
   */
  async append(table: CellTable): Promise<void> {
    const cols = measurementColumns(table, this.opts.legacyNames);
    if (!this.columns) {
      this.columns = cols;
      await this.file.append(tsvHeader(table, this.opts));
    } else {
      checkSameColumns(this.columns, cols, this.file.uri);
    }
    const n = table.labels.length;
    const elsewhere = this.opts.formatOffThread;
    for (let r = 0; r < n; r += elsewhere ? 2 * ROWS_PER_WRITE : ROWS_PER_WRITE) {
      const end = Math.min(n, r + ROWS_PER_WRITE);
      const next = elsewhere && end < n ? elsewhere(tsvRows(table, cols, this.opts, end, Math.min(n, end + ROWS_PER_WRITE))) : undefined;
      next?.catch(() => undefined); // awaited below; a failure must not go unhandled while this chunk is written
      putTsvRows(table, cols, this.opts, r, end, this.text);
      await this.file.append(this.text.take());
      if (next) await this.file.append(await next);
    }
    this.rows += n;
  }

  /** Publishes the table (a header only, if no table was appended, is refused: the columns are unknown). */
  async commit(): Promise<void> {
    if (!this.columns) {
      await this.file.abort();
      throw new ConfigError('no cells were appended, so the table has no columns', { file: this.file.uri });
    }
    await this.file.commit();
  }

  /** Drops what was written; nothing appears at the URI. */
  async abort(): Promise<void> {
    await this.file.abort();
  }
}

/**
 * Cells as a QuPath-importable GeoJSON FeatureCollection (see `formatGeoJson`), written as tables of
 * measured cells (measured `withGeometry`) are appended; the same life cycle as
 * {@link MeasurementTableWriter}. An empty collection is valid.
 */
export class GeoJsonWriter {
  private columns?: MeasurementColumn[];
  private features = 0;
  private started = false;

  private constructor(private readonly file: StagedFile, private readonly opts: MeasurementWriterOptions) {}

  static async open(uri: string, opts: MeasurementWriterOptions): Promise<GeoJsonWriter> {
    return new GeoJsonWriter(await StagedFile.create(uri), opts);
  }

  /**
   * Appends one Feature per cell of `table`.
   * @throws ConfigError when the table has no outlines, or its columns differ from the first table's.
   */
  async append(table: CellTable): Promise<void> {
    if (!table.geometry) throw new ConfigError('GeoJSON needs outlines: measure the cells with withGeometry: true');
    const cols = measurementColumns(table, this.opts.legacyNames);
    if (!this.columns) this.columns = cols;
    else checkSameColumns(this.columns, cols, this.file.uri);
    await this.start();
    const n = table.labels.length;
    for (let r = 0; r < n; r += ROWS_PER_WRITE / 2) {
      let chunk = '';
      for (let k = r; k < Math.min(n, r + ROWS_PER_WRITE / 2); k++) chunk += (this.features++ > 0 ? ',\n' : '') + geoJsonFeature(table, k, cols, this.opts);
      await this.file.append(chunk);
    }
  }

  async commit(): Promise<void> {
    await this.file.commitAfter(async () => {
      await this.start();
      await this.file.append('\n]}\n');
    });
  }

  async abort(): Promise<void> {
    await this.file.abort();
  }

  private async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.file.append('{"type":"FeatureCollection","features":[\n');
  }
}

function checkSameColumns(first: MeasurementColumn[], next: MeasurementColumn[], file: string): void {
  if (first.length !== next.length || first.some((c, i) => c.name !== next[i].name)) {
    throw new ConfigError(`appended cells have different measurement columns from the first (${next.length} vs ${first.length})`, { file });
  }
}
