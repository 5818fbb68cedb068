import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Runs `require(modulePath)[exportName](...args)` on a worker thread and resolves with its result, so
 * CPU-heavy kernels (watershed, quantification) never block the event loop that carries Temporal
 * heartbeats and cancellation. Arguments and results are structured-cloned; typed arrays whose
 * buffers are listed in `transfer` move without a copy. The function may be async.
 *
 * Works from compiled JS and from TypeScript sources (tsx or ts-jest): a `.ts` entry is loaded through
 * tsx's CommonJS hook. An `AbortSignal` terminates the thread.
 */
export function runInWorker<R>(
  modulePath: string,
  exportName: string,
  args: unknown[],
  opts: { transfer?: ArrayBuffer[]; signal?: AbortSignal; onMessage?: (msg: unknown) => void } = {},
): Promise<R> {
  const jsEntry = join(__dirname, 'worker-entry.js');
  const entry = existsSync(jsEntry) ? jsEntry : join(__dirname, 'worker-entry.ts');
  const execArgv = entry.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs')] : [];
  return new Promise<R>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason ?? new Error('aborted'));
    const worker = new Worker(entry, {
      workerData: { modulePath, exportName, args },
      transferList: opts.transfer,
      execArgv,
    });
    let settled = false;
    const onAbort = () => {
      settled = true;
      void worker.terminate();
      reject(opts.signal?.reason ?? new Error('aborted'));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (msg: { kind: 'result' | 'error' | 'progress'; value?: unknown; error?: SerializedError }) => {
      if (msg.kind === 'progress') return opts.onMessage?.(msg.value);
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      if (msg.kind === 'result') resolve(msg.value as R);
      else reject(deserializeError(msg.error!));
      void worker.terminate();
    });
    worker.on('error', (err) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) {
        opts.signal?.removeEventListener('abort', onAbort);
        reject(new Error(`worker thread for ${exportName} exited with code ${code}`));
      }
    });
  });
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  file?: string;
  retryable?: boolean;
}

/** Rebuilds an error from a worker thread, keeping TesselError fields so activities map it correctly. */
function deserializeError(e: SerializedError): Error {
  // Imported lazily to keep this module free of cycles.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { TesselError } = require('../errors') as typeof import('../errors');
  if (e.code) {
    const err = new TesselError(e.code as never, e.message, { retryable: e.retryable });
    Object.defineProperty(err, 'message', { value: e.message });
    (err as { file?: string }).file = e.file;
    err.name = e.name;
    err.stack = e.stack;
    return err;
  }
  const err = new Error(e.message);
  err.name = e.name;
  err.stack = e.stack;
  return err;
}
