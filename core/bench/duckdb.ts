import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { withRetry, type RetryPolicy } from '../retry';
import { BENCHMARK_COLUMNS, normalizeRow, type BenchmarkRow, type BenchmarkSink, type ColumnType } from './schema';

const fileQueues = new Map<string, Promise<unknown>>();

const SQL_TYPES: Record<ColumnType, string> = {
  STRING: 'VARCHAR', FLOAT: 'DOUBLE', INTEGER: 'BIGINT', BOOLEAN: 'BOOLEAN', DATETIME: 'TIMESTAMP', TIMESTAMP: 'TIMESTAMPTZ',
};

/** An open file kept for a moment after its last use, so a burst of writes opens it once. */
interface OpenFile { instance: DuckDBInstance; conn: DuckDBConnection; timer?: NodeJS.Timeout; ensured: Set<string> }
const openFiles = new Map<string, OpenFile>();
/** How long an unused file stays open (and locked against other processes, which retry). */
const LINGER_MS = 1000;
/** The columns that identify a row. */
const ROW_KEY = ['run_id', 'input_file_id', 'compartment'] as const;
/** Waiting for another process's lock: up to ~70 s in all, never more than 2 s at a time. */
const LOCK_RETRY: RetryPolicy = { maxRetries: 40, baseDelayMs: 50, maxDelayMs: 2000 };

function closeFile(path: string): void {
  const f = openFiles.get(path);
  if (!f) return;
  openFiles.delete(path);
  clearTimeout(f.timer);
  try {
    f.conn.closeSync();
    f.instance.closeSync();
  } catch {
    // Closing is best effort: committed rows are already in the file or its WAL.
  }
}

/** Closes every DuckDB file this process holds open (also done at exit). */
export function closeDuckDbFiles(): void {
  for (const path of [...openFiles.keys()]) closeFile(path);
}
process.once('exit', closeDuckDbFiles);

/**
 * Benchmark rows in a local DuckDB file, table `benchmarks`, one column per {@link BENCHMARK_COLUMNS}.
 * Columns added to the schema since a file was made are added to its table on open; a row is keyed by
 * (run_id, input_file_id, compartment), so writing it again replaces it. DuckDB allows one writer
 * process per file: the sink opens the file for a call and closes it {@link LINGER_MS} after the last
 * call, so workers, the CLI and other processes take turns (they retry while another holds it).
 */
export class DuckDbSink implements BenchmarkSink {
  constructor(readonly path: string, readonly table = 'benchmarks') {}

