/**
 * `npm run fuzz`: the long, on-demand fuzz run. Each target fuzzes on its own worker thread for
 * `--time` seconds (or `--execs` executions), `--jobs` targets at a time; prints executions and rate per
 * target and the total, saves every failure under test/fuzz/crashes/, exits 1 if there was one.
 *
 *   npm run fuzz -- [--target tiff-lzw,npz | all] [--time 60] [--execs N] [--jobs 2] [--seed S] [--slow-ms 5000]
 *   npm run fuzz -- --replay test/fuzz/crashes/<target>/<digest>   (runs one saved input here, printing what breaks)
 *
 * Each target starts from a random seed unless `--seed` is given (printed either way, so a run can be
 * repeated exactly).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname } from 'node:path';
import { checkOne } from './check';
import { runTarget, type RunResult } from './runner';
import { TARGETS, targetNamed } from './targets';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Runs one saved input in this process and prints the invariant it breaks, with the stack. */
async function replay(file: string): Promise<void> {
  const target = targetNamed(arg('target') ?? basename(dirname(file)));
  const t0 = performance.now();
  try {
    await checkOne(target, target.fromBytes(new Uint8Array(readFileSync(file))), { slowMs: Number(arg('slow-ms') ?? 5000) });
    process.stdout.write(`${file}: ok (${(performance.now() - t0).toFixed(0)} ms)\n`);
  } catch (e) {
    process.stdout.write(`${file}: ${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  if (arg('replay')) return replay(arg('replay')!);
  const names = !arg('target') || arg('target') === 'all' ? TARGETS.map((t) => t.name) : arg('target')!.split(',');
  const timeMs = Number(arg('time') ?? 60) * 1000;
  const maxExecs = arg('execs') ? Number(arg('execs')) : undefined;
  const jobs = Math.max(1, Number(arg('jobs') ?? Math.min(2, cpus().length)));
  const seed = arg('seed') !== undefined ? Number(arg('seed')) : undefined;
  const slowMs = Number(arg('slow-ms') ?? 5000);
  process.stderr.write(`fuzzing ${names.join(', ')}: ${maxExecs ? `${maxExecs} executions` : `${timeMs / 1000} s`} each, ${jobs} at a time\n`);
  const queue = [...names];
  const results: RunResult[] = [];
  await Promise.all(Array.from({ length: jobs }, async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      const r = await runTarget({ target: name, timeMs: maxExecs ? 10 * 24 * 3600_000 : timeMs, maxExecs, seed, slowMs });
      results.push(r);
      process.stdout.write(`${r.target.padEnd(18)} ${String(r.execs).padStart(10)} execs  ${r.seconds.toFixed(0).padStart(5)} s  ${Math.round(r.execs / Math.max(r.seconds, 1e-3)).toString().padStart(7)}/s  seed ${r.seed}  ${r.failure ? `${r.failure.kind.toUpperCase()}: ${r.failure.message.split('\n')[0]} (${r.failure.file})` : 'ok'}\n`);
    }
  }));
  const total = results.reduce((n, r) => n + r.execs, 0);
  process.stdout.write(`total ${total} executions, ${results.filter((r) => r.failure).length} failure(s)\n`);
  process.exitCode = results.some((r) => r.failure) ? 1 : 0;
}

void main().catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(2);
});
