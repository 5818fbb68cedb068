/**
 * The dashboard's BigQuery path against Crucible (a DuckDB-backed BigQuery REST emulator, with the real
 * @google-cloud/bigquery client): the same known rows in a BigQuery table and in a DuckDB file give the
 * same dashboard, figure for figure; a table without the benchmark schema, or none at all, is a clear
 * error; and the CLI reads from BigQuery with --bigquery-table.
 */
import { BigQuery } from '@google-cloud/bigquery';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuerySink } from '../../core/bench/bigquery';
import { closeDuckDbFiles, DuckDbSink } from '../../core/bench/duckdb';
import { BENCHMARK_COLUMNS, type BenchmarkRow } from '../../core/bench/schema';
import { BigQueryStore } from '../../core/dashboard/bigquery-store';
import { collectDashboard } from '../../core/dashboard/collect';
import { bigQueryDialect } from '../../core/dashboard/sql';
import { DuckDbStore } from '../../core/dashboard/store';
import { ConfigError } from '../../core/errors';
import { crucibleAvailable, startBqEmulator, type BqEmulator } from '../helpers/bq-emulator';
import { KNOWN_PRICE_TABLE, knownRows } from '../helpers/benchmark-rows';
import { tessel } from '../helpers/cluster';

jest.mock('teeny-request', () => jest.requireActual('../helpers/bq-emulator').teenyRequestForJest());
process.env.METADATA_SERVER_DETECTION = 'none';
jest.setTimeout(180_000);

const avail = crucibleAvailable();
if (!avail.ok && !process.env.CI) console.warn(`SKIPPING dashboard BigQuery tests: ${avail.reason}`);
const maybe = avail.ok || process.env.CI ? describe : describe.skip;

/** Rows as one INSERT … VALUES statement (Crucible has no streaming insertAll). */
function insertSql(table: string, rows: BenchmarkRow[]): string {
  const d = bigQueryDialect(table);
  const lit = (v: BenchmarkRow[string], type: string) => v === null ? 'NULL'
    : type === 'STRING' ? d.str(String(v)) : type === 'BOOLEAN' ? (v ? 'TRUE' : 'FALSE') : type === 'DATETIME' ? `DATETIME ${d.str(String(v))}` : String(v);
  const cols = BENCHMARK_COLUMNS.map((c) => c.name).join(', ');
  return `INSERT INTO ${d.table} (${cols}) VALUES ${rows.map((r) => `(${BENCHMARK_COLUMNS.map((c) => lit(r[c.name], c.type)).join(', ')})`).join(',\n')}`;
}

/** Numbers rounded to 9 significant digits: two stores summing in different orders differ in the last bits only. */
const rounded = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isInteger(x) ? Number(x.toPrecision(9)) : x)));

maybe('the dashboard from BigQuery (Crucible)', () => {
  let emu: BqEmulator;
  let client: BigQuery;
  const dir = mkdtempSync(join(tmpdir(), 'tessel-dash-bq-'));
  beforeAll(async () => {
    emu = await startBqEmulator();
    client = new BigQuery({ projectId: emu.projectId, apiEndpoint: emu.endpoint });
    await new BigQuerySink(`${emu.projectId}.dash.rows`, { apiEndpoint: emu.endpoint, describeColumns: false }).ensureTable();
    const [job] = await client.createQueryJob({ query: insertSql(`${emu.projectId}.dash.rows`, knownRows()) });
    await job.getQueryResults();
  });
  afterAll(async () => emu?.stop());

  it('gives the same dashboard as the same rows in DuckDB', async () => {
    const file = join(dir, 'same.duckdb');
    await new DuckDbSink(file).write(knownRows());
    closeDuckDbFiles();
    const opts = { priceTable: KNOWN_PRICE_TABLE, now: 0 };
    const fromBq = await collectDashboard(new BigQueryStore(`${emu.projectId}.dash.rows`, { apiEndpoint: emu.endpoint }), opts);
    const fromDuck = await collectDashboard(new DuckDbStore(file), opts);
    expect(fromBq.source).toEqual({ kind: 'bigquery', name: `${emu.projectId}.dash.rows` });
    expect(fromBq.rows).toBe(13);
    expect(fromBq.notes).toEqual([]);
    const { source: _a, ...bq } = fromBq;
    const { source: _b, ...duck } = fromDuck;
    expect(rounded(bq)).toEqual(rounded(duck));
    // Not vacuous: every part of the page has content.
    for (const k of ['imageCells', 'stageCells', 'failureCells', 'busy', 'islands', 'images', 'points', 'failures'] as const) expect(bq[k].length).toBeGreaterThan(0);
  });

  it('a run the table does not have is named, with the runs it has', async () => {
    const err = await collectDashboard(new BigQueryStore(`${emu.projectId}.dash.rows`, { apiEndpoint: emu.endpoint }), { runs: ['nope'] }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/no run 'nope' in this store; its runs, latest first: run-b \(7 images\), run-a \(6 images\)/);
  });

  it('a table without the benchmark schema, and a missing table, are clear errors', async () => {
    await client.dataset('dash').createTable('other', { schema: { fields: [{ name: 'a', type: 'INT64' }, { name: 'b', type: 'STRING' }] } });
    const err = await collectDashboard(new BigQueryStore(`${emu.projectId}.dash.other`, { apiEndpoint: emu.endpoint })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`bigquery:${emu.projectId}.dash.other: not a Tessel benchmark table: it lacks run_id, input_file_id, success, ` +
      'benchmark_datetime_utc (the schema is infra/bigquery/schema.json, the table the benchmark sink creates)');
    const missing = await collectDashboard(new BigQueryStore(`${emu.projectId}.dash.nothing`, { apiEndpoint: emu.endpoint })).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(new RegExp(`^bigquery:${emu.projectId}\\.dash\\.nothing: no such table`));
  });

  it('the CLI reads the table with --bigquery-table, one run with --run', async () => {
    const out = join(dir, 'bq.html');
    const res = await tessel(['dashboard', '--bigquery-table', `${emu.projectId}.dash.rows`, '--bigquery-endpoint', emu.endpoint, '--run', 'run-a', '--out', out],
      { METADATA_SERVER_DETECTION: 'none' });
    expect(res.stderr).toMatch(/reading BigQuery table tessel-test\.dash\.rows…\n6 row\(s\) of 1 run\(s\)/);
    expect(res.code).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});
