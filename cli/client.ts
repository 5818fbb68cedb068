import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { TesselError } from '../core/errors';
import { temporalSettingsFromEnv, type TemporalSettings } from '../core/config/temporal';
import type { TracingSettings } from '../workers/tracing';

let tracing: TracingSettings | undefined;
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
  // With an OTLP endpoint configured (OTEL_EXPORTER_OTLP_ENDPOINT…), the run's start is the root of its trace.
  // (Loaded only then: the OpenTelemetry SDK costs every other command start-up time.)
  let interceptors;
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    const t = await import('../workers/tracing');
    const url = t.otlpTracesUrl();
    if (url) tracing ??= t.startTracing({ serviceName: 'tessel-cli', url });
    interceptors = t.tracingClientInterceptors(tracing);
  }
  const client = new Client({ connection, namespace: settings.namespace, interceptors, dataConverter: dataConverterFor(settings.encryption) });
  return {
    client, settings,
    async close() {
      await connection.close();
      await tracing?.spanProcessor.forceFlush().catch(() => undefined);
    },
  };
}

/** Maps "workflow not found" to a clear error naming the run id. */
export function runNotFound(runId: string, e: unknown): never {
  if (e instanceof WorkflowNotFoundError || /not found/i.test((e as Error).message)) {
    throw new TesselError('NOT_FOUND', `no run '${runId}' in this namespace`, { cause: e });
  }
  throw e;
}
