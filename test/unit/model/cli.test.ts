import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readZip, writeZip } from '../../../core/formats/zip';
import { encodeModelCollection, ONNX_ENTRY } from '../../../core/model/collection';
import { referenceMetadata } from '../../../core/reference';
import { FEATURE_COUNT } from '../../../core/reference/filters';
import { buildReferenceOnnx } from '../../../core/reference/graph';
import { OUTPUT_ROWS } from '../../../core/reference/network';

const ROOT = join(__dirname, '..', '..', '..');
function tessel(...args: string[]) {
  const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), join(ROOT, 'cli', 'main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tessel model', () => {
  let dir: string;
  const onnx = buildReferenceOnnx({ hidden: 2, w1: new Float32Array(2 * FEATURE_COUNT), b1: new Float32Array(2), w2: new Float32Array(OUTPUT_ROWS * 2), b2: new Float32Array(OUTPUT_ROWS) },
    { version: 't', docString: 't' });
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tessel-model-cli-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('bundle, then inspect --json reports OK checksums and the ONNX inputs/outputs', () => {
    writeFileSync(join(dir, 'm.onnx'), onnx);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(referenceMetadata('t')));
    const out = join(dir, 'c.zip');
    expect(tessel('model', 'bundle', '--onnx', join(dir, 'm.onnx'), '--metadata', join(dir, 'meta.json'), '--out', out).code).toBe(0);
    const r = tessel('model', 'inspect', out, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; checksums: { ok: boolean }[]; onnx: { inputs: { name: string }[]; outputs: { name: string; shape?: unknown[] }[] } };
    expect(report.ok).toBe(true);
    expect(report.checksums.map((c) => c.ok)).toEqual([true, true]);
    expect(report.onnx.inputs.map((i) => i.name)).toEqual(['input']);
    expect(report.onnx.outputs.map((o) => o.name)).toEqual(['semantic_0', 'semantic_1', 'semantic_2', 'semantic_3']);
  });

  test('inspect flags a tampered file as FAIL and exits 1; bad metadata is one clear line', () => {
    const entries = readZip(encodeModelCollection(onnx, referenceMetadata('t')), 'c');
    const tampered = new Uint8Array(onnx);
    tampered[tampered.length - 1] ^= 0xff;
    const path = join(dir, 'bad.zip');
    writeFileSync(path, writeZip([...entries].map(([name, data]) => ({ name, data: name === ONNX_ENTRY ? tampered : data }))));
    const r = tessel('model', 'inspect', path);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL segmentation\/model\.onnx/);
    expect(r.stdout).toMatch(/verdict: FAIL/);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...referenceMetadata('t'), tileSize: -3 }));
    const b = tessel('model', 'bundle', '--onnx', join(dir, 'm.onnx'), '--metadata', join(dir, 'bad.json'), '--out', join(dir, 'x.zip'));
    expect(b.code).toBe(1);
    expect(b.stderr.trim().split('\n')).toHaveLength(1);
    expect(b.stderr).toMatch(/bad\.json: .*tileSize/);
  });
});
