/**
 * Decode throughput: a tiled (256×256) zlib-compressed 16-bit 8-channel OME-TIFF, read whole by
 * Tessel's reader and by tifffile (single-threaded, `maxworkers=1`) in the same run.
 *
 *   npx tsx bench/decode.ts [--size 2048] [--channels 8] [--repeats 5] [--rounds 3]
 *
 * Prints MB/s (decoded bytes) for each and the ratio Tessel / tifffile. Each reader runs in a fresh
 * process of its own, single-threaded; tifffile inflates with imagecodecs, Tessel with Node's zlib.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage } from '../core/formats/image';
import { ensureBenchTools } from './tools';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function tesselOnce(file: string): Promise<{ seconds: number; checksum: number }> {
  const t0 = process.hrtime.bigint();
  const src = await openImage(file);
  let checksum = 0;
  for (let c = 0; c < src.info.channels.length; c++) {
    const p = await src.readChannel(c);
    const d = p.data as Uint16Array;
    for (let i = 0; i < d.length; i += 4099) checksum += d[i];
  }
  await src.close();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, checksum };
}

async function tesselBest(file: string, repeats: number): Promise<{ seconds: number; checksum: number }> {
  let best = { seconds: Infinity, checksum: 0 };
  for (let r = 0; r < repeats; r++) {
    const t = await tesselOnce(file);
    if (t.seconds < best.seconds) best = t;
  }
  return best;
}

async function main(): Promise<void> {
  const repeats = arg('repeats', 5);
  const childAt = process.argv.indexOf('--child');
  if (childAt >= 0) {
    process.stdout.write(JSON.stringify(await tesselBest(process.argv[childAt + 1], repeats)));
    return;
  }
  const PYTHON = ensureBenchTools({ reference: true });
  const size = arg('size', 2048);
  const channels = arg('channels', 8);
  const rounds = arg('rounds', 3);
  const dir = mkdtempSync(join(tmpdir(), 'tessel-bench-'));
  const file = join(dir, 'bench.ome.tif');
  try {
    // The file is written by one Python process and timed by another, so tifffile, like Tessel, reads
    // in a fresh process (not into memory the writer has just freed).
    execFileSync(PYTHON, ['-c', `
import sys, numpy as np, tifffile
size, channels, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(7)
yy, xx = np.mgrid[0:size, 0:size]
data = np.stack([((np.sin(xx / (40 + 9 * c)) + np.cos(yy / (55 + 5 * c))) * 8000 + 20000 + rng.normal(0, 300, (size, size))).astype(np.uint16)
                 for c in range(channels)])
tifffile.imwrite(path, data, ome=True, tile=(256, 256), compression='zlib', metadata={'axes': 'CYX'})
`, String(size), String(channels), file]);
    // Rounds alternate the two readers (tifffile, then Tessel, each in a fresh process), so a burst of
    // load on a shared machine slows both rather than one; the best time of each across rounds is compared.
    type Timing = { seconds: number; checksum: number };
    const pyRuns: (Timing & { bytes: number; tifffile: string })[] = [];
    const tsRuns: Timing[] = [];
    for (let r = 0; r < rounds; r++) {
      pyRuns.push(JSON.parse(execFileSync(PYTHON, ['-c', `
import sys, time, json, tifffile
repeats, path = int(sys.argv[1]), sys.argv[2]
best = 1e9
for _ in range(repeats):
    t = time.perf_counter(); a = tifffile.imread(path, maxworkers=1); best = min(best, time.perf_counter() - t)
print(json.dumps({'seconds': best, 'checksum': int(sum(int(v) for c in range(a.shape[0]) for v in a[c].ravel()[::4099])), 'bytes': a.nbytes,
                  'tifffile': tifffile.__version__}))
`, String(repeats), file], { encoding: 'utf8' })));
      tsRuns.push(JSON.parse(execFileSync(process.execPath,
        ['--require', require.resolve('tsx/cjs'), __filename, '--child', file, '--repeats', String(repeats)],
        { encoding: 'utf8' })));
      const [p, t] = [pyRuns[r], tsRuns[r]];
      if (t.checksum !== p.checksum) throw new Error(`checksums differ: tessel ${t.checksum}, tifffile ${p.checksum}`);
      process.stderr.write(`round ${r + 1}/${rounds}: tifffile ${p.seconds.toFixed(3)} s, tessel ${t.seconds.toFixed(3)} s, ratio ${(p.seconds / t.seconds).toFixed(2)}×\n`);
    }
    const py = pyRuns.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const single = tsRuns.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const mbps = (sec: number) => (py.bytes / 1e6 / sec).toFixed(0);
    const rows = [
      [`tifffile ${py.tifffile} (maxworkers=1)`, py.seconds],
      ['tessel (1 thread)', single.seconds],
    ] as const;
    process.stdout.write(`${new Date().toISOString()} load ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores\n`);
    process.stdout.write(`decode ${channels}×${size}×${size} uint16, tiled 256, zlib (${(py.bytes / 2 ** 20).toFixed(0)} MiB decoded), best of ${repeats} reads × ${rounds} rounds\n`);
    for (const [name, s] of rows) process.stdout.write(`  ${name.padEnd(40)} ${s.toFixed(3)} s  ${mbps(s).padStart(5)} MB/s  ratio vs tifffile ${(py.seconds / s).toFixed(2)}×\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
