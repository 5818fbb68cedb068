import { createHash } from 'node:crypto';
import type { BigQuery, Dataset, Table, TableField } from '@google-cloud/bigquery';
import { BIGQUERY_TABLE_RE } from '../config/env';
import { ConfigError, TesselError } from '../errors';
import { BENCHMARK_COLUMNS, normalizeRow, type BenchmarkRow, type BenchmarkSink, type ColumnDef } from './schema';
import { withRetry } from '../retry';

/** Options of {@link BigQuerySink}. */
export interface BigQuerySinkOptions {
  /** REST endpoint, e.g. an emulator's `http://127.0.0.1:9050`. @default Google's */
  apiEndpoint?: string;
  /** Project for a `dataset.table` reference and for query jobs. @default from the reference or credentials */
  projectId?: string;
  /** Location of a dataset the sink creates. @default 'US' */
  location?: string;
  /** Create the dataset and table when missing, and add missing columns. @default true */
  createIfMissing?: boolean;
  /** Put column descriptions into a table the sink creates or extends (an emulator may refuse them). @default true */
  describeColumns?: boolean;
  /** Backoff for rate limits and transient errors. @default {maxRetries: 6, baseDelayMs: 500, maxDelayMs: 32000} */
  retry?: Partial<{ maxRetries: number; baseDelayMs: number; maxDelayMs: number }>;
}

/** The BigQuery table schema of {@link BENCHMARK_COLUMNS}; `infra/bigquery/schema.json` is this, written out. */
export function bigQuerySchemaFields(columns: readonly ColumnDef[] = BENCHMARK_COLUMNS): TableField[] {
  return columns.map((c) => ({ name: c.name, type: c.type, mode: 'NULLABLE', description: c.description }));
}

/** `project.dataset.table` (project may be domain-scoped, `example.com:proj`) or `dataset.table`. */
export function parseTableRef(ref: string): { projectId?: string; datasetId: string; tableId: string } {
  const m = BIGQUERY_TABLE_RE.exec(ref.trim());
  if (!m) throw new ConfigError(`invalid BigQuery table '${ref}': expected project.dataset.table`);
  return { projectId: m[1], datasetId: m[2], tableId: m[3] };
}

/**
 * A stable row id for BigQuery's best-effort de-duplication of streaming inserts: one row per image
 * per run, so a retried record activity (whose timestamp differs) still maps to the same id.
 */
export function insertIdFor(row: BenchmarkRow): string {
  const key = row.run_id && row.input_file_id
    ? ['v1', row.run_id, row.workflow_id ?? '', row.input_file_id, row.compartment ?? ''].join('\u0000')
    : JSON.stringify(row);
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

interface ApiErrorLike { code?: number | string; message?: string; errors?: { reason?: string; message?: string; errors?: { reason?: string; message?: string }[] }[]; name?: string }

const RETRYABLE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'backendError', 'internalError', 'quotaExceeded']);

function reasons(e: unknown): string[] {
  const err = e as ApiErrorLike;
  return (err?.errors ?? []).flatMap((x) => [x.reason ?? '', ...(x.errors ?? []).map((y) => y.reason ?? '')]).filter(Boolean);
}

function isRetryable(e: unknown): boolean {
  const code = Number((e as ApiErrorLike)?.code);
  if (code === 429 || code === 408 || code >= 500) return true;
  if (reasons(e).some((r) => RETRYABLE_REASONS.has(r))) return true;
  return ['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN'].includes(String((e as ApiErrorLike)?.code));
}

/**
 * Streams benchmark rows into a BigQuery table with `tabledata.insertAll`, one stable `insertId` per
 * row, creating the dataset and the table (from {@link bigQuerySchemaFields}) when missing and adding columns that a newer Tessel introduced.
 * Rate limits and transient errors are retried with exponential backoff and full jitter; permission
 * and schema problems become one clear {@link ConfigError}.
 * See https://cloud.google.com/bigquery/docs/streaming-data-into-bigquery.
 */
export class BigQuerySink implements BenchmarkSink {
  readonly ref: { projectId?: string; datasetId: string; tableId: string };
  private client?: BigQuery;
  private ready?: Promise<void>;
  private readonly retry: { maxRetries: number; baseDelayMs: number; maxDelayMs: number };

