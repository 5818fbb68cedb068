/** @jest-environment ./test/unit/predict/ort-environment.js */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTesselError } from '../../../core/errors';
import { writeNpz } from '../../../core/formats/npz';
import { predict } from '../../../core/predict';
import { getSession, releaseSessions } from '../../../core/predict/session';
import { encodeModelCollection, loadModelCollection, type ModelCollection } from '../../../core/model/collection';
import { ensureReferenceModel } from '../../../core/reference';
import { FEATURE_COUNT } from '../../../core/reference/filters';
import { buildReferenceOnnx } from '../../../core/reference/graph';
import { OUTPUT_ROWS } from '../../../core/reference/network';
import { compareOutput, encodeTestTensors, readTestTensors, TEST_INPUT_ENTRY } from '../../../core/model/test-tensors';

/**
 * Self-verifying bundles: the reference model carries test tensors computed by its TypeScript forward pass; a
 * session checks them once when it is created and refuses a bundle whose model does not reproduce them, and
 * `tessel model inspect --verify` reports each output's error against its tolerances.
 */
const ROOT = join(__dirname, '..', '..', '..');
function tessel(...args: string[]) {
  const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), join(ROOT, 'cli', 'main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A bundle with the reference model's metadata and test tensors but another network: what a bad conversion looks like. */
function wrongModelBundle(reference: ModelCollection): Uint8Array {
  const untrained = buildReferenceOnnx({ hidden: 2, w1: new Float32Array(2 * FEATURE_COUNT), b1: new Float32Array(2), w2: new Float32Array(OUTPUT_ROWS * 2), b2: new Float32Array(OUTPUT_ROWS) },
    { version: 'x', docString: 'x' });
  const t = reference.testTensors!;
  const tests = encodeTestTensors({ source: t.spec.source, input: t.input, outputs: t.spec.outputs.map((o, k) => ({ ...o, expected: t.expected[k] })) });
  return encodeModelCollection(untrained, { ...reference.metadata, version: 'wrong', testTensors: tests.spec }, 'wrong', tests.files);
}

describe('self-verifying bundles', () => {
  let dir: string;
  let referenceUri: string;
  let reference: ModelCollection;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessel-verify-'));
    referenceUri = await ensureReferenceModel();
    reference = await loadModelCollection(referenceUri);
    writeFileSync(join(dir, 'wrong.zip'), wrongModelBundle(reference));
  }, 300_000);
  afterAll(async () => {
    await releaseSessions();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the reference model carries test tensors from its TypeScript forward pass, and its session passes them', async () => {
    expect(reference.metadata.testTensors!.source).toMatch(/forwardImage/);
    expect(reference.testTensors!.input.shape).toEqual([1, 256, 256, 2]);
    expect(reference.testTensors!.expected.map((e) => e.shape[3])).toEqual([1, 3, 1, 3]);
    const s = await getSession(reference);
    expect(s.createS).toBeGreaterThan(0);
    expect((await getSession(reference)).createS).toBe(0); // verified once: the cached session is reused as is
  });

  test('inspect --verify reports each head within tolerance and exits 0', () => {
    const r = tessel('model', 'inspect', '--verify', referenceUri);
    expect(r.code).toBe(0);
    const heads = r.stdout.split('\n').filter((l) => /^ {2}OK {3}\S+-(inner-distance|pixelwise) \(semantic_\d\): max \|Δ\| /.test(l));
    expect(heads).toHaveLength(4);
    for (const l of heads) expect(Number(/max \|Δ\| (\S+),/.exec(l)![1])).toBeLessThan(1e-4);
  });

  test('a bundle whose network does not reproduce its test outputs: inspect --verify FAILs per head and exits 1', () => {
    const r = tessel('model', 'inspect', '--verify', '--json', join(dir, 'wrong.zip'));
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; checksums: { ok: boolean }[]; verification: { ok: boolean; checks: { ok: boolean; maxAbsError: number }[] } };
    expect(report.checksums.every((c) => c.ok)).toBe(true); // its bytes are intact: only running it shows the fault
    expect(report.ok).toBe(false);
    expect(report.verification.checks.map((c) => c.ok)).toEqual([false, false, false, false]);
    expect(Math.min(...report.verification.checks.map((c) => c.maxAbsError))).toBeGreaterThan(0.01);
  });

  test('a worker refuses it when it first loads it, with one clear line, and keeps refusing', async () => {
    const npz = join(dir, 'in.npz');
    await writeNpz(npz, { input_channels: { data: new Float32Array(64 * 64 * 2).fill(1), shape: [64, 64, 2], dtype: 'float32' } });
    for (let attempt = 0; attempt < 2; attempt++) {
      const err = await predict({ npzUri: npz, modelUri: join(dir, 'wrong.zip'), outUri: join(dir, 'out.npz') }).catch((e: unknown) => e);
      expect(isTesselError(err) && err.code).toBe('MODEL_TEST_FAILED');
      const message = (err as Error).message;
      expect(message.split('\n')).toHaveLength(1);
      expect(message).toContain(join(dir, 'wrong.zip'));
      expect(message).toMatch(/test tensors fail on cpu, .*semantic_0: max \|Δ\| /);
    }
  });

  test('inspect --verify on a bundle without test tensors says so and exits 1', () => {
    const plain = join(dir, 'plain.zip');
    writeFileSync(plain, encodeModelCollection(reference.onnx, { ...reference.metadata, testTensors: undefined }));
    const r = tessel('model', 'inspect', '--verify', plain);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/verify: FAIL: no test tensors/);
  });

  test('a test tensor that does not match its SHA-256 in the metadata is a checksum error', () => {
    const t = reference.testTensors!;
    const entries = new Map([[TEST_INPUT_ENTRY, new Uint8Array([1, 2, 3])]]);
    expect(() => readTestTensors(entries, t.spec, 'x.zip')).toThrow(/x\.zip: test tensor segmentation\/test\/input\.npy does not match its SHA-256/);
  });

  test('compareOutput: bioimage.io\'s |a − e| ≤ atol + rtol·|e| per element; NaN and shape mismatches fail', () => {
    const expected = { data: Float32Array.from([0, 1, 100, 2]), shape: [1, 1, 2, 2], dtype: 'float32' as const };
    const tol = { absoluteTolerance: 0.01, relativeTolerance: 0.01 };
    const at = (data: number[], dims = [1, 1, 2, 2]) => compareOutput('h', { dims, data: Float32Array.from(data) }, expected, tol);
    expect(at([0.009, 1.019, 100.9, 2]).ok).toBe(true); // 1e-2 + 1e-2·|e| allows 0.01, 0.02, 1.01
    const over = at([0.011, 1, 101.2, 2]);
    expect([over.ok, over.mismatched]).toEqual([false, 2]);
    expect(over.maxAbsError).toBeCloseTo(1.2, 4);
    expect(at([0, 1, Number.NaN, 2])).toMatchObject({ ok: false, mismatched: 1, maxAbsError: Infinity });
    expect(at([0, 1, 100, 2], [1, 2, 2, 1])).toMatchObject({ ok: false, problem: 'shape [1, 2, 2, 1], expected [1, 1, 2, 2]' });
  });
});
