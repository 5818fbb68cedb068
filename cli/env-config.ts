import { loadEnvConfig, type EnvConfig } from '../core/config/env';
import { configureGcs } from '../core/storage';

/**
 * The env config a command runs under: `--env-config <path|gs://…>` or `TESSEL_ENV_CONFIG`
 * (deepcell-imaging's keys plus Tessel's; see core/config/env.ts). Precedence, highest first:
 * command-line flags, environment variables, the env config file, built-in defaults.
 */
let active: EnvConfig | undefined;

export function activeEnvConfig(): EnvConfig | undefined {
  return active;
}

/** Loads and applies the env config (once per process); no-op without one. */
export async function useEnvConfig(uri: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<EnvConfig | undefined> {
  const source = uri ?? env.TESSEL_ENV_CONFIG;
  if (!source) return undefined;
  // A gs:// config needs the GCS store first; the emulator endpoint can only come from the environment here.
  const cfg = await loadEnvConfig(source, {
    onUnknownKey: (k) => process.stderr.write(`warning: ${source}: unknown key '${k}' ignored\n`),
  });
  applyEnvConfig(cfg, env);
  active = cfg;
  return cfg;
}

/**
 * Fills the environment variables the client and workers read (TEMPORAL_*, TESSEL_QUEUE_*,
 * TESSEL_ENCRYPTION_KEY_FILE) from the config, leaving any that are already set, and points the GCS
 * store at the configured endpoint.
 */
export function applyEnvConfig(cfg: EnvConfig, env: NodeJS.ProcessEnv = process.env): void {
  const fill = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== '' && !env[key]) env[key] = value;
  };
  fill('TEMPORAL_ADDRESS', cfg.temporal.address);
  fill('TEMPORAL_NAMESPACE', cfg.temporal.namespace);
  fill('TEMPORAL_API_KEY', cfg.temporal.api_key);
  fill('TEMPORAL_TLS_CERT', cfg.temporal.tls?.cert_path);
  fill('TEMPORAL_TLS_KEY', cfg.temporal.tls?.key_path);
  fill('TEMPORAL_TLS_CA', cfg.temporal.tls?.ca_path);
  fill('TESSEL_QUEUE_WORKFLOWS', cfg.task_queues.workflows);
  fill('TESSEL_QUEUE_CPU', cfg.task_queues.cpu);
  fill('TESSEL_QUEUE_GPU', cfg.task_queues.gpu);
  fill('TESSEL_ENCRYPTION_KEY_FILE', cfg.encryption.key_file);
  if (cfg.gcs.api_endpoint || cfg.gcs.project_id) {
    configureGcs({ apiEndpoint: cfg.gcs.api_endpoint, projectId: cfg.gcs.project_id });
  }
}
