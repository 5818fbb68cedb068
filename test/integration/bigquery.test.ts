/**
 * BigQuerySink with the real @google-cloud/bigquery client over HTTP against Crucible (a DuckDB-backed
 * BigQuery REST emulator). Crucible has no tabledata.insertAll, so streaming inserts are checked
 * through a proxy that answers that one endpoint (throttling, permission and schema replies as BigQuery
 * sends them) and records what the client sent; everything else reaches the emulator.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { BigQuerySink, bigQuerySchemaFields, insertIdFor } from '../../core/bench/bigquery';
import { BENCHMARK_COLUMNS, normalizeRow, type BenchmarkRow } from '../../core/bench/schema';
import { ConfigError } from '../../core/errors';
import { crucibleAvailable, startBqEmulator, type BqEmulator } from '../helpers/bq-emulator';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';

jest.mock('teeny-request', () => jest.requireActual('../helpers/bq-emulator').teenyRequestForJest());
// No GCE metadata server here: without this, google-auth probes it and warns on every client.
process.env.METADATA_SERVER_DETECTION = 'none';

const avail = crucibleAvailable();
if (!avail.ok && !process.env.CI) console.warn(`SKIPPING bigquery integration tests: ${avail.reason}`);
const maybe = avail.ok || process.env.CI ? describe : describe.skip;

const row = (image: string, extra: Partial<BenchmarkRow> = {}): BenchmarkRow => normalizeRow({
  input_file_id: image, run_id: 'run-1', workflow_id: `run-1/${image}`, compartment: 'both', success: true, pixels: 1_000_000,
  numpy_size_mb: 7.63, benchmark_datetime_utc: '2024-05-06 07:08:09.123', prediction_batch_size: 16, cloud_region: 'us-central1', ...extra,
});

maybe('BigQuerySink on Crucible', () => {
  let emu: BqEmulator;
  let client: BigQuery;
  // Crucible refuses column descriptions ("schema field options"), so tables here are created without them.
  const fast = { maxRetries: 4, baseDelayMs: 20, maxDelayMs: 200 };
  const base = { describeColumns: false, retry: fast };

  beforeAll(async () => {
    emu = await startBqEmulator();
    client = new BigQuery({ projectId: emu.projectId, apiEndpoint: emu.endpoint });
  });
  afterAll(async () => emu?.stop());

  test('creates the dataset and the table with exactly schema.json, once', async () => {
    const sink = new BigQuerySink(`${emu.projectId}.bench_a.rows`, { apiEndpoint: emu.endpoint, ...base });
    await sink.ensureTable();
    await new BigQuerySink(`${emu.projectId}.bench_a.rows`, { apiEndpoint: emu.endpoint, ...base }).ensureTable();
    const [meta] = await client.dataset('bench_a').table('rows').getMetadata();
    const got = (meta.schema.fields as { name: string; type: string }[]).map((f) => `${f.name}:${f.type}`);
    expect(got).toEqual(bigQuerySchemaFields().map((f) => `${f.name}:${f.type}`));
  });

  test('adds columns missing from an older table, keeping the existing ones', async () => {
    await client.createDataset('bench_b');
    const old = BENCHMARK_COLUMNS.slice(0, 36);
    await client.dataset('bench_b').createTable('rows', { schema: { fields: bigQuerySchemaFields(old).map(({ name, type }) => ({ name, type })) } });
    await new BigQuerySink(`${emu.projectId}.bench_b.rows`, { apiEndpoint: emu.endpoint, ...base }).ensureTable();
    const [meta] = await client.dataset('bench_b').table('rows').getMetadata();
    expect((meta.schema.fields as { name: string }[]).map((f) => f.name)).toEqual(BENCHMARK_COLUMNS.map((c) => c.name));
  });

  test('a column of the wrong type is a ConfigError naming it', async () => {
    await client.createDataset('bench_c');
    await client.dataset('bench_c').createTable('rows', { schema: { fields: [{ name: 'pixels', type: 'STRING' }] } });
    const err = await new BigQuerySink(`${emu.projectId}.bench_c.rows`, { apiEndpoint: emu.endpoint, ...base }).ensureTable().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/bench_c\.rows.*pixels is STRING, expected INTEGER/);
  });

  test('list reads rows back through a query, typed and ordered, with a limit', async () => {
    const sink = new BigQuerySink(`${emu.projectId}.bench_a.rows`, { apiEndpoint: emu.endpoint, ...base });
    // Seed through the emulator's own SQL (a DML job), independent of the sink's insert path.
    const [job] = await client.createQueryJob({ query: `INSERT INTO \`${emu.projectId}.bench_a.rows\`
      (input_file_id, run_id, pixels, numpy_size_mb, success, benchmark_datetime_utc, prediction_batch_size)
      VALUES ('img_b', 'run-1', 2000000, 15.25, FALSE, DATETIME '2024-05-06 07:08:10', 8),
             ('img_a', 'run-1', 1000000, 7.5, TRUE, DATETIME '2024-05-06 07:08:09.123', 16)` });
    await job.getQueryResults();
    const rows = await sink.list();
    expect(rows.map((r) => r.input_file_id)).toEqual(['img_a', 'img_b']);
    expect(rows[0]).toMatchObject({ run_id: 'run-1', pixels: 1_000_000, numpy_size_mb: 7.5, success: true, prediction_batch_size: 16, cells: null });
    expect(String(rows[0].benchmark_datetime_utc)).toMatch(/^2024-05-06[ T]07:08:09\.123/);
    expect(Object.keys(rows[0])).toEqual(BENCHMARK_COLUMNS.map((c) => c.name));
    expect((await sink.list({ limit: 1 })).map((r) => r.input_file_id)).toEqual(['img_a']);
  });

  test('infra/bigquery/views.sql creates run_summary, stage_percentiles and stage_timeline that aggregate correctly', async () => {
    await new BigQuerySink(`${emu.projectId}.bench_v.rows`, { apiEndpoint: emu.endpoint, ...base }).ensureTable();
    const run = async (query: string) => (await (await client.createQueryJob({ query }))[0].getQueryResults())[0] as Record<string, unknown>[];
    await run(`INSERT INTO \`${emu.projectId}.bench_v.rows\` (run_id, input_file_id, success, pixels, cells, total_time_s,
      benchmark_datetime_utc, prediction_success, prediction_time_s, prediction_queue_wait_s, estimated_cost_usd, failed_stage) VALUES
      ('r1', 'a', TRUE, 1000000, 50, 10.0, DATETIME '2024-01-01 00:00:00', TRUE, 4.0, 1.0, 0.01, NULL),
      ('r1', 'b', FALSE, 2000000, NULL, 20.0, DATETIME '2024-01-01 00:01:00', TRUE, 8.0, 3.0, 0.02, 'postprocess'),
      ('r2', 'c', TRUE, 500000, 10, 5.0, DATETIME '2024-01-02 00:00:00', FALSE, NULL, NULL, NULL, NULL)`);
    const sql = readFileSync(join(__dirname, '..', '..', 'infra', 'bigquery', 'views.sql'), 'utf8')
      .replace(/PROJECT\.DATASET\.TABLE/g, `${emu.projectId}.bench_v.rows`).replace(/PROJECT\.DATASET/g, `${emu.projectId}.bench_v`);
    const statements = sql.split(/;\s*\n/).map((st) => st.replace(/^\s*--.*$/gm, '').trim()).filter(Boolean);
    expect(statements).toHaveLength(3);
    for (const st of statements) await run(st);
    const summary = await run(`SELECT * FROM \`${emu.projectId}.bench_v.run_summary\` ORDER BY run_id`);
    expect(summary[0]).toMatchObject({ run_id: 'r1', images: 2, succeeded: 1, failed: 1, pixels: 3_000_000, cells: 50, span_s: 60,
      failed_stages: ['postprocess'] });
    expect(summary[0].estimated_cost_usd).toBeCloseTo(0.03, 10);
    expect(summary[1]).toMatchObject({ run_id: 'r2', images: 1, succeeded: 1, failed: 0 });
    const stages = await run(`SELECT * FROM \`${emu.projectId}.bench_v.stage_percentiles\` ORDER BY run_id, stage`);
    expect(stages).toHaveLength(1); // only r1 has a successful predict; r2's failed predict is excluded
    expect(stages[0]).toMatchObject({ run_id: 'r1', stage: 'predict', images: 2, time_s_max: 8 });
    await run(`INSERT INTO \`${emu.projectId}.bench_v.rows\` (run_id, input_file_id, success, benchmark_datetime_utc, prediction_started_at, prediction_queue_wait_s,
      prediction_time_s, prediction_input_load_time_s, prediction_worker) VALUES ('r3', 'd', TRUE, DATETIME '2024-01-03 00:00:10', DATETIME '2024-01-03 00:00:02.5', 1.5, 2.0, 0.25, 'gpu-1')`);
    const timeline = await run(`SELECT * FROM \`${emu.projectId}.bench_v.stage_timeline\` WHERE run_id = 'r3'`);
    expect(timeline).toHaveLength(1);
    expect(timeline[0]).toMatchObject({ stage: 'predict', worker: 'gpu-1', queue_wait_s: 1.5, seconds: 2.25 });
    const at = (v: unknown) => String((v as { value?: string })?.value ?? v);
    expect(at(timeline[0].queued_at)).toMatch(/^2024-01-03[ T]00:00:01(\.0+)?$/);
    expect(at(timeline[0].ended_at)).toMatch(/^2024-01-03[ T]00:00:04\.75/);
  });

  describe('streaming inserts (insertAll answered by the proxy)', () => {
    let proxy: FaultProxy;
    const isInsertAll = (m: string, u: string) => m === 'POST' && u.includes('/insertAll');
    const ok = { kind: 'bigquery#tableDataInsertAllResponse' };
    beforeAll(async () => {
      proxy = await startFaultProxy(emu.endpoint);
    });
    afterAll(async () => proxy?.close());

    const inserts = () => proxy.requests.filter((r) => isInsertAll(r.method, r.url))
      .map((r) => JSON.parse(r.body.toString()) as { rows: { insertId: string; json: Record<string, unknown> }[]; skipInvalidRows?: boolean });

    test('rate limits are retried with the same insertIds; values are sent in BigQuery JSON form', async () => {
      const sink = new BigQuerySink(`${emu.projectId}.bench_d.rows`, { apiEndpoint: proxy.url, ...base });
      proxy.addRule({ match: isInsertAll, action: 'respond', status: 429, times: 1,
        body: { error: { code: 429, message: 'Exceeded rate limits', errors: [{ reason: 'rateLimitExceeded', message: 'Exceeded rate limits' }] } } });
      proxy.addRule({ match: isInsertAll, action: 'respond', status: 403, times: 1,
        body: { error: { code: 403, message: 'Quota exceeded', errors: [{ reason: 'rateLimitExceeded', message: 'Quota exceeded' }] } } });
      proxy.addRule({ match: isInsertAll, action: 'respond', status: 200, body: ok, times: 1 });
      const before = inserts().length;
      const rows = [row('img_1', { benchmark_datetime_utc: '2024-05-06T07:08:09.123Z' }), row('img_2', { pixels: 2.6e6, success: false, error: 'boom' })];
      await sink.write(rows);
      const sent = inserts().slice(before);
      expect(sent).toHaveLength(3);
      for (const s of sent) expect(s.rows.map((r) => r.insertId)).toEqual(rows.map((r) => insertIdFor(r)));
      expect(sent[0].rows[0].json).toEqual({ input_file_id: 'img_1', run_id: 'run-1', workflow_id: 'run-1/img_1', compartment: 'both',
        success: true, pixels: 1_000_000, numpy_size_mb: 7.63, benchmark_datetime_utc: '2024-05-06T07:08:09.123', prediction_batch_size: 16,
        cloud_region: 'us-central1' });
      expect(sent[0].rows[1].json).toMatchObject({ pixels: 2_600_000, success: false, error: 'boom' });
      // The table was created on the emulator through the proxy before the first insert.
      expect((await client.dataset('bench_d').table('rows').exists())[0]).toBe(true);
    });

    test('permission denied becomes one ConfigError naming the table and the fix', async () => {
      const sink = new BigQuerySink(`${emu.projectId}.bench_d.rows`, { apiEndpoint: proxy.url, ...base });
      proxy.addRule({ match: isInsertAll, action: 'respond', status: 403, times: 1,
        body: { error: { code: 403, message: 'Access Denied: Table tessel-test:bench_d.rows: Permission bigquery.tables.updateData denied',
          errors: [{ reason: 'accessDenied', message: 'Access Denied' }] } } });
      const err = await sink.write([row('img_3')]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^bigquery:tessel-test\.bench_d\.rows: permission denied to insert benchmark rows .*roles\/bigquery\.dataEditor/);
    });

    test('rows the table rejects (unknown field) become a ConfigError quoting BigQuery', async () => {
      const sink = new BigQuerySink(`${emu.projectId}.bench_d.rows`, { apiEndpoint: proxy.url, ...base });
      proxy.addRule({ match: isInsertAll, action: 'respond', status: 200, times: 1, body: { ...ok, insertErrors: [
        { index: 0, errors: [{ reason: 'invalid', location: 'tiles', message: 'no such field: tiles.' }] }] } });
      const err = await sink.write([row('img_4', { tiles: 12 })]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/rows do not fit the table's schema \(no such field: tiles\.\)/);
      expect(inserts().at(-1)?.skipInvalidRows).toBe(false);
    });

    test('without the proxy, Crucible itself refuses insertAll (documented gap) with a clear error', async () => {
      const sink = new BigQuerySink(`${emu.projectId}.bench_e.rows`, { apiEndpoint: emu.endpoint, ...base, retry: { ...fast, maxRetries: 0 } });
      await expect(sink.write([row('img_5')])).rejects.toThrow(/insert benchmark rows failed: .*[Nn]ot implemented/);
    });
  });
});
