import fc from 'fast-check';
import { parentPort } from 'node:worker_threads';
import { checkOne, SHARED_HEADER, type FuzzJob, type FuzzOutcome } from './check';
import { loadCorpus } from './corpus';
import { targetNamed } from './targets';

/**
 * Fuzz worker thread: runs one target with fast-check until its time or execution budget is spent, or
 * an input breaks an invariant (then fast-check shrinks it). Before each execution the input is copied
 * into shared memory with the execution count, so the parent can save the input that hangs the thread
 * and terminate it.
 */
parentPort!.once('message', (job: FuzzJob) => {
  void run(job).then((o) => parentPort!.postMessage(o), (e: Error) => parentPort!.postMessage({ execs: 0, ms: 0, failure: { message: `harness error: ${e.message}`, stack: e.stack, input: new Uint8Array(0) } }));
});

async function run(job: FuzzJob): Promise<FuzzOutcome> {
  const target = targetNamed(job.target);
  const counters = new Int32Array(job.shared, 0, 2);
  const inputArea = new Uint8Array(job.shared, SHARED_HEADER);
  if (job.replay) {
    const t0 = performance.now();
    const replayed: (string | null)[] = [];
    for (const bytes of job.replay) {
      inputArea.set(bytes.subarray(0, inputArea.length));
      Atomics.store(counters, 1, Math.min(bytes.length, inputArea.length));
      Atomics.add(counters, 0, 1);
      replayed.push(await checkOne(target, target.fromBytes(bytes), { slowMs: job.slowMs }).then(() => null, (e: Error) => e.message));
    }
    return { execs: replayed.length, ms: performance.now() - t0, replayed };
  }
  const arbitrary = target.arbitrary(loadCorpus());
  let execs = 0;
  let lastError: Error | undefined;
  const t0 = performance.now();
  const result = await fc.check(fc.asyncProperty(arbitrary, async (input) => {
    const bytes = target.bytes(input);
    const n = Math.min(bytes.length, inputArea.length);
    inputArea.set(bytes.subarray(0, n));
    Atomics.store(counters, 1, n);
    Atomics.store(counters, 0, ++execs);
    try {
      await checkOne(target, input, { slowMs: job.slowMs });
    } catch (e) {
      lastError = e as Error;
      throw e;
    }
  }), { seed: job.seed, numRuns: job.maxExecs, interruptAfterTimeLimit: job.timeMs, markInterruptAsFailure: false, verbose: 0 });
  const ms = performance.now() - t0;
  if (!result.failed || !result.counterexample) return { execs, ms };
  const input = target.bytes(result.counterexample[0]);
  // The shrunk counterexample's own error (fast-check keeps the last failing run's).
  let message = lastError?.message ?? String(result.errorInstance);
  let stack = lastError?.stack;
  try {
    await checkOne(target, result.counterexample[0], { slowMs: job.slowMs });
  } catch (e) {
    message = (e as Error).message;
    stack = (e as Error).stack;
  }
  return { execs, ms, failure: { message, stack, input, counterexamplePath: result.counterexamplePath ?? undefined } };
}
