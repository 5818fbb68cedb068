import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCompiledCli } from '../../../infra/build-cli';
import { ensureCompiled } from '../../../infra/compile-on-demand';
import { runPython } from '../../helpers/python';
import { makeTestModel } from '../predict/helpers';

const root = join(__dirname, '..', '..', '..');
// Inside the checkout (git-ignored), so the compiled code finds Tessel's package.json above it as dist/ does.
const out = join(root, '.tessel', 'build-check');
let runner = '';

/** Runs the compiled CLI (what `npm run build` makes and bin/tessel.js runs) in a fresh process. */
function tessel(...args: string[]) {
  return spawnSync(process.execPath, [runner, ...args], { encoding: 'utf8' });
}

describe('the compiled build', () => {
  let dir: string;
  beforeAll(() => {
    runner = buildCompiledCli(out);
    dir = mkdtempSync(join(tmpdir(), 'tessel-build-'));
  }, 180_000);
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is what bin/tessel.js compiles on demand (file by file, infra/compile-on-demand.js), byte for byte', () => {
    const onDemand = join(root, '.tessel', 'build-check-on-demand');
    try {
      ensureCompiled(root, { dist: onDemand });
      const js = (d: string) => readdirSync(d, { recursive: true }).map(String).filter((f) => f.endsWith('.js') && f !== 'tessel.js').sort();
      expect(js(onDemand)).toEqual(js(out));
      expect(js(out).filter((f) => readFileSync(join(onDemand, f), 'utf8') !== readFileSync(join(out, f), 'utf8'))).toEqual([]);
    } finally {
      rmSync(onDemand, { recursive: true, force: true });
    }
  });

  it('finds its package.json from dist/ (version)', () => {
    const r = tessel('--version');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('synthesises an image and quantifies it on worker threads from compiled JS', () => {
    const synth = tessel('synth', dir, '--images', '1', '--size', '192');
    expect(synth.status).toBe(0);
    const cells = Number(/\((\d+) cells\)/.exec(synth.stdout)?.[1]);
    expect(cells).toBeGreaterThan(10);
    const q = tessel('quantify', '--image', join(dir, 'OMETIFF', 'tissue_000.ome.tiff'),
      '--whole-cell-mask', join(dir, 'GROUND_TRUTH', 'tissue_000_WholeCellMask.tiff'),
      '--nucleus-mask', join(dir, 'GROUND_TRUTH', 'tissue_000_NucleusMask.tiff'), '--out', join(dir, 'q.tsv'));
    expect(q.stderr).toBe('');
    expect(q.status).toBe(0);
    const lines = readFileSync(join(dir, 'q.tsv'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(cells + 1);
    expect(lines[0].split('\t')).toEqual(expect.arrayContaining(['Object ID', 'Name', 'Centroid X µm']));
  });

  it('converts and predicts from compiled JS, the onnxruntime session on its own thread', () => {
    makeTestModel(dir, 'linear');
    const zip = join(dir, 'linear.zip');
    expect(tessel('model', 'bundle', '--onnx', join(dir, 'linear.onnx'), '--metadata', join(dir, 'linear.json'), '--out', zip).status).toBe(0);
    const image = join(dir, 'OMETIFF', 'tissue_000.ome.tiff');
    const c = tessel('convert', image, '--out', join(dir, 'in.npz'), '--nuclear-channels', '0', '--membrane-channels', '1');
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    const p = tessel('predict', join(dir, 'in.npz'), '--model', zip, '--out', join(dir, 'raw.npz'));
    expect(p.stderr).toBe('');
    expect(p.status).toBe(0);
    const shapes = runPython('import numpy as np, json, sys; z = np.load(sys.argv[1]); print(json.dumps({k: list(z[k].shape) for k in z.files}))', [join(dir, 'raw.npz')]);
    expect(JSON.parse(shapes)).toEqual({ arr_0: [1, 192, 192, 1], arr_1: [1, 192, 192, 3], arr_2: [1, 192, 192, 1], arr_3: [1, 192, 192, 3] });
  });
});
