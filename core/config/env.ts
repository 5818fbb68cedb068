import { z } from 'zod';
import { ConfigError } from '../errors';
import { storeFor } from '../storage';

/**
 * The environment config JSON: deepcell-imaging's keys (its `EnvironmentConfig`, so an existing
 * deepcell-imaging config file loads unchanged) plus Tessel's own. Every key is optional with a
 * default, so `{}` is a valid local configuration. Keys use deepcell-imaging's snake_case.
 */

const nonBlank = (what: string) => z.string().trim().min(1, `${what} must not be blank`);

/** `project.dataset.table` or `dataset.table` (project from credentials); blank turns BigQuery off. */
export const BIGQUERY_TABLE_RE = /^(?:([a-z0-9][a-z0-9.:-]*[a-z0-9])\.)?([A-Za-z0-9_]{1,1024})\.([\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]{1,1024})$/u;

const bigQueryTable = z.string().trim().refine((s) => s === '' || BIGQUERY_TABLE_RE.test(s), {
  message: "expected 'project.dataset.table' (or blank to turn BigQuery benchmarks off)",
});

/** deepcell-imaging's `NetworkInterfaceConfig` (GCP Batch VM networking). */
export const NetworkingInterfaceSchema = z.object({
  network: z.string().default(''),
  subnetwork: z.string().default(''),
  no_external_ip_address: z.boolean().default(false),
});

/** deepcell-imaging's `ServiceAccountConfig`. */
export const ServiceAccountSchema = z.object({
  email: z.string().refine((s) => s === '' || /^[^@\s]+@[^@\s]+$/.test(s), { message: 'expected a service account email' }).default(''),
  scopes: z.array(nonBlank('a scope')).default([]),
});

/** mTLS client certificate for a self-hosted Temporal cluster or Temporal Cloud. */
export const TemporalTlsSchema = z.object({
  cert_path: nonBlank('temporal.tls.cert_path'),
  key_path: nonBlank('temporal.tls.key_path'),
  ca_path: z.string().optional(),
});

export const TemporalSchema = z.object({
  /** host:port of the frontend. @default 'localhost:7233' (the embedded dev server) */
  address: z.string().regex(/^[^\s:]+:\d{1,5}$/, "expected 'host:port'").default('localhost:7233'),
  namespace: nonBlank('temporal.namespace').default('default'),
  tls: TemporalTlsSchema.optional(),
  /** Temporal Cloud API key (implies TLS). */
  api_key: nonBlank('temporal.api_key').optional(),
});

export const TaskQueuesSchema = z.object({
  workflows: nonBlank('task_queues.workflows').default('tessel-workflows'),
  cpu: nonBlank('task_queues.cpu').default('tessel-cpu'),
  gpu: nonBlank('task_queues.gpu').default('tessel-gpu'),
});

export const BenchmarkSinkSchema = z.object({
  /** Where benchmark rows go: a local DuckDB file, BigQuery, or nowhere. */
  kind: z.enum(['duckdb', 'bigquery', 'none']),
  /** DuckDB file (kind duckdb); the run's default location when omitted. */
  path: z.string().optional(),
  /** `project.dataset.table` (kind bigquery); falls back to `bigquery_benchmarking_table`. */
  table: bigQueryTable.optional(),
});

export const GcsSchema = z.object({
  /** JSON API endpoint, e.g. an emulator's `http://127.0.0.1:4443`. */
  api_endpoint: z.url({ protocol: /^https?$/ }).optional(),
  project_id: z.string().optional(),
});

/** Payload encryption (see docs/security.md): the key file, never the keys themselves. */
export const EncryptionSchema = z.object({
  /** File of `<key-id> <key>` lines (a mounted Secret); the first key encrypts, all decrypt. */
  key_file: nonBlank('encryption.key_file').optional(),
});

