/**
 * Benchmarks of blockwise segment-and-measure (issue 16), on demand, each printing ratios against a
 * reference measured in the same run. Every tessel command is a spawned CLI process; peak RSS is the
 * process's getrusage(RUSAGE_CHILDREN).ru_maxrss through a Python wrapper (worker threads included).
 *
 *   npx tsx bench/blockwise.ts agreement [--size 4096] [--block-sizes 512,1024,2048] [--halo 96]
 *       whole-image vs blockwise on synthetic tissue (core/synth): matched-object F1 at IoU 0.5 per
 *       compartment, cells crossing block lines, measurement rows of matched cells, wall time and peak RSS
 *   npx tsx bench/blockwise.ts memory [--sizes 4096,8192,16384] [--block-size 1024] [--tissue 0,0,1,1]
 *       peak RSS of a blockwise segment (bench/blockwise-rss.ts: the block work and the masks apart) and of
 *       `tessel quantify --block-size` on synthetic slides (bench/make_slide.py) of each size, against
 *       whole-image bytes/pixel at the first size
 *   npx tsx bench/blockwise.ts workers [--size 2048] [--block-size 512] [--workers 1,2,4]
 *       one slide through Temporal (dev server) with 1, 2, 4 worker processes (all queues each), against
 *       the same image run whole by one worker
 *   npx tsx bench/blockwise.ts gigapixel [--size 32768] [--tissue 0,0,1,1]
 *       the gigapixel run: a 4-channel slide through Temporal, undisturbed and with kill -9 of the GPU and
 *       CPU workers mid-image; masks, boxes and reports compared byte for byte, peak RSS per
 *       worker (slow: hours on 2 cores with tissue everywhere; `--tissue` leaves the rest glass)
 *
 * Work files go to $TMPDIR/tessel-bench-blockwise (slides are cached there by size and tissue).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { matchObjects } from '../core/eval/match';
import { readLabelMask } from '../core/formats/image';
import { writeOmeTiff } from '../core/formats/tiff-write';
import { generateTissue } from '../core/synth/tissue';
import { startDevServer } from '../infra/temporal/dev-server';
import { runPython } from '../test/helpers/python';
import { ensureBenchTools } from './tools';

const root = resolve(__dirname, '..');
const cli = join(root, 'cli', 'main.ts');
const arg = (name: string, fallback: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : fallback; };
const work = join(tmpdir(), 'tessel-bench-blockwise');
mkdirSync(work, { recursive: true });
const log = (s: string) => process.stdout.write(s + '\n');

interface Measured { wallS: number; rssBytes: number; stdout: string }

/** `tessel <args>` as its own process, timed, with its peak RSS. */
function tessel(args: string[], env: NodeJS.ProcessEnv = {}): Measured {
  const wrapper = `
import resource, subprocess, sys, time, json
t = time.perf_counter(); r = subprocess.run(sys.argv[1:], capture_output=True, text=True); wall = time.perf_counter() - t
if r.returncode: sys.stderr.write(r.stdout + r.stderr); sys.exit(r.returncode)
print(json.dumps({"wallS": wall, "rssBytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, "stdout": r.stdout}))`;
  return JSON.parse(runPython(wrapper, [process.execPath, '--import', 'tsx', cli, ...args], { cwd: root, env: { ...process.env, ...env } })) as Measured;
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/** Labels with pixels on both sides of a block line (x or y a multiple of the block size). */
function crossing(mask: Int32Array, width: number, height: number, block: number): number {
  const out = new Set<number>();
  for (let y = 0; y < height; y++) {
    for (let x = block; x < width; x += block) { const a = mask[y * width + x - 1]; if (a !== 0 && a === mask[y * width + x]) out.add(a); }
  }
  for (let y = block; y < height; y += block) {
    for (let x = 0; x < width; x++) { const a = mask[(y - 1) * width + x]; if (a !== 0 && a === mask[y * width + x]) out.add(a); }
  }
  return out.size;
}

/** Greedy IoU > 0.5 pairs (unique at that threshold), truth label → other label. */
function pairs(truth: Int32Array, other: Int32Array): Map<number, number> {
  const area = new Map<number, number>(), areaO = new Map<number, number>(), both = new Map<string, number>();
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i], o = other[i];
    if (t) area.set(t, (area.get(t) ?? 0) + 1);
    if (o) areaO.set(o, (areaO.get(o) ?? 0) + 1);
    if (t && o) both.set(`${t} ${o}`, (both.get(`${t} ${o}`) ?? 0) + 1);
  }
  const out = new Map<number, number>();
  for (const [k, n] of both) {
    const [t, o] = k.split(' ').map(Number);
    if (n / (area.get(t)! + areaO.get(o)! - n) > 0.5) out.set(t, o);
  }
  return out;
}

