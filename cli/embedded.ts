import { join } from 'node:path';
import { REPO_ROOT, startDevServer, type DevServer } from '../infra/temporal/dev-server';
import { taskQueuesFromEnv } from '../workers/connection';
import { keyRingFromEnv } from '../workers/encryption';
import { activeEnvConfig } from './env-config';
import { createWorkers, type RunningWorkers } from '../workers/create';

export interface Embedded { server: DevServer; workers: RunningWorkers; address: string; namespace: string; uiUrl?: string; stop(): Promise<void> }

/**
 * The embedded default: a Temporal dev server with SQLite persistence (`.tessel/temporal/dev.db`)
 * and workers for all three queues in this process.
 */
export async function startEmbedded(opts: { dbFile?: string; port?: number; temporalBin?: string } = {}): Promise<Embedded> {
  const dbFile = opts.dbFile ?? join(REPO_ROOT, '.tessel', 'temporal', 'dev.db');
  const server = await startDevServer({ dbFile, port: opts.port, temporalBin: opts.temporalBin, logFile: `${dbFile}.log` });
  let workers: RunningWorkers;
  try {
    workers = await createWorkers({
      queues: ['workflows', 'cpu', 'gpu'], logLevel: 'WARN', deps: { priceTable: activeEnvConfig()?.price_table }, taskQueues: taskQueuesFromEnv(),
      temporal: { address: server.address, namespace: server.namespace, encryption: keyRingFromEnv() },
    });
  } catch (e) {
    await server.stop();
    throw e;
  }
  const running = workers.run();
  return {
    server, workers, address: server.address, namespace: server.namespace, uiUrl: server.uiUrl,
    async stop() {
      await workers.shutdown();
      await running.catch(() => undefined);
      await server.stop();
    },
  };
}
