import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { existsSync, statSync } from 'node:fs';
import { ConfigError, TesselError } from '../errors';
import { DASHBOARD_COLUMNS, duckDbDialect, type Dialect } from './sql';
import type { DashboardData } from './model';
import { withRetry } from '../retry';

export type SqlRow = Record<string, unknown>;

/** A session on the store: the table's columns and a query function, valid until the session ends. */
export interface StoreSession {
  columns: ReadonlySet<string>;
  query(sql: string): Promise<SqlRow[]>;
}

/** Where benchmark rows are read from; {@link DuckDbStore} or `BigQueryStore` (core/dashboard/bigquery-store.ts). */
export interface DashboardStore {
  readonly source: DashboardData['source'];
  readonly dialect: Dialect;
  /** Runs `fn` in one session (for DuckDB, one hold of the file, released at once after). */
  session<T>(fn: (s: StoreSession) => Promise<T>): Promise<T>;
}

/** Options of {@link DuckDbStore}. */
export interface DuckDbStoreOptions {
  /** @default 'benchmarks' */
  table?: string;
  /** How long to wait for a process that holds the file (a writer) before giving up. @default 30000 */
  lockTimeoutMs?: number;
}

const LOCK_RE = /could not set lock|conflicting lock/i;

/**
 * A DuckDB benchmarks file, attached read-only for each session just long enough to copy the columns the
 * dashboard reads into memory, so workers writing rows (which retry while another process holds the file)
 * wait a moment at most. DuckDB lets one process hold a file that is being written: while a writer holds
 * it, this waits with backoff (as the sink does) up to `lockTimeoutMs`, then says who holds it.
 */
export class DuckDbStore implements DashboardStore {
  readonly source: DashboardData['source'];
  readonly dialect: Dialect;
  private readonly table: string;
  /** How long the last session held the file (attach, copy, detach), ms. */
  heldMs = 0;

  constructor(readonly path: string, private readonly opts: DuckDbStoreOptions = {}) {
    this.table = opts.table ?? 'benchmarks';
    this.source = { kind: 'duckdb', name: path };
    this.dialect = duckDbDialect(this.table);
  }

  async session<T>(fn: (s: StoreSession) => Promise<T>): Promise<T> {
    if (!existsSync(this.path)) {
      throw new TesselError('NOT_FOUND', 'no benchmarks file: a run writes it with its first image (give a workspace root, or --benchmarks <file>)', { file: this.path });
    }
    if (statSync(this.path).isDirectory()) throw new ConfigError('is a folder, not a DuckDB file (pass the workspace root without --benchmarks)', { file: this.path });
    // The file is held only while the columns the dashboard reads are copied into memory (~0.2 s for
    // 100,000 rows); the figures' queries then run on the copy, so writers wait a moment, not the whole page.
    const instance = await DuckDBInstance.create(':memory:');
    try {
      const conn = await instance.connect();
      let columns: Set<string>;
      try {
        await this.attach(conn);
        const held = performance.now();
        try {
          const found = await conn.runAndReadAll(`SELECT column_name FROM duckdb_columns() WHERE database_name = 'src' AND schema_name = 'main' AND table_name = ${this.dialect.str(this.table)}`);
          columns = new Set(found.getRowObjectsJson().map((r) => String(r.column_name)));
          if (columns.size === 0) {
            const tables = (await conn.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'")).getRowObjectsJson().map((r) => String(r.table_name));
            throw new ConfigError(`no table '${this.table}' in this DuckDB file (${tables.length ? `it has ${tables.join(', ')}` : 'it has no tables'}); ` +
              'Tessel writes its rows to table benchmarks of BENCHMARKS/benchmarks.duckdb', { file: this.path });
          }
          const copied = DASHBOARD_COLUMNS.filter((c) => columns.has(c));
          // None: not a benchmark table, which the caller says when it checks the columns.
          if (copied.length > 0) await conn.run(`CREATE TABLE ${this.dialect.table} AS SELECT ${copied.map((c) => `"${c}"`).join(', ')} FROM src.main.${this.dialect.table}`);
        } finally {
          await conn.run('DETACH src');
          this.heldMs = performance.now() - held;
        }
      } finally {
        conn.closeSync();
      }
      // Each query on its own connection: DuckDB runs them side by side.
      const query = async (sql: string): Promise<SqlRow[]> => {
        const c = await instance.connect();
        try {
          return (await c.runAndReadAll(sql)).getRowObjectsJson() as SqlRow[];
        } catch (e) {
          throw new TesselError('STORAGE', `query failed: ${(e as Error).message}`, { file: this.path, cause: e, retryable: false });
        } finally {
          c.closeSync();
        }
      };
      return await fn({ columns, query });
    } finally {
      instance.closeSync();
    }
  }

  /** Attaches the file read-only as `src`, waiting (with backoff) while another process holds it. */
  private async attach(conn: DuckDBConnection): Promise<void> {
    const timeoutMs = this.opts.lockTimeoutMs ?? 30_000;
    // Short waits first (a worker keeps the file ~1 s after a row), as the sink does.
    const policy = { maxRetries: Number.POSITIVE_INFINITY, baseDelayMs: 25, maxDelayMs: 1000, totalTimeoutMs: timeoutMs };
    try {
      await withRetry(() => conn.run(`ATTACH ${this.dialect.str(this.path)} AS src (READ_ONLY)`), policy, (e) => LOCK_RE.test((e as Error).message));
    } catch (e) {
      const msg = (e as Error).message;
      if (/not a valid DuckDB database file/i.test(msg)) throw new ConfigError('not a DuckDB database file', { file: this.path });
      if (!LOCK_RE.test(msg)) throw new TesselError('STORAGE', `cannot open: ${msg}`, { file: this.path, cause: e });
      const holder = /held in (.+?) \(PID (\d+)\)/.exec(msg);
      throw new TesselError('STORAGE', `held by another process${holder ? ` (${holder[1]}, PID ${holder[2]})` : ''} for over ` +
        `${Math.round(timeoutMs / 1000)} s: DuckDB lets one process open a file another writes; ` +
        'Tessel workers release it a second after each row, so a process that keeps it open (a duckdb shell, a notebook) must close it',
      { file: this.path, cause: e, retryable: true });
    }
  }
}