/** TSV rows by Name, without the Object ID and Name columns (they follow the label). */
function rowsByName(tsv: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of tsv.split('\n').slice(1)) {
    if (!line) continue;
    const f = line.split('\t');
    out.set(Number(f[3]), [f[0], ...f.slice(4)].join('\t'));
  }
  return out;
}

async function agreement(): Promise<void> {
  const size = Number(arg('--size', '4096')), halo = Number(arg('--halo', '96'));
  const blocks = arg('--block-sizes', arg('--block-size', '1024')).split(',').map(Number);
  const dir = join(work, `agreement-${size}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const image = join(dir, 'img.ome.tiff');
  log(`synthetic tissue ${size}×${size}, 4 channels → ${image}`);
  const t = generateTissue({ width: size, height: size, seed: 7, channels: 4 });
  await writeOmeTiff(image, { channels: t.channels, channelNames: t.channelNames, physicalSizeX: 0.5, physicalSizeY: 0.5, tileSize: 512 });
  const px = size * size;
  const wall = (ms: Measured[]) => ms.reduce((s, m) => s + m.wallS, 0);
  const rss = (ms: Measured[]) => Math.max(...ms.map((m) => m.rssBytes));

  log('whole image: tessel convert, tessel segment <npz>, tessel quantify');
  const w = [
    tessel(['convert', image, '--out', join(dir, 'img.npz')]),
    tessel(['segment', join(dir, 'img.npz'), '--out-dir', join(dir, 'whole'), '--name', 'img']),
    tessel(['quantify', '--image', image, '--whole-cell-mask', join(dir, 'whole', 'img_WholeCellMask.tiff'), '--nucleus-mask', join(dir, 'whole', 'img_NucleusMask.tiff'),
      '--out', join(dir, 'whole', 'quant.tsv'), '--image-name', 'img']),
  ];
  log(`whole: wall ${wall(w).toFixed(1)} s (convert ${w[0].wallS.toFixed(1)}, segment ${w[1].wallS.toFixed(1)}, quantify ${w[2].wallS.toFixed(1)}), ` +
    `peak RSS ${gib(rss(w))} = ${(rss(w) / px).toFixed(1)} B/px`);
  for (const block of blocks) {
    const out = join(dir, `blocks-${block}`);
    log(`\nblockwise: tessel segment <image> --block-size ${block} --halo ${halo}, tessel quantify --block-size ${block}`);
    const b = [
      tessel(['segment', image, '--block-size', String(block), '--halo', String(halo), '--out-dir', out, '--name', 'img']),
      tessel(['quantify', '--image', image, '--whole-cell-mask', join(out, 'img_WholeCellMask.tiff'), '--nucleus-mask', join(out, 'img_NucleusMask.tiff'),
        '--out', join(out, 'quant.tsv'), '--image-name', 'img', '--block-size', String(block)]),
    ];
    log(`${size}×${size} (${(px / 1e6).toFixed(1)} Mpx), block ${block}, halo ${halo}`);
    for (const [c, file] of [['whole-cell', 'WholeCell'], ['nuclear', 'Nucleus']] as const) {
      const a = (await readLabelMask(join(dir, 'whole', `img_${file}Mask.tiff`))).data;
      const o = (await readLabelMask(join(out, `img_${file}Mask.tiff`))).data;
      let same = 0;
      for (let i = 0; i < a.length; i++) if (a[i] === o[i]) same++;
      const m = matchObjects(a, o, 0.5);
      const ca = crossing(a, size, size, block), co = crossing(o, size, size, block);
      log(`${c.padEnd(10)} F1@0.5 ${m.f1.toFixed(5)} (tp ${m.tp}, fp ${m.fp}, fn ${m.fn}); identical pixels ${(same / a.length * 100).toFixed(4)} %; ` +
        `objects crossing block lines: whole ${ca}, blockwise ${co} (ratio ${(co / ca).toFixed(4)})`);
      if (c === 'whole-cell') {
        const p = pairs(a, o);
        const ra = rowsByName(readFileSync(join(dir, 'whole', 'quant.tsv'), 'utf8')), rb = rowsByName(readFileSync(join(out, 'quant.tsv'), 'utf8'));
        let identical = 0;
        for (const [ta, tb] of p) if (ra.get(ta) === rb.get(tb)) identical++;
        const bytes = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
        log(`measurements: ${identical}/${p.size} matched cells with identical rows; TSV files ${bytes(join(dir, 'whole', 'quant.tsv')) === bytes(join(out, 'quant.tsv')) ? 'byte-identical' : 'differ'}`);
      }
    }
    log(`wall: blockwise ${wall(b).toFixed(1)} s (segment ${b[0].wallS.toFixed(1)}, quantify ${b[1].wallS.toFixed(1)}) / whole ${wall(w).toFixed(1)} s = ${(wall(b) / wall(w)).toFixed(3)}`);
    log(`peak RSS: blockwise ${gib(rss(b))} = ${(rss(b) / px).toFixed(1)} B/px (segment ${gib(b[0].rssBytes)}, quantify ${gib(b[1].rssBytes)}) / whole ${gib(rss(w))} = ` +
      `${(rss(b) / rss(w)).toFixed(3)}`);
  }
}

/** A slide from bench/make_slide.py, cached by size and tissue region. */
function slide(size: number, tissue: string): string {
  const path = join(work, `slide-${size}-${tissue.replace(/,/g, '_')}.ome.tiff`);
  if (!existsSync(path)) {
    log(`making ${path}`);
    runPython(join(root, 'bench', 'make_slide.py'), [path, '--width', String(size), '--height', String(size), '--tissue', tissue], { stdio: ['ignore', 'pipe', 'inherit'] });
  }
  return path;
}

async function memory(): Promise<void> {
  const sizes = arg('--sizes', '4096,8192,16384').split(',').map(Number);
  const block = arg('--block-size', '1024'), tissue = arg('--tissue', '0,0,1,1');
  let first: number | undefined;
  for (const size of sizes) {
    const image = slide(size, tissue);
    const out = join(work, `memory-${size}`);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    // The segment in a process of its own, its resident memory split into the block work and the masks.
    const r = JSON.parse(runPython(`
import subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if r.returncode: sys.stderr.write(r.stderr); sys.exit(r.returncode)
print(r.stdout.strip().splitlines()[-1])`, [process.execPath, '--import', 'tsx', join(root, 'bench', 'blockwise-rss.ts'), image, block, out], { cwd: root })) as {
      seconds: number; peakBlocks: number; peakMasks: number; maxRss: number; cells: number; roles: Record<string, number>;
    };
    const q = tessel(['quantify', '--image', image, '--whole-cell-mask', join(out, 's_WholeCellMask.tiff'), '--nucleus-mask', join(out, 's_NucleusMask.tiff'),
      '--out', join(out, 'quant.tsv'), '--block-size', block]);
    const px = size * size;
    first ??= r.peakBlocks;
    log(`${String(size).padStart(6)}² ${(px / 1e6).toFixed(0).padStart(4)} Mpx (${r.cells} cells, blocks ${JSON.stringify(r.roles)}, ${r.seconds.toFixed(0)} s): ` +
      `segment peak ${gib(r.maxRss)}; block work ${gib(r.peakBlocks)} (×${(r.peakBlocks / first).toFixed(3)} of the first size); ` +
      `masks ${gib(r.peakMasks)} (streaming mask writer; a whole int32 plane would be ${gib(px * 4)}); ` +
      `quantify --block-size ${gib(q.rssBytes)} (${q.wallS.toFixed(0)} s)`);
  }
  const size0 = sizes[0];
  const npz = join(work, `memory-${size0}.npz`);
  tessel(['convert', slide(size0, tissue), '--out', npz]);
  const whole = tessel(['segment', npz, '--out-dir', join(work, `memory-whole-${size0}`), '--name', 's']);
  log(`whole image at ${size0}²: tessel segment ${gib(whole.rssBytes)} = ${(whole.rssBytes / size0 ** 2).toFixed(1)} B/px (${whole.wallS.toFixed(0)} s)`);
}

/** A worker process for the given queue; resolves once it is ready. */
function startWorker(queue: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<ChildProcess & { peak(): number }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'worker', '--queue', queue, ...extra], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', peak = 0;
    // VmHWM is the process's resident high-water mark, so reading it when asked gives the peak so far; the
    // timer keeps the last value for after the process is killed (it cannot fire during a synchronous tessel() call).
    const hwm = () => {
      try { peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024); } catch { /* gone */ }
      return peak;
    };
    const timer = setInterval(hwm, 1000);
    child.on('exit', () => clearInterval(timer));
    const onData = (d: Buffer) => { out += d; if (out.includes('worker ready')) res(Object.assign(child, { peak: hwm })); };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => rej(new Error(`worker exited ${code}: ${out}`)));
  });
}

async function runOnServer(address: string, ws: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = tessel(['run', 'workspace', ws, '--json', ...args], { TEMPORAL_ADDRESS: address });
  const summary = JSON.parse(r.stdout) as { images: { done: number } };
  if (summary.images.done !== 1) throw new Error(`run did not finish its image: ${r.stdout.slice(0, 500)}`);
  return (performance.now() - t0) / 1000;
}

async function workers(): Promise<void> {
  const size = Number(arg('--size', '2048')), block = arg('--block-size', '512');
  const counts = arg('--workers', '1,2,4').split(',').map(Number);
  const image = slide(size, '0,0,1,1');
  const server = await startDevServer({ dbFile: join(work, `workers-${Date.now()}.db`), headless: true });
  const env = { TEMPORAL_ADDRESS: server.address };
  const ws = (name: string) => {
    const d = join(work, `workers-${name}`);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(join(d, 'OMETIFF'), { recursive: true });
    writeFileSync(join(d, 'OMETIFF', 'slide.ome.tiff'), readFileSync(image));
    return d;
  };
  try {
    const started = [await startWorker('all', env)];
    const wholeS = await runOnServer(server.address, ws('whole'), ['--blockwise-above-pixels', '0']);
    log(`whole image, 1 worker: ${wholeS.toFixed(1)} s`);
    for (const n of counts) {
      while (started.length < n) started.push(await startWorker('all', env));
      const s = await runOnServer(server.address, ws(`blocks-${n}`), ['--blockwise-above-pixels', '1', '--block-size', block, '--max-blocks-in-flight', '16']);
      log(`blockwise, ${n} worker process(es): ${s.toFixed(1)} s, ×${(s / wholeS).toFixed(3)} of whole; peak RSS per worker ${started.map((w) => gib(w.peak())).join(', ')}`);
    }
    for (const w of started) w.kill('SIGTERM');
  } finally {
    await server.stop();
  }
}

async function gigapixel(): Promise<void> {
  const size = Number(arg('--size', '32768')), block = arg('--block-size', '1024'), tissue = arg('--tissue', '0,0,1,1');
  const image = slide(size, tissue);
  const server = await startDevServer({ dbFile: join(work, `giga-${Date.now()}.db`), headless: true });
  const env = { TEMPORAL_ADDRESS: server.address };
  const ws = (name: string) => {
    const d = join(work, `giga-${name}`);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(join(d, 'OMETIFF'), { recursive: true });
    runPython('import os, sys; os.link(sys.argv[1], sys.argv[2])', [image, join(d, 'OMETIFF', 'slide.ome.tiff')]);
    return d;
  };
  const flags = ['--blockwise-above-pixels', '1', '--block-size', block, '--heartbeat-timeout', '30'];
  try {
    const wf = await startWorker('workflows', env);
    let cpu = await startWorker('cpu', env), gpu = await startWorker('gpu', env);
    const cleanS = await runOnServer(server.address, ws('clean'), flags);
    log(`undisturbed: ${cleanS.toFixed(0)} s; peak RSS cpu ${gib(cpu.peak())}, gpu ${gib(gpu.peak())}, workflows ${gib(wf.peak())}`);
    const d = ws('fault');
    const run = spawn(process.execPath, ['--import', 'tsx', cli, 'run', 'workspace', d, '--json', ...flags], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    run.stdout!.on('data', (x) => (out += x));
    const done = new Promise((r) => run.on('exit', r));
    const killAfter = async (s: number, w: ChildProcess & { peak(): number }, queue: string) => {
      await new Promise((r) => setTimeout(r, s * 1000));
      const peakBefore = w.peak();
      w.kill('SIGKILL');
      log(`kill -9 of the ${queue} worker ${s.toFixed(0)} s later (its peak RSS, the undisturbed run included: ${gib(peakBefore)})`);
      return startWorker(queue, env);
    };
    gpu = await killAfter(cleanS * 0.35, gpu, 'gpu');
    cpu = await killAfter(cleanS * 0.25, cpu, 'cpu');
    await done;
    const summary = JSON.parse(out) as { images: { done: number } };
    log(`disturbed run: ${summary.images.done} image(s) done`);
    const sha = (f: string) => runPython('import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())', [f]).trim();
    // Where a mask's bytes differ, its labels are compared too (2048 rows at a time), to say whether it is the layout or the labels.
    const sameLabels = `
import sys, numpy as np, tifffile, zarr
a, b = (zarr.open(tifffile.imread(p, aszarr=True, level=0), mode='r') for p in sys.argv[1:3])
if a.shape != b.shape: print('DIFFERENT shapes', a.shape, b.shape); sys.exit()
diff = sum(int(np.count_nonzero(a[y:y + 2048] != b[y:y + 2048])) for y in range(0, a.shape[0], 2048))
print('identical labels' if diff == 0 else f'DIFFERENT: {diff} pixels')`;
    const outputs = ['SEGMASK/slide_WholeCellMask.tiff', 'SEGMASK/slide_NucleusMask.tiff', 'SEGMASK/slide_WholeCellBoxes.npy', 'SEGMASK/slide_NucleusBoxes.npy', 'REPORTS/slide_QUANT.tsv', 'REPORTS/slide.geojson'];
    for (const f of outputs) {
      const [a, b] = [join(work, 'giga-clean', f), join(d, f)];
      const same = sha(a) === sha(b);
      log(`${f}: ${same ? 'byte-identical' : `DIFFERENT bytes${f.endsWith('.tiff') ? `, ${runPython(sameLabels, [a, b]).trim()}` : ''}`}`);
    }
    log(`peak RSS after the kills: cpu ${gib(cpu.peak())}, gpu ${gib(gpu.peak())}`);
    for (const w of [wf, cpu, gpu]) w.kill('SIGTERM');
  } finally {
    await server.stop();
  }
}

const modes: Record<string, () => Promise<void>> = { agreement, memory, workers, gigapixel };
const mode = process.argv[2];
if (!modes[mode]) {
  process.stderr.write(`usage: npx tsx bench/blockwise.ts ${Object.keys(modes).join('|')} [options] (see the file's header)\n`);
  process.exit(2);
}
ensureBenchTools({ reference: true }); // the reference tools its checks run on (numpy, tifffile) in .venv
modes[mode]().then(() => process.exit(0), (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
