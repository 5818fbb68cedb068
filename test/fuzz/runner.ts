import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SHARED_HEADER, type FuzzJob, type FuzzOutcome } from './check';
import { prepareSeeds } from './corpus';

/**
 * Runs fuzz targets on worker threads with a watchdog, and replays the regression corpus.
 * A thread whose execution count stops moving for `hangMs` is terminated and its current input saved
 * as a hang. Every failure (crash, hang, memory) is written to `test/fuzz/crashes/<target>/<digest>`
 * (the input) with `<digest>.txt` (what broke, the seed), ready to move into `test/fuzz/regressions/`
 * once fixed.
 */
export const CRASH_DIR = join(__dirname, 'crashes');
export const REGRESSION_DIR = join(__dirname, 'regressions');
const MAX_INPUT = 16 * 2 ** 20;

export interface RunOptions {
  target: string;
  timeMs: number;
  maxExecs?: number;
  seed?: number;
  /** One input slower than this fails. @default 5000 */
  slowMs?: number;
  /** No progress for this long: the thread is stuck; its input is saved and it is terminated. @default 30000 */
  hangMs?: number;
  /** Replay these inputs instead of fuzzing (each one's verdict comes back in `replayed`). */
  replay?: Uint8Array[];
}

export interface RunResult {
  target: string; execs: number; seconds: number; seed: number;
  failure?: { kind: 'crash' | 'hang'; message: string; file: string };
  /** For a replay: each input's failure message, null where it passed. */
  replayed?: (string | null)[];
}

function saveFailure(target: string, input: Uint8Array, note: string): string {
  const dir = join(CRASH_DIR, target);
  mkdirSync(dir, { recursive: true });
  const name = createHash('sha256').update(input).digest('hex').slice(0, 16);
  writeFileSync(join(dir, name), input);
  writeFileSync(join(dir, `${name}.txt`), note + '\n');
  return join(dir, name);
}

/** Fuzzes one target on a worker thread. */
export function runTarget(opts: RunOptions): Promise<RunResult> {
  if (!opts.replay) prepareSeeds();
  const seed = opts.seed ?? (Math.random() * 2 ** 31) | 0;
  const shared = new SharedArrayBuffer(SHARED_HEADER + MAX_INPUT);
  const counters = new Int32Array(shared, 0, 2);
  const job: FuzzJob = { target: opts.target, timeMs: opts.timeMs, maxExecs: opts.maxExecs ?? 2 ** 31 - 1, seed, slowMs: opts.slowMs ?? 5000, shared, replay: opts.replay };
  const entry = join(__dirname, 'worker.ts');
  // Headroom for one big allocation the memory check is there to report, not to die of.
  const worker = new Worker(entry, { execArgv: ['--require', require.resolve('tsx/cjs')], resourceLimits: { maxOldGenerationSizeMb: 2048 } });
  const started = performance.now();
  return new Promise<RunResult>((resolve, reject) => {
    let last = 0;
    let lastMove = performance.now();
    let settled = false;
    const done = (r: RunResult) => {
      settled = true;
      clearInterval(watchdog);
      resolve(r);
    };
    const watchdog = setInterval(() => {
      const n = Atomics.load(counters, 0);
      if (n !== last) {
        last = n;
        lastMove = performance.now();
        return;
      }
      if (performance.now() - lastMove < (opts.hangMs ?? 30_000)) return;
      const input = new Uint8Array(shared, SHARED_HEADER, Atomics.load(counters, 1)).slice();
      const message = `hang: execution ${n} made no progress for ${((performance.now() - lastMove) / 1000).toFixed(0)} s`;
      const file = saveFailure(opts.target, input, `${message}\nseed ${seed}`);
      void worker.terminate();
      done({ target: opts.target, execs: n, seconds: (performance.now() - started) / 1000, seed, failure: { kind: 'hang', message, file } });
    }, 1000);
    worker.once('message', (o: FuzzOutcome) => {
      void worker.terminate();
      const r: RunResult = { target: opts.target, execs: o.execs, seconds: o.ms / 1000, seed, replayed: o.replayed };
      if (o.failure) {
        const input = new Uint8Array(o.failure.input);
        const file = saveFailure(opts.target, input, `${o.failure.message}\nseed ${seed}${o.failure.counterexamplePath ? ` path ${o.failure.counterexamplePath}` : ''}\n\n${o.failure.stack ?? ''}`);
        r.failure = { kind: /^hang/.test(o.failure.message) ? 'hang' : 'crash', message: o.failure.message, file };
      }
      done(r);
    });
    worker.once('error', (e) => {
      if (settled) return;
      // The thread died (out of memory, a native abort): its current input is the culprit.
      const input = new Uint8Array(shared, SHARED_HEADER, Atomics.load(counters, 1)).slice();
      const file = saveFailure(opts.target, input, `thread died: ${e.message}\nseed ${seed}`);
      done({ target: opts.target, execs: Atomics.load(counters, 0), seconds: (performance.now() - started) / 1000, seed, failure: { kind: 'crash', message: `thread died: ${e.message}`, file } });
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`fuzz worker for ${opts.target} exited with code ${code} without a result`));
    });
    worker.postMessage(job);
  });
}

/** The saved regression inputs of a target (files without an extension under regressions/<target>/). */
export function regressionInputs(target: string): { name: string; bytes: Uint8Array }[] {
  const dir = join(REGRESSION_DIR, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => !f.includes('.')).sort().map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(dir, f))) }));
}

/**
 * Replays a target's regression inputs on a worker thread (so one that hangs again is caught by the
 * watchdog, not by a test that never ends); resolves with those that still break an invariant.
 */
export async function replayRegressions(target: string, slowMs = 5000): Promise<{ name: string; message: string }[]> {
  const inputs = regressionInputs(target);
  if (inputs.length === 0) return [];
  const r = await runTarget({ target, timeMs: 0, slowMs, replay: inputs.map((i) => i.bytes) });
  if (r.failure) return [{ name: inputs[Math.max(0, r.execs - 1)]?.name ?? '?', message: r.failure.message }];
  return inputs.flatMap((input, k) => (r.replayed?.[k] ? [{ name: input.name, message: r.replayed[k]! }] : []));
}
