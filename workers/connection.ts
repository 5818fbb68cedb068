import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors';
import { keyRingFromEnv, type KeyRing } from './encryption/keys';

/** Task queue names; override with TESSEL_QUEUE_WORKFLOWS / _CPU / _GPU or the env config. */
export interface TaskQueues { workflows: string; cpu: string; gpu: string }

export function taskQueuesFromEnv(env: NodeJS.ProcessEnv = process.env): TaskQueues {
  return {
    workflows: env.TESSEL_QUEUE_WORKFLOWS || 'tessel-workflows',
    cpu: env.TESSEL_QUEUE_CPU || 'tessel-cpu',
    gpu: env.TESSEL_QUEUE_GPU || 'tessel-gpu',
  };
}

/**
 * Where Temporal is: `TEMPORAL_ADDRESS` (default localhost:7233), `TEMPORAL_NAMESPACE` (default
 * `default`); Temporal Cloud with `TEMPORAL_API_KEY`, or mTLS with `TEMPORAL_TLS_CERT` and
 * `TEMPORAL_TLS_KEY` (file paths); payload encryption with `TESSEL_ENCRYPTION_KEY_FILE`. Used alike by
 * the client and by workers.
 */
export interface TemporalSettings {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer } | boolean;
  /** Payload encryption keys (`TESSEL_ENCRYPTION_KEY_FILE`); absent: payloads in plaintext. */
  encryption?: KeyRing;
}

export function temporalSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const address = env.TEMPORAL_ADDRESS || 'localhost:7233';
  const namespace = env.TEMPORAL_NAMESPACE || 'default';
  const apiKey = env.TEMPORAL_API_KEY || undefined;
  let tls: TemporalSettings['tls'];
  if (env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_KEY) {
    if (!env.TEMPORAL_TLS_CERT || !env.TEMPORAL_TLS_KEY) throw new ConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
    tls = {
      clientCertPair: { crt: readFileSync(env.TEMPORAL_TLS_CERT), key: readFileSync(env.TEMPORAL_TLS_KEY) },
      serverRootCACertificate: env.TEMPORAL_TLS_CA ? readFileSync(env.TEMPORAL_TLS_CA) : undefined,
    };
  } else if (apiKey) {
    tls = true;
  }
  return { address, namespace, apiKey, tls, encryption: keyRingFromEnv(env) };
}