  /**
   * One call at a time per file in this process (a promise chain), and retries with backoff when
   * another process holds DuckDB's file lock, so concurrent record activities never fail on contention.
   */
  private async withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const prior = fileQueues.get(this.path) ?? Promise.resolve();
    // DuckDB's words for another process holding the file (not any message that mentions a path with "lock" in it).
    const heldElsewhere = (e: unknown) => /could not set lock|conflicting lock/i.test((e as Error).message);
    const run = prior.catch(() => undefined).then(() => withRetry(() => this.connectOnce(fn), LOCK_RETRY, heldElsewhere));
    fileQueues.set(this.path, run);
    return run;
  }

  private async connectOnce<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    let file = openFiles.get(this.path);
    if (file) {
      clearTimeout(file.timer);
    } else {
      mkdirSync(dirname(this.path), { recursive: true });
      const instance = await DuckDBInstance.create(this.path);
      const conn = await instance.connect();
      file = { instance, conn, ensured: new Set() };
      openFiles.set(this.path, file);
    }
    try {
      // The table is checked (created, columns added) once per opening, not on every call.
      if (!file.ensured.has(this.table)) {
        await this.ensureTable(file.conn);
        file.ensured.add(this.table);
      }
      const result = await fn(file.conn);
      file.timer = setTimeout(() => closeFile(this.path), LINGER_MS);
      file.timer.unref();
      return result;
    } catch (e) {
      closeFile(this.path);
      throw e;
    }
  }

  private async ensureTable(conn: DuckDBConnection): Promise<void> {
    const cols = BENCHMARK_COLUMNS.map((c) => `"${c.name}" ${SQL_TYPES[c.type]}`).join(', ');
    await conn.run(`CREATE TABLE IF NOT EXISTS "${this.table}" (${cols})`);
    // duckdb_columns() answers in ~3 ms where information_schema.columns takes ~40.
    const existing = await conn.runAndReadAll(`SELECT column_name FROM duckdb_columns() WHERE table_name = $table AND schema_name = 'main'`, { table: this.table });
    const have = new Set(existing.getRowObjects().map((r) => String(r.column_name)));
    for (const c of BENCHMARK_COLUMNS) {
      if (!have.has(c.name)) await conn.run(`ALTER TABLE "${this.table}" ADD COLUMN "${c.name}" ${SQL_TYPES[c.type]}`);
    }
    // One row per (run, image, compartment): a retried record activity replaces its row. Files written
    // before the key existed may hold such duplicates; the latest of each is kept.
    const key = ROW_KEY.map((k) => `"${k}"`).join(', ');
    const index = `CREATE UNIQUE INDEX IF NOT EXISTS "${this.table}_row_key" ON "${this.table}" (${key})`;
    try {
      await conn.run(index);
    } catch {
      await conn.run(`DELETE FROM "${this.table}" WHERE rowid NOT IN (SELECT max(rowid) FROM "${this.table}" GROUP BY ${key})`);
      await conn.run(index);
    }
  }

  async write(rows: BenchmarkRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.withConnection(async (conn) => {
      const names = BENCHMARK_COLUMNS.map((c) => `"${c.name}"`).join(', ');
      const placeholders = BENCHMARK_COLUMNS.map((c) => (c.type === 'DATETIME' ? 'CAST(? AS TIMESTAMP)' : '?')).join(', ');
      const stmt = await conn.prepare(`INSERT OR REPLACE INTO "${this.table}" (${names}) VALUES (${placeholders})`);
      for (const raw of rows) {
        const row = normalizeRow(raw);
        BENCHMARK_COLUMNS.forEach((c, i) => {
          const v = row[c.name];
          const idx = i + 1;
          if (v === null) stmt.bindNull(idx);
          else if (c.type === 'INTEGER') stmt.bindBigInt(idx, BigInt(Math.round(Number(v))));
          else if (c.type === 'FLOAT') stmt.bindDouble(idx, Number(v));
          else if (c.type === 'BOOLEAN') stmt.bindBoolean(idx, Boolean(v));
          else stmt.bindVarchar(idx, String(v));
        });
        await stmt.run();
      }
    });
  }

  async list(opts: { runId?: string; limit?: number } = {}): Promise<BenchmarkRow[]> {
    return this.withConnection(async (conn) => {
      const where = opts.runId !== undefined ? 'WHERE run_id = $runId' : '';
      const limit = opts.limit ? `LIMIT ${Math.floor(opts.limit)}` : '';
      const params = opts.runId !== undefined ? { runId: opts.runId } : undefined;
      const reader = await conn.runAndReadAll(`SELECT * FROM "${this.table}" ${where} ORDER BY benchmark_datetime_utc, input_file_id ${limit}`, params);
      return reader.getRowObjectsJson().map((r) => {
        const out: BenchmarkRow = {};
        for (const c of BENCHMARK_COLUMNS) {
          const v = r[c.name];
          out[c.name] = v === null || v === undefined ? null : c.type === 'INTEGER' || c.type === 'FLOAT' ? Number(v) : (v as string | boolean);
        }
        return out;
      });
    });
  }

  /** Nothing to release: the file closes {@link LINGER_MS} after its last call ({@link closeDuckDbFiles} closes it now). */
  async close(): Promise<void> {}
}
