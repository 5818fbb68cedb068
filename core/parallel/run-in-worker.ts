import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { configuredGcsOptions } from '../storage';

/** The `--cpu-prof…` and `--heap-prof…` flags of a Node command line (with a separate value, if any). */
export function profilerFlags(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i];
    if (!/^--(cpu|heap)-prof/.test(a)) continue;
    out.push(a);
    // --cpu-prof-dir DIR, --heap-prof-interval N…: the value may follow as the next argument.
    if (/^--(cpu|heap)-prof-(dir|name|interval)$/.test(a) && i + 1 < execArgv.length) out.push(execArgv[++i]);
  }
  return out;
}

/**
 * Runs `require(modulePath)[exportName](...args)` on a worker thread and resolves with its result, so
 * CPU-heavy kernels (watershed, quantification) never block the event loop that carries Temporal
 * heartbeats and cancellation. Arguments and results are structured-cloned; typed arrays whose
 * buffers are listed in `transfer` move without a copy. The function may be async.
 *
 * Threads are pooled: one runs one call at a time, then waits idle (not keeping the process alive)
 * for the next call, and exits after {@link IDLE_MS} unused. Starting a thread and loading the kernels
 * costs ~0.1–0.5 s, more than a small image's whole watershed. An `AbortSignal` terminates the thread
 * (it is not reused). Works from compiled JS and from TypeScript sources (tsx or ts-jest): a `.ts` entry
 * is loaded through tsx's CommonJS hook.
 */
export function runInWorker<R>(
  modulePath: string,
  exportName: string,
  args: unknown[],
  opts: { transfer?: ArrayBuffer[]; signal?: AbortSignal; onMessage?: (msg: unknown) => void } = {},
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason ?? new Error('aborted'));
    const thread = takeThread();
    const id = ++lastJobId;
    const { worker } = thread;
    const detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const onMessage = (msg: { id?: number; kind: 'result' | 'error' | 'progress'; value?: unknown; error?: SerializedError }) => {
      if (msg.kind === 'progress') return opts.onMessage?.(msg.value);
      if (msg.id !== id) return;
      detach();
      releaseThread(thread);
      if (msg.kind === 'result') resolve(msg.value as R);
      else reject(deserializeError(msg.error!));
    };
    const onError = (err: Error) => {
      detach();
      discardThread(thread);
      reject(err);
    };
    const onExit = (code: number) => {
      detach();
      discardThread(thread);
      reject(new Error(`worker thread for ${exportName} exited with code ${code}`));
    };
    const onAbort = () => {
      detach();
      discardThread(thread);
      reject(opts.signal?.reason ?? new Error('aborted'));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      worker.postMessage({ id, modulePath, exportName, args }, opts.transfer ?? []);
    } catch (e) {
      detach();
      releaseThread(thread);
      reject(e as Error);
    }
  });
}

/** How long an idle pooled thread waits for work before it exits. */
export const IDLE_MS = 30_000;

interface PooledThread { worker: Worker; idleTimer?: NodeJS.Timeout }
const idleThreads: PooledThread[] = [];
let lastJobId = 0;

function takeThread(): PooledThread {
  const t = idleThreads.pop();
  if (t) {
    clearTimeout(t.idleTimer);
    t.worker.ref();
    return t;
  }
  const thread: PooledThread = { worker: spawnWorker() };
  // A thread that dies while idle (out of memory, say) must never be handed a job.
  thread.worker.once('exit', () => {
    clearTimeout(thread.idleTimer);
    const i = idleThreads.indexOf(thread);
    if (i >= 0) idleThreads.splice(i, 1);
  });
  return thread;
}

/** A thread running worker-entry, from compiled JS or, under tsx/ts-jest, from the TypeScript source. */
function spawnWorker(): Worker {
  const jsEntry = join(__dirname, 'worker-entry.js');
  const entry = existsSync(jsEntry) ? jsEntry : join(__dirname, 'worker-entry.ts');
  // A compiled entry inherits the process's Node flags (Node's default), so --cpu-prof profiles the
  // threads too. A TypeScript entry needs tsx's CommonJS hook, and an explicit list may hold only flags
  // a thread accepts: not V8 or process ones (--max-old-space-size throws), nor the parent's `--import
  // tsx` (an ESM hook, which then fails on the .ts entry), so of the parent's only the profiler's pass.
  const execArgv = entry.endsWith('.ts') ? [...profilerFlags(process.execArgv), '--require', require.resolve('tsx/cjs')] : undefined;
  // The thread's GCS store gets this thread's options (an endpoint from the env config, say).
  return new Worker(entry, { execArgv, workerData: { gcs: configuredGcsOptions() } });
}

