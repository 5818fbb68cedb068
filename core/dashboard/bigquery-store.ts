import type { BigQuery } from '@google-cloud/bigquery';
import { parseTableRef } from '../bench/bigquery';
import { ConfigError, TesselError } from '../errors';
import { bigQueryDialect, type Dialect } from './sql';
import type { DashboardData } from './model';
import type { DashboardStore, SqlRow, StoreSession } from './store';

/** Options of {@link BigQueryStore}. */
export interface BigQueryStoreOptions {
  /** REST endpoint, e.g. an emulator's `http://127.0.0.1:9050`. @default Google's */
  apiEndpoint?: string;
  /** Project for a `dataset.table` reference and for query jobs. @default from the reference or credentials */
  projectId?: string;
  /** Location of the dataset, for query jobs. @default the dataset's */
  location?: string;
}

interface ApiError { code?: number | string; message?: string }

/**
 * Benchmark rows in a BigQuery table (the one `--benchmark-sink bigquery` streams into). Each figure is
 * one query job; the schema is read from the table's metadata first, so a table that is not a benchmark
 * table is named as such instead of failing in SQL.
 */
export class BigQueryStore implements DashboardStore {
  readonly source: DashboardData['source'];
  readonly dialect: Dialect;
  private readonly ref: ReturnType<typeof parseTableRef>;
  private client?: BigQuery;

  constructor(tableRef: string, private readonly opts: BigQueryStoreOptions = {}) {
    this.ref = parseTableRef(tableRef);
    const project = this.ref.projectId ?? opts.projectId;
    const name = [project, this.ref.datasetId, this.ref.tableId].filter(Boolean).join('.');
    this.source = { kind: 'bigquery', name };
    this.dialect = bigQueryDialect(name);
  }

  private bigquery(): BigQuery {
    if (this.client) return this.client;
    // Loaded lazily, as the sink does: DuckDB dashboards never load the Google clients.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { BigQuery: Client } = require('@google-cloud/bigquery') as typeof import('@google-cloud/bigquery');
    this.client = new Client({ projectId: this.ref.projectId ?? this.opts.projectId, apiEndpoint: this.opts.apiEndpoint });
    return this.client;
  }

  private fail(what: string, e: unknown): Error {
    const err = e as ApiError;
    const code = Number(err?.code);
    const msg = (err?.message ?? String(e)).replace(/\s+/g, ' ').trim();
    const file = `bigquery:${this.source.name}`;
    if (code === 404) return new ConfigError(`no such table (${msg})`, { file, cause: e });
    if (code === 401 || code === 403) {
      return new ConfigError(`permission denied to ${what} (${msg}); the dashboard needs roles/bigquery.dataViewer on the dataset and roles/bigquery.jobUser on the project`, { file, cause: e });
    }
    return new TesselError('STORAGE', `${what} failed: ${msg}`, { file, cause: e, retryable: code === 429 || code >= 500 });
  }

  async session<T>(fn: (s: StoreSession) => Promise<T>): Promise<T> {
    const bq = this.bigquery();
    const table = bq.dataset(this.ref.datasetId, { projectId: this.ref.projectId ?? this.opts.projectId }).table(this.ref.tableId);
    let fields: { name?: string }[];
    try {
      const [meta] = await table.getMetadata();
      fields = (meta as { schema?: { fields?: { name?: string }[] } }).schema?.fields ?? [];
    } catch (e) {
      throw this.fail('read the table schema', e);
    }
    const columns = new Set(fields.map((f) => String(f.name)));
    const query = async (sql: string): Promise<SqlRow[]> => {
      try {
        const [rows] = await bq.query({ query: sql, location: this.opts.location });
        return (rows as SqlRow[]).map(plainValues);
      } catch (e) {
        throw this.fail('query the benchmark rows', e);
      }
    };
    return fn({ columns, query });
  }
}

/** The client's wrapped values (BigQueryDate, BigQueryInt…) as plain ones. */
function plainValues(r: SqlRow): SqlRow {
  const out: SqlRow = {};
  for (const [k, v] of Object.entries(r)) out[k] = v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v;
  return out;
}
