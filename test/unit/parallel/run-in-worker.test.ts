import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { threadId } from 'node:worker_threads';
import { join } from 'node:path';
import { collectTransferables, idleThreadCount, profilerFlags, runInWorker } from '../../../core/parallel/run-in-worker';
import { TesselError } from '../../../core/errors';

const JOBS = join(__dirname, '..', '..', 'fixtures', 'parallel', 'jobs');

it('runs off the main thread and reuses an idle thread for the next call', async () => {
  const first = await runInWorker<number>(JOBS, 'whoAmI', []);
  expect(first).not.toBe(threadId);
  expect(idleThreadCount()).toBeGreaterThanOrEqual(1);
  expect(await runInWorker<number>(JOBS, 'whoAmI', [])).toBe(first);
});

it('runs concurrent calls on separate threads', async () => {
  const ids = await Promise.all([1, 2, 3].map(() => runInWorker<number>(JOBS, 'whoAmI', [])));
  expect(new Set(ids).size).toBe(3);
});

it('moves transferred buffers and returns typed arrays', async () => {
  const a = new Float64Array([1, 2, 3]);
  const out = await runInWorker<Float64Array>(JOBS, 'double', [a], { transfer: [a.buffer] });
  expect(Array.from(out)).toEqual([2, 4, 6]);
  expect(a.byteLength).toBe(0); // moved, not copied
});

it('results give their typed arrays away instead of copying them, however deep', async () => {
  const out = await runInWorker<{ compartments: { cell: { mean: Float32Array } } }[]>(JOBS, 'nestedColumns', []);
  expect(out[0].compartments.cell.mean).toHaveLength(1000);
  expect(await runInWorker<number>(JOBS, 'keptByteLength', [])).toBe(0); // detached in the worker: moved
});

it('collects whole, unshared buffers only, and does not walk arrays of numbers', () => {
  const whole = new Float64Array(4), part = new Uint8Array(new ArrayBuffer(16), 4, 8), shared = new Int32Array(new SharedArrayBuffer(8));
  const found = collectTransferables({ a: [{ b: { c: { d: whole } } }], part, shared, numbers: [1, 2, 3], text: 'x' });
  expect(found).toHaveLength(1);
  expect(found[0] === whole.buffer).toBe(true);
  expect(collectTransferables([whole, whole])).toHaveLength(1);
});

it('keeps TesselError codes and the file across the thread boundary, and the thread stays usable', async () => {
  const err = await runInWorker(JOBS, 'fail', []).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TesselError);
  expect(err).toMatchObject({ code: 'INVALID_CONFIG', file: 'x.json', message: expect.stringContaining('bad setting') });
  expect(await runInWorker<number>(JOBS, 'whoAmI', [])).toEqual(expect.any(Number));
});

it('forwards progress messages to the caller', async () => {
  const seen: unknown[] = [];
  await runInWorker(JOBS, 'report', [4], { onMessage: (m) => seen.push(m) });
  expect(seen).toEqual([0.25, 0.5, 0.75, 1]);
});

it('terminates the thread on abort, within the call, and does not reuse it', async () => {
  await runInWorker<number>(JOBS, 'whoAmI', []);
  const idleBefore = idleThreadCount();
  const ac = new AbortController();
  const t0 = Date.now();
  const p = runInWorker(JOBS, 'spin', [20_000], { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('cancelled')), 200);
  await expect(p).rejects.toThrow('cancelled');
  expect(Date.now() - t0).toBeLessThan(5_000);
  expect(idleThreadCount()).toBe(idleBefore - 1); // the aborted thread never comes back to the pool
  expect(await runInWorker<number>(JOBS, 'whoAmI', [])).toEqual(expect.any(Number));
});

it('drops a thread that dies while idle, and the next call still runs', async () => {
  expect(await runInWorker<string>(JOBS, 'exitSoon', [])).toBe('ok');
  const idle = idleThreadCount();
  await new Promise((r) => setTimeout(r, 500));
  expect(idleThreadCount()).toBe(idle - 1);
  expect(await runInWorker<number>(JOBS, 'whoAmI', [])).toEqual(expect.any(Number));
});

it('starts threads from a process run with `--import tsx` and V8 flags, and profiles them with --cpu-prof', () => {
  // As the CLI runs from sources (`node --import tsx cli/main.ts`): the thread's TypeScript entry gets
  // tsx's CommonJS hook, not the parent's ESM one, and no flag a thread refuses.
  const dir = mkdtempSync(join(tmpdir(), 'tessel-thread-flags-'));
  try {
    const script = `require(${JSON.stringify(require.resolve('../../../core/parallel/run-in-worker'))}).runInWorker(${JSON.stringify(JOBS)}, 'whoAmI', [])
      .then((id) => { console.log(id); process.exit(0); }, (e) => { console.error(e.message); process.exit(1); });`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--max-old-space-size=2000', '--cpu-prof', '--cpu-prof-dir', dir, '-e', script], { encoding: 'utf8', cwd: join(__dirname, '..', '..', '..') });
    expect(Number(out.trim())).toBeGreaterThan(0); // a thread's id, not the main thread's 0
    // One of the profiles is the thread's: it ran the thread entry.
    const urls = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { nodes: { callFrame: { url: string } }[] }).nodes.map((n) => n.callFrame.url));
    expect(urls.some((u) => u.some((url) => url.endsWith('worker-entry.ts')))).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('passes on only the profiler flags, with their values', () => {
  expect(profilerFlags(['--import', 'tsx', '--max-old-space-size=2000', '--cpu-prof', '--cpu-prof-dir', '/p', '--heap-prof-interval=4', '--expose-gc']))
    .toEqual(['--cpu-prof', '--cpu-prof-dir', '/p', '--heap-prof-interval=4']);
});
