/**
 * Benchmark: the whole `tessel postprocess` process (spawned CLI: NPZ read, both compartments on worker
 * threads, TIFF write) against scikit-image running the same deep-watershed recipe (compute only, timed
 * inside Python, no I/O) on the same seeded Mesmer-like maps, in the same run. Also h-maxima alone on
 * both sides (whole-cell inner-distance map, Mesmer's h = 0.075, disk(2)).
 *
 *   npx tsx bench/postprocess.ts                 # 4096×4096
 *   npx tsx bench/postprocess.ts --size 2048
 *   npx tsx bench/postprocess.ts --size 16384 --no-reference   # time and peak RSS (bytes/pixel) only
 *   --entry <file>   CLI entry to spawn (default cli/main.ts)
 *
 * Maps are made by test/unit/postprocess/fixtures/deep_watershed_reference.py (seed 4) and cached in
 * the OS temp folder. Peak RSS of the CLI process comes from getrusage(RUSAGE_CHILDREN) in a Python
 * wrapper (ru_maxrss, KiB on Linux).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readNpz } from '../core/formats/npz';
import { diskFootprint } from '../core/kernels/footprint';
import { hMaxima } from '../core/kernels/h-maxima';
import { runPython } from '../test/helpers/python';
import { ensureBenchTools } from './tools';

const root = resolve(__dirname, '..');
const script = join(root, 'test/unit/postprocess/fixtures/deep_watershed_reference.py');
const arg = (name: string, fallback?: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : fallback; };
const size = Number(arg('--size', '4096'));
const entry = resolve(arg('--entry', join(root, 'cli/main.ts'))!);
const withReference = !process.argv.includes('--no-reference');
const work = join(tmpdir(), 'tessel-bench-postprocess');
mkdirSync(work, { recursive: true });
const maps = join(work, `maps-${size}-seed4.npz`);

function log(s: string) { process.stdout.write(s + '\n'); }

async function main() {
  ensureBenchTools({ reference: true });
  if (!existsSync(maps)) {
    log(`making ${size}×${size} maps → ${maps}`);
    runPython(script, ['maps', '--size', String(size), '--seed', '4', '--out', maps]);
  }

  let ref: Record<string, { total_s: number; h_maxima_s: number }> | undefined;
  if (withReference) {
    ref = JSON.parse(runPython(script, ['recipe', '--npz', maps, '--out', join(work, `ref-${size}.npz`)]));
  }

  const outDir = join(work, `out-${size}`);
  rmSync(outDir, { recursive: true, force: true });
  const cli = ['node', '--require', require.resolve('tsx/cjs'), entry, 'postprocess', maps, '--out-dir', outDir, '--name', 'bench', '--json'];
  const wrapper = `
import resource, subprocess, sys, time, json
t = time.perf_counter(); r = subprocess.run(sys.argv[1:], capture_output=True, text=True); wall = time.perf_counter() - t
if r.returncode: sys.stderr.write(r.stderr); sys.exit(r.returncode)
print(json.dumps({"wall_s": wall, "max_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, "result": json.loads(r.stdout)}))`;
  const run = JSON.parse(runPython(wrapper, cli, { cwd: root })) as { wall_s: number; max_rss_bytes: number; result: { wholeCellCount: number; nucleusCount: number } };

  const pixels = size * size;
  log(`\n${size}×${size} (${(pixels / 1e6).toFixed(1)} Mpx), both compartments`);
  log(`tessel postprocess process (read + compute + write): ${run.wall_s.toFixed(2)} s, peak RSS ${(run.max_rss_bytes / 2 ** 30).toFixed(2)} GiB = ${(run.max_rss_bytes / pixels).toFixed(1)} bytes/pixel, ` +
    `${run.result.wholeCellCount} cells, ${run.result.nucleusCount} nuclei`);
  if (ref) {
    const skimageTotal = ref['whole-cell'].total_s + ref.nuclear.total_s;
    log(`scikit-image recipe compute alone (both compartments): ${skimageTotal.toFixed(2)} s`);
    log(`ratio (scikit-image compute / tessel whole process): ${(skimageTotal / run.wall_s).toFixed(2)}×`);

    const heads = await readNpz(maps);
    const a0 = heads.get('arr_0')!;
    const maxima = { data: a0.data as Float32Array, width: size, height: size };
    hMaxima(maxima, 0.075, diskFootprint(2)); // warm-up
    const t = performance.now();
    hMaxima(maxima, 0.075, diskFootprint(2));
    const ours = (performance.now() - t) / 1000;
    const theirs = ref['whole-cell'].h_maxima_s;
    log(`h-maxima alone (whole-cell map): tessel ${ours.toFixed(3)} s, scikit-image ${theirs.toFixed(3)} s, ratio ${(theirs / ours).toFixed(1)}×`);

    const agree = runPython(`
import sys, numpy as np, tifffile
r = np.load(sys.argv[1]); w = tifffile.imread(sys.argv[2]); n = tifffile.imread(sys.argv[3])
print(f"pixels differing from scikit-image: whole-cell {int((w != r['whole_cell']).sum())}, nuclear {int((n != r['nuclear']).sum())}")`,
    [join(work, `ref-${size}.npz`), join(outDir, 'bench_WholeCellMask.tiff'), join(outDir, 'bench_NucleusMask.tiff')]);
    log(agree.trim());
  }
}

main().catch((e) => { process.stderr.write(`${(e as Error).message}\n`); process.exit(1); });
