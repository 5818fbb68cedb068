import { join } from 'node:path';
import { REPO_ROOT, startDevServer, type DevServer } from '../infra/temporal/dev-server';
import { taskQueuesFromEnv } from '../core/config/temporal';
import { keyRingFromEnv } from '../workers/encryption';
import { activeEnvConfig } from './env-config';
import { createWorkers, installRuntimeLogging, type RunningWorkers } from '../workers/create';
import type { RuntimeLog } from '../workers/logging';

export interface Embedded { server: DevServer; workers: RunningWorkers; address: string; namespace: string; uiUrl?: string; log: RuntimeLog; stop(): Promise<void> }

/** Where an embedded run's worker and SDK log lines go: `.tessel/logs/<run id>.log`. */
export function embeddedLogFile(runId: string): string {
  return join(REPO_ROOT, '.tessel', 'logs', `${runId.replace(/[^\w.-]/g, '_')}.log`);
}

/**
 * The embedded default: a Temporal dev server with SQLite persistence (`.tessel/temporal/dev.db`, or
 * `TESSEL_EMBEDDED_DB`: two servers must never share one file) and workers for all three queues in this
 * process. The workers' log lines go to `logFile` (and, with `verbose`, to stderr as well, task tokens
 * redacted) so the terminal keeps the run's progress and summary.
 */
export async function startEmbedded(opts: { dbFile?: string; port?: number; temporalBin?: string; logFile?: string; verbose?: boolean } = {}): Promise<Embedded> {
  const dbFile = opts.dbFile ?? (process.env.TESSEL_EMBEDDED_DB || join(REPO_ROOT, '.tessel', 'temporal', 'dev.db'));
  const server = await startDevServer({ dbFile, port: opts.port, temporalBin: opts.temporalBin, logFile: `${dbFile}.log` });
  let workers: RunningWorkers;
  try {
    workers = await createWorkers({
      queues: ['workflows', 'cpu', 'gpu'], logLevel: 'WARN', log: { file: opts.logFile, echo: opts.verbose }, deps: { priceTable: activeEnvConfig()?.price_table }, taskQueues: taskQueuesFromEnv(), temporal: { address: server.address, namespace: server.namespace, encryption: keyRingFromEnv() },
    });
  } catch (e) {
    await server.stop();
    throw e;
  }
  const running = workers.run();
  return {
    server, workers, address: server.address, namespace: server.namespace, uiUrl: server.uiUrl,
    log: installRuntimeLogging(), // the one createWorkers installed (first call wins)
    async stop() {
      await workers.shutdown();
      await running.catch(() => undefined);
      await server.stop();
    },
  };
}