  constructor(readonly tableRef: string, private readonly opts: BigQuerySinkOptions = {}) {
    this.ref = parseTableRef(tableRef);
    this.retry = { maxRetries: 6, baseDelayMs: 500, maxDelayMs: 32_000, ...opts.retry };
  }

  private bigquery(): BigQuery {
    if (this.client) return this.client;
    // Loaded lazily so local runs with the DuckDB sink never load the Google clients.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { BigQuery: Client } = require('@google-cloud/bigquery') as typeof import('@google-cloud/bigquery');
    this.client = new Client({
      projectId: this.ref.projectId ?? this.opts.projectId,
      apiEndpoint: this.opts.apiEndpoint,
      // Retries are ours (below), so their policy is explicit and a rate limit is never retried twice over.
      autoRetry: false,
    });
    return this.client;
  }

  private dataset(): Dataset {
    return this.bigquery().dataset(this.ref.datasetId, { projectId: this.ref.projectId ?? this.opts.projectId });
  }

  private table(): Table {
    return this.dataset().table(this.ref.tableId);
  }

  /** Fully qualified name for SQL and messages. */
  get qualifiedName(): string {
    const project = this.ref.projectId ?? this.opts.projectId ?? this.client?.projectId;
    return [project, this.ref.datasetId, this.ref.tableId].filter(Boolean).join('.');
  }

  private async withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, this.retry, isRetryable);
    } catch (e) {
      throw this.mapError(what, e);
    }
  }

  private mapError(what: string, e: unknown): Error {
    if (e instanceof TesselError) return e;
    const err = e as ApiErrorLike;
    const code = Number(err?.code);
    const why = reasons(e);
    const msg = (err?.message ?? String(e)).replace(/Multiple errors occurred during the request\. Please see the `errors` array for complete details\./, '')
      .replace(/\s+/g, ' ').trim();
    const file = `bigquery:${this.qualifiedName}`;
    if (code === 401 || (code === 403 && !why.some((r) => RETRYABLE_REASONS.has(r)))) {
      return new ConfigError(`permission denied to ${what} (${msg}); grant the service account roles/bigquery.dataEditor ` +
        'on the dataset and roles/bigquery.jobUser on the project', { file, cause: e });
    }
    if (err?.name === 'PartialFailureError' || (code === 400 && what.startsWith('insert'))) {
      const rowErrors = (err.errors ?? []).flatMap((r) => (r.errors ?? [r]).map((x) => x.message ?? x.reason ?? ''))
        .filter((m) => m && !/^$/.test(m));
      const detail = [...new Set(rowErrors)].slice(0, 5).join('; ') || msg;
      return new ConfigError(`rows do not fit the table's schema (${detail}); compare the table with infra/bigquery/schema.json`,
        { file, cause: e });
    }
    return new TesselError('STORAGE', `${what} failed: ${msg}`, { file, cause: e, retryable: isRetryable(e) });
  }

  /** Creates the dataset and table when missing and adds missing columns; runs once per sink. */
  ensureTable(): Promise<void> {
    this.ready ??= this.createOrUpdateTable().catch((e) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async createOrUpdateTable(): Promise<void> {
    if (this.opts.createIfMissing === false) return;
    const fields = bigQuerySchemaFields().map((f) => (this.opts.describeColumns === false ? { name: f.name, type: f.type, mode: f.mode } : f));
    const dataset = this.dataset();
    const [datasetExists] = await this.withRetry('read the dataset', () => dataset.exists());
    if (!datasetExists) {
      await this.withRetry('create the dataset', () => this.bigquery().createDataset(this.ref.datasetId, { location: this.opts.location ?? 'US' }))
        .catch(ignoreConflict);
    }
    const table = this.table();
    const [tableExists] = await this.withRetry('read the table', () => table.exists());
    if (!tableExists) {
      await this.withRetry('create the table', () => table.create({
        // Not partitioned: one row per image stays far below the ~10 GB per partition where
        // partitioning starts to pay (https://cloud.google.com/bigquery/docs/partitioned-tables).
        schema: { fields },
      })).catch(ignoreConflict);
      return;
    }
    const [meta] = await this.withRetry('read the table schema', () => table.getMetadata());
    const existing: TableField[] = meta.schema?.fields ?? [];
    const have = new Map(existing.map((f) => [f.name?.toLowerCase(), f]));
    const wrongType = fields.filter((f) => {
      const h = have.get(f.name!.toLowerCase());
      return h && normaliseType(h.type) !== normaliseType(f.type);
    });
    if (wrongType.length > 0) {
      throw new ConfigError(`columns with the wrong type: ${wrongType.map((f) => `${f.name} is ${have.get(f.name!.toLowerCase())?.type}, expected ${f.type}`).join(', ')}`,
        { file: `bigquery:${this.qualifiedName}` });
    }
    const missing = fields.filter((f) => !have.has(f.name!.toLowerCase()));
    if (missing.length > 0) {
      // Adding NULLABLE columns is the one schema change BigQuery allows in place.
      await this.withRetry('add columns to the table', () => table.setMetadata({ schema: { fields: [...existing, ...missing] } }));
    }
  }

  async write(rows: BenchmarkRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.ensureTable();
    const payload = rows.map((raw) => {
      const row = normalizeRow(raw);
      return { insertId: insertIdFor(row), json: toJsonRow(row) };
    });
    const table = this.table();
    // The same insertIds go out on every retry, so a retried request does not duplicate rows.
    await this.withRetry('insert benchmark rows', () => table.insert(payload, { raw: true, partialRetries: 0, skipInvalidRows: false, ignoreUnknownValues: false }));
  }

  /** Rows ordered by time then image, optionally one run's, through a parameterised query. */
  async list(opts: { runId?: string; limit?: number } = {}): Promise<BenchmarkRow[]> {
    const bq = this.bigquery();
    const where = opts.runId !== undefined ? 'WHERE run_id = @runId' : '';
    const limit = opts.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(opts.limit))}` : '';
    const query = `SELECT * FROM \`${this.qualifiedName}\` ${where} ORDER BY benchmark_datetime_utc, input_file_id ${limit}`;
    const [rows] = await this.withRetry('query benchmark rows', () =>
      bq.query({ query, params: opts.runId !== undefined ? { runId: opts.runId } : undefined, location: this.opts.location }));
    return (rows as Record<string, unknown>[]).map(fromQueryRow);
  }

  async close(): Promise<void> {}
}

