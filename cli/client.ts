import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { TesselError } from '../core/errors';
import { temporalSettingsFromEnv, type TemporalSettings } from '../workers/connection';
import { dataConverterFor } from '../workers/encryption';

export interface TesselClient { client: Client; settings: TemporalSettings; close(): Promise<void> }

/**
 * A Temporal client for TEMPORAL_ADDRESS/TEMPORAL_NAMESPACE (or explicit settings), with a clear error when
 * unreachable; with encryption keys, it encrypts what it sends and decrypts what it reads.
 */
export async function connectClient(settings: TemporalSettings = temporalSettingsFromEnv()): Promise<TesselClient> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: settings.address, tls: settings.tls, apiKey: settings.apiKey, connectTimeout: '5s' });
  } catch (e) {
    throw new TesselError('INVALID_CONFIG',
      `cannot reach Temporal at ${settings.address} (${(e as Error).message}); start one with 'tessel server' and ` +
      "'tessel worker --queue all', set TEMPORAL_ADDRESS, or use 'tessel run … --embedded'", { cause: e });
  }
  const client = new Client({ connection, namespace: settings.namespace, dataConverter: dataConverterFor(settings.encryption) });
  return { client, settings, close: () => connection.close() };
}

/** Maps "workflow not found" to a clear error naming the run id. */
export function runNotFound(runId: string, e: unknown): never {
  if (e instanceof WorkflowNotFoundError || /not found/i.test((e as Error).message)) {
    throw new TesselError('NOT_FOUND', `no run '${runId}' in this namespace`, { cause: e });
  }
  throw e;
}
