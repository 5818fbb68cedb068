import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';
import { keyRingFromEnv, type KeyRing } from './encryption-keys';

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
      clientCertPair: { crt: readPem(env, 'TEMPORAL_TLS_CERT', 'CERTIFICATE'), key: readPem(env, 'TEMPORAL_TLS_KEY', 'PRIVATE KEY') },
      serverRootCACertificate: env.TEMPORAL_TLS_CA ? readPem(env, 'TEMPORAL_TLS_CA', 'CERTIFICATE') : undefined,
    };
  } else if (apiKey) {
    tls = true;
  }
  return { address, namespace, apiKey, tls, encryption: keyRingFromEnv(env) };
}

/** A PEM file named by an environment variable, checked before any connection: one line naming the variable and file. */
function readPem(env: NodeJS.ProcessEnv, name: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): Buffer {
  const path = env[name]!;
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new ConfigError(`${name}=${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path });
  }
  // Keys come as 'PRIVATE KEY', 'RSA PRIVATE KEY' or 'EC PRIVATE KEY'.
  if (!new RegExp(`-----BEGIN [A-Z ]*${kind}-----`).test(data.toString('latin1'))) {
    throw new ConfigError(`${name}=${path}: not a PEM ${kind.toLowerCase()} (no '-----BEGIN …${kind}-----' line)`, { file: path });
  }
  return data;
}