export const EnvConfigSchema = z
  .object({
    // deepcell-imaging
    region: z.string().default(''),
    segment_container_image: z.string().default(''),
    /** Model collection URI (local or gs://); blank = the bundled model. */
    segment_model_path: z.string().default(''),
    /** Expected SHA-256 (hex) of the model collection; blank = not checked beyond its own manifest. */
    segment_model_hash: z.string().trim().refine((s) => s === '' || /^[0-9a-fA-F]{64}$/.test(s) || /^[0-9a-fA-F]{32}$/.test(s),
      { message: 'expected a hex SHA-256 (64 digits) or MD5 (32 digits) hash, or blank' }).default(''),
    quantify_container_image: z.string().default(''),
    bigquery_benchmarking_table: bigQueryTable.default(''),
    networking_interface: NetworkingInterfaceSchema.prefault({}),
    service_account: ServiceAccountSchema.prefault({}),
    // Tessel
    temporal: TemporalSchema.prefault({}),
    task_queues: TaskQueuesSchema.prefault({}),
    benchmark_sink: BenchmarkSinkSchema.optional(),
    gcs: GcsSchema.prefault({}),
    encryption: EncryptionSchema.prefault({}),
    /** USD per hour by machine type (e.g. `"n1-standard-8": 0.38`), for `estimated_cost_usd`. */
    price_table: z.record(nonBlank('a machine type'), z.number().nonnegative().finite()).default({}),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.benchmark_sink?.kind === 'bigquery' && !cfg.benchmark_sink.table && !cfg.bigquery_benchmarking_table) {
      ctx.addIssue({ code: 'custom', path: ['benchmark_sink', 'table'],
        message: "kind 'bigquery' needs a table here or in bigquery_benchmarking_table" });
    }
    if (cfg.temporal.tls && cfg.temporal.api_key) {
      ctx.addIssue({ code: 'custom', path: ['temporal'], message: 'use either tls (mTLS certificate) or api_key, not both' });
    }
  })
  .transform((cfg) => ({
    ...cfg,
    // deepcell-imaging semantics: a non-blank benchmarking table turns BigQuery on.
    benchmark_sink: resolveSink(cfg.benchmark_sink, cfg.bigquery_benchmarking_table),
  }));

function resolveSink(sink: z.infer<typeof BenchmarkSinkSchema> | undefined, legacyTable: string): z.infer<typeof BenchmarkSinkSchema> {
  if (!sink) return legacyTable ? { kind: 'bigquery', table: legacyTable } : { kind: 'duckdb' };
  if (sink.kind === 'bigquery' && !sink.table) return { ...sink, table: legacyTable };
  return sink;
}

export type EnvConfig = z.output<typeof EnvConfigSchema>;
export type EnvConfigInput = z.input<typeof EnvConfigSchema>;

const KNOWN_KEYS = new Set(Object.keys(EnvConfigSchema.in.shape));

export interface EnvConfigOptions {
  /** Called once per unknown top-level key (ignored like deepcell-imaging's pydantic does, but worth a warning). */
  onUnknownKey?: (key: string) => void;
}

/**
 * Validates a parsed env config. Throws one {@link ConfigError} naming `source` and listing every
 * invalid key with its problem (`temporal.address: expected 'host:port'; price_table.x: …`).
 */
export function parseEnvConfig(raw: unknown, source = 'env config', opts: EnvConfigOptions = {}): EnvConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`expected a JSON object, got ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : typeof raw}`, { file: source });
  }
  for (const key of Object.keys(raw)) if (!KNOWN_KEYS.has(key)) opts.onUnknownKey?.(key);
  const result = EnvConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  throw new ConfigError(`invalid env config (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${problems.join('; ')}`,
    { file: source, details: { issues: result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) } });
}

/** Reads and validates the env config JSON from a local path or a `gs://` URI (through `storeFor`). */
export async function loadEnvConfig(uri: string, opts: EnvConfigOptions = {}): Promise<EnvConfig> {
  const bytes = await storeFor(uri).readAll(uri);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new ConfigError(`not valid JSON: ${(e as Error).message}`, { file: uri, cause: e });
  }
  return parseEnvConfig(raw, uri, opts);
}
