import { parentPort, workerData } from 'node:worker_threads';
import { configureGcs, type GcsStoreOptions } from '../storage';
import { collectTransferables, type SerializedError } from './run-in-worker';

const setup = workerData as { gcs?: GcsStoreOptions } | null;
if (setup?.gcs) configureGcs(setup.gcs);

/**
 * Thread entry for {@link runInWorker}: a pooled thread runs one call per message, in order, posting
 * back the result or the error with the call's id (progress messages go out as they come).
 */
async function runJob(job: { id: number; modulePath: string; exportName: string; args: unknown[] }): Promise<void> {
  const { id, modulePath, exportName, args } = job;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(modulePath) as Record<string, (...a: unknown[]) => unknown>;
    const fn = mod[exportName];
    if (typeof fn !== 'function') throw new Error(`${modulePath} has no export '${exportName}'`);
    const value = await fn(...args);
    parentPort!.postMessage({ id, kind: 'result', value }, collectTransferables(value));
  } catch (e) {
    const err = e as Error & { code?: string; file?: string; retryable?: boolean };
    const error: SerializedError = { name: err.name, message: err.message, stack: err.stack, code: err.code, file: err.file, retryable: err.retryable };
    parentPort!.postMessage({ id, kind: 'error', error });
  }
}

parentPort!.on('message', (job: Parameters<typeof runJob>[0]) => void runJob(job));
