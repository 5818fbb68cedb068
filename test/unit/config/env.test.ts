import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, NotFoundError } from '../../../core/errors';
import { loadEnvConfig, parseEnvConfig } from '../../../core/config/env';

const dir = mkdtempSync(join(tmpdir(), 'tessel-env-'));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** The layout of deepcell-imaging's README example, with its placeholders filled in, plus the model keys. */
const DEEPCELL_IMAGING_CONFIG = {
  segment_container_image: 'us-central1-docker.pkg.dev/my-project/deepcell/benchmarking:batch',
  quantify_container_image: 'us-central1-docker.pkg.dev/my-project/deepcell/qupath-project-initializer:latest',
  bigquery_benchmarking_table: 'my-project.benchmarking.results_batch',
  region: 'us-central1',
  segment_model_path: 'gs://my-bucket/models/MultiplexSegmentation-resaved-20240710.h5',
  segment_model_hash: '56b0f246081fe6b730ca74eab8a37d60',
  networking_interface: { network: 'the_network', subnetwork: 'the_subnetwork', no_external_ip_address: true },
  service_account: { email: 'the_service@account.com' },
};

describe('env config', () => {
  test('{} gives the local defaults', () => {
    const cfg = parseEnvConfig({});
    expect(cfg.region).toBe('');
    expect(cfg.bigquery_benchmarking_table).toBe('');
    expect(cfg.networking_interface).toEqual({ network: '', subnetwork: '', no_external_ip_address: false });
    expect(cfg.service_account).toEqual({ email: '', scopes: [] });
    expect(cfg.temporal).toEqual({ address: 'localhost:7233', namespace: 'default' });
    expect(cfg.task_queues).toEqual({ workflows: 'tessel-workflows', cpu: 'tessel-cpu', gpu: 'tessel-gpu' });
    expect(cfg.benchmark_sink).toEqual({ kind: 'duckdb' });
    expect(cfg.gcs).toEqual({});
    expect(cfg.price_table).toEqual({});
  });

  test("deepcell-imaging's config file loads unchanged and turns BigQuery benchmarks on", async () => {
    const cfg = await loadEnvConfig(write('deepcell.json', JSON.stringify(DEEPCELL_IMAGING_CONFIG, null, 2)));
    expect(cfg).toMatchObject(DEEPCELL_IMAGING_CONFIG);
    expect(cfg.service_account.scopes).toEqual([]);
    expect(cfg.benchmark_sink).toEqual({ kind: 'bigquery', table: 'my-project.benchmarking.results_batch' });
  });

  test('blank bigquery_benchmarking_table means off (DuckDB locally)', () => {
    expect(parseEnvConfig({ ...DEEPCELL_IMAGING_CONFIG, bigquery_benchmarking_table: '' }).benchmark_sink).toEqual({ kind: 'duckdb' });
  });

  test("Tessel's keys: Temporal Cloud, queues, sink, GCS emulator, prices", () => {
    const cfg = parseEnvConfig({
      temporal: { address: 'tessel.a1b2c.tmprl.cloud:7233', namespace: 'tessel.a1b2c', api_key: 'k' },
      task_queues: { gpu: 'tessel-gpu-l4' },
      benchmark_sink: { kind: 'bigquery' },
      bigquery_benchmarking_table: 'proj-123456.bench.rows',
      gcs: { api_endpoint: 'http://127.0.0.1:4443', project_id: 'p' },
      price_table: { 'n1-standard-8': 0.38, 'g2-standard-8': 0.85 },
    });
    expect(cfg.temporal).toEqual({ address: 'tessel.a1b2c.tmprl.cloud:7233', namespace: 'tessel.a1b2c', api_key: 'k' });
    expect(cfg.task_queues).toEqual({ workflows: 'tessel-workflows', cpu: 'tessel-cpu', gpu: 'tessel-gpu-l4' });
    expect(cfg.benchmark_sink).toEqual({ kind: 'bigquery', table: 'proj-123456.bench.rows' });
    expect(cfg.price_table['g2-standard-8']).toBe(0.85);
    const mtls = parseEnvConfig({ temporal: { address: 'temporal.internal:7233', tls: { cert_path: '/c.pem', key_path: '/k.pem' } } });
    expect(mtls.temporal.tls).toEqual({ cert_path: '/c.pem', key_path: '/k.pem' });
    expect(parseEnvConfig({ benchmark_sink: { kind: 'duckdb', path: 'bench.duckdb' } }).benchmark_sink).toEqual({ kind: 'duckdb', path: 'bench.duckdb' });
  });

  test('one ConfigError lists every invalid key with its path', () => {
    let err: unknown;
    try {
      parseEnvConfig({
        region: 5,
        bigquery_benchmarking_table: 'not a table',
        networking_interface: { no_external_ip_address: 'yes' },
        service_account: { email: 'nobody' },
        temporal: { address: 'no-port', tls: { cert_path: '/c.pem' } },
        benchmark_sink: { kind: 'postgres' },
        gcs: { api_endpoint: 'ftp://x' },
        price_table: { 'n1-standard-8': -1 },
        segment_model_hash: 'abc',
      }, 'env.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg.startsWith('env.json: invalid env config (10 problems)')).toBe(true);
    for (const path of ['region', 'bigquery_benchmarking_table', 'networking_interface.no_external_ip_address', 'service_account.email',
      'temporal.address', 'temporal.tls.key_path', 'benchmark_sink.kind', 'gcs.api_endpoint', 'price_table.n1-standard-8', 'segment_model_hash']) {
      expect(msg).toContain(`${path}: `);
    }
    expect((err as ConfigError).details?.issues).toHaveLength(10);
  });

  test('cross-key rules: bigquery sink needs a table; tls and api_key exclude each other', () => {
    expect(() => parseEnvConfig({ benchmark_sink: { kind: 'bigquery' } })).toThrow(/benchmark_sink\.table: kind 'bigquery' needs a table/);
    expect(() => parseEnvConfig({ temporal: { api_key: 'k', tls: { cert_path: 'c', key_path: 'k' } } })).toThrow(/temporal: use either tls/);
  });

  test('unknown keys are ignored like pydantic does, but reported', () => {
    const unknown: string[] = [];
    const cfg = parseEnvConfig({ region: 'europe-west4', bigquery_benchmark_table: 'p.d.t' }, 'x', { onUnknownKey: (k) => unknown.push(k) });
    expect(cfg.region).toBe('europe-west4');
    expect(unknown).toEqual(['bigquery_benchmark_table']);
  });

  test('bad files: not JSON, not an object, missing — each names the file', async () => {
    const bad = write('bad.json', '{"region": "us-central1",}');
    await expect(loadEnvConfig(bad)).rejects.toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not valid JSON`));
    await expect(loadEnvConfig(write('arr.json', '[1]'))).rejects.toThrow(/arr\.json: expected a JSON object, got an array/);
    await expect(loadEnvConfig(join(dir, 'missing.json'))).rejects.toBeInstanceOf(NotFoundError);
  });
});