/**
 * A thread of its own for state that must stay on one thread (an onnxruntime session: its `run` is
 * synchronous native code, which would otherwise stop the caller's event loop for the whole batch).
 * Calls go through the same entry as {@link runInWorker}, so module-level state in the called module
 * persists between calls; they run in the order sent. The thread keeps the process alive only while a
 * call is pending. A thread that dies fails its pending calls and every later one.
 */
export class DedicatedThread {
  private readonly worker = spawnWorker();
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private dead?: Error;

  constructor() {
    this.worker.unref();
    this.worker.on('message', (msg: { id?: number; kind: string; value?: unknown; error?: SerializedError }) => {
      const call = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!call) return;
      this.pending.delete(msg.id!);
      if (this.pending.size === 0) this.worker.unref();
      if (msg.kind === 'result') call.resolve(msg.value);
      else call.reject(deserializeError(msg.error!));
    });
    const fail = (err: Error) => {
      this.dead ??= err;
      for (const c of this.pending.values()) c.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`dedicated worker thread exited with code ${code}`)));
  }

  call<R>(modulePath: string, exportName: string, args: unknown[], transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.dead) return Promise.reject(this.dead);
    const id = ++lastJobId;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.ref();
      try {
        this.worker.postMessage({ id, modulePath, exportName, args }, transfer);
      } catch (e) {
        this.pending.delete(id);
        reject(e as Error);
      }
    });
  }

  /** False once the thread has died (crashed, or terminated). */
  get alive(): boolean {
    return !this.dead;
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

function releaseThread(t: PooledThread): void {
  t.worker.unref();
  t.idleTimer = setTimeout(() => void t.worker.terminate(), IDLE_MS); // the exit handler unlists it
  t.idleTimer.unref();
  idleThreads.push(t);
}

function discardThread(t: PooledThread): void {
  clearTimeout(t.idleTimer);
  void t.worker.terminate();
}

/**
 * The buffers a result can give away instead of having them copied: those of typed arrays that span
 * their whole (non-shared) ArrayBuffer, found up to {@link TRANSFER_DEPTH} levels into objects and arrays
 * of objects (arrays of numbers are not walked). Quantification returns its float32 columns four levels
 * down; copying them doubled a million-cell job's peak memory.
 */
export function collectTransferables(value: unknown): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number): void => {
    if (ArrayBuffer.isView(v)) {
      const b = v.buffer;
      if (Object.prototype.toString.call(b) === '[object ArrayBuffer]' && v.byteOffset === 0 && v.byteLength === b.byteLength) out.add(b as ArrayBuffer);
    } else if (Array.isArray(v)) {
      if (depth < TRANSFER_DEPTH && v.length > 0 && typeof v[0] === 'object') for (const x of v) visit(x, depth + 1);
    } else if (v && typeof v === 'object' && depth < TRANSFER_DEPTH) {
      for (const x of Object.values(v)) visit(x, depth + 1);
    }
  };
  visit(value, 0);
  return [...out];
}

const TRANSFER_DEPTH = 6;

/**
 * Ends the pooled threads that are idle now, instead of after {@link IDLE_MS}: for a process that is
 * done with a kind of work (a CLI command moving to its next step), each thread's heap and whatever
 * its last job left for its garbage collector go at once. Busy threads are not touched.
 */
export async function closeIdleThreads(): Promise<void> {
  const idle = idleThreads.splice(0, idleThreads.length);
  await Promise.all(idle.map((t) => { clearTimeout(t.idleTimer); return t.worker.terminate(); }));
}

/** Threads now idle in the pool (for tests). */
export function idleThreadCount(): number {
  return idleThreads.length;
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