function ignoreConflict(e: unknown): void {
  // Another worker created it first: fine.
  const cause = e instanceof TesselError ? e.cause : e;
  if (Number((cause as ApiErrorLike)?.code) === 409) return;
  throw e;
}

function normaliseType(t: string | undefined): string {
  const u = (t ?? '').toUpperCase();
  return u === 'FLOAT64' ? 'FLOAT' : u === 'INT64' ? 'INTEGER' : u === 'BOOL' ? 'BOOLEAN' : u;
}

/** Values in the JSON form insertAll expects; nulls are left out (all columns are NULLABLE). */
function toJsonRow(row: BenchmarkRow): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const c of BENCHMARK_COLUMNS) {
    const v = row[c.name];
    if (v === null || v === undefined) continue;
    if (c.type === 'INTEGER') out[c.name] = Math.round(Number(v));
    else if (c.type === 'FLOAT') out[c.name] = Number(v);
    else if (c.type === 'BOOLEAN') out[c.name] = typeof v === 'boolean' ? v : v === 'true' || v === 1;
    // BigQuery DATETIME takes no zone designator; rows carry UTC already.
    else if (c.type === 'DATETIME') out[c.name] = String(v).replace(/(Z|[+-]00:?00)$/, '');
    else out[c.name] = String(v);
  }
  return out;
}

/** Query values back to plain JSON values (DATETIME/TIMESTAMP objects → strings, INT64 → number). */
function fromQueryRow(r: Record<string, unknown>): BenchmarkRow {
  const out: BenchmarkRow = {};
  for (const c of BENCHMARK_COLUMNS) {
    let v = r[c.name];
    if (v && typeof v === 'object' && 'value' in v) v = (v as { value: unknown }).value;
    if (v === null || v === undefined) out[c.name] = null;
    else if (c.type === 'INTEGER' || c.type === 'FLOAT') out[c.name] = Number(v);
    else if (c.type === 'BOOLEAN') out[c.name] = v === true || v === 'true';
    else out[c.name] = String(v);
  }
  return out;
}
