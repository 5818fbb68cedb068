/** @jest-environment ./test/unit/predict/ort-environment.js */
import { existsSync, writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { dirname, join } from 'node:path';
import { readNpz, writeNpz } from '../../../core/formats/npz';
import { mesmerNormalize } from '../../../core/predict/normalize';
import { predictArray } from '../../../core/predict/pipeline';
import { predict } from '../../../core/predict';
import { cpuSessionLayout, getSession, MAX_CPU_SESSIONS, releaseSessions, type InferenceModel } from '../../../core/predict/session';
import { mesmerResizedShape, resizeBilinear } from '../../../core/predict/resample';
import { isTesselError } from '../../../core/errors';
import { runPython } from '../../helpers/python';
import { makeTestModel, maxAbsDiff, tempDir } from './helpers';
import { blobImage } from '../../../core/synth/blobs';

/** The linear test model's per-head matrices (make_test_model.py LINEAR_W), rows = nuclear, membrane. */
const LINEAR_W = [[[0], [1]], [[1, 0, 0.5], [0, 1, 0.5]], [[1], [0]], [[0, 1, 0.25], [1, 0, 0]]];

function applyLinear(image: Float32Array, k: number): Float32Array {
  const w = LINEAR_W[k];
  const c = w[0].length;
  const n = image.length / 2;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) out[i * c + j] = image[2 * i] * w[0][j] + image[2 * i + 1] * w[1][j];
  return out;
}

describe('predictArray / predict on tiny ONNX models', () => {
  const dir = tempDir('predict');
  let linear: InferenceModel;
  beforeAll(() => {
    linear = makeTestModel(dir, 'linear');
  });
  afterAll(() => releaseSessions());

  it('tiled, batched, blended output equals the model applied to the whole normalised image (no seams, no offsets)', async () => {
    const width = 611, height = 450;
    const input = blobImage(width, height);
    const progress: number[] = [];
    const r = await predictArray({ input, width, height, model: linear, batchSize: 3, onProgress: (d) => progress.push(d) });
    expect(r.tiles).toBe(9);
    expect(r.headChannels).toEqual([1, 3, 1, 3]);
    expect(progress).toEqual([3, 6, 9]);
    const norm = mesmerNormalize(input, width, height);
    for (let k = 0; k < 4; k++) {
      // Overlapping spline windows sum to 1 within 2.5e-4 (deepcell's own window), values ≤ 1.5.
      expect(maxAbsDiff(r.heads[k], applyLinear(norm, k))).toBeLessThan(5e-4);
    }
  });

  it('resamples to the model resolution and back to the image size (Mesmer rule)', async () => {
    const width = 300, height = 260;
    const input = blobImage(width, height, 5);
    const r = await predictArray({ input, width, height, umPerPixel: 0.25, model: linear });
    const s = mesmerResizedShape(width, height, 0.25, 0.5);
    const norm = mesmerNormalize(resizeBilinear(input, width, height, 2, s.width, s.height), s.width, s.height);
    for (let k = 0; k < 4; k++) {
      const c = r.headChannels[k];
      expect(r.heads[k].length).toBe(width * height * c);
      const expected = resizeBilinear(applyLinear(norm, k), s.width, s.height, c, width, height, { mode: 'edge' });
      expect(maxAbsDiff(r.heads[k], expected)).toBeLessThan(5e-4);
    }
  });

  it('normalising on worker threads gives the same result, and an image smaller than a tile is the model on its normalised pixels', async () => {
    const width = 200, height = 150;
    const input = blobImage(width, height, 9);
    const a = await predictArray({ input, width, height, model: linear, normalizeOnWorkers: false });
    const b = await predictArray({ input, width, height, model: linear, normalizeOnWorkers: true });
    for (let k = 0; k < 4; k++) expect(maxAbsDiff(a.heads[k], b.heads[k])).toBe(0);
    // Smaller than a tile (reflect-padded, one unblended tile): still the model on the normalised image.
    const norm = mesmerNormalize(input, width, height);
    for (let k = 0; k < 4; k++) expect(maxAbsDiff(a.heads[k], applyLinear(norm, k))).toBeLessThan(1e-6);
  });

  it('on CPU runs one single-thread session per thread (at most MAX_CPU_SESSIONS), and the heads do not depend on how many', async () => {
    expect(cpuSessionLayout(1)).toEqual({ sessions: 1, intraOpThreads: 1 });
    expect(cpuSessionLayout(2)).toEqual({ sessions: 2, intraOpThreads: 1 });
    expect(cpuSessionLayout(MAX_CPU_SESSIONS * 2 + 1)).toEqual({ sessions: MAX_CPU_SESSIONS, intraOpThreads: 2 });
    const width = 611, height = 450;
    const input = blobImage(width, height, 3);
    const runs = [];
    for (const threads of [1, 2, 3]) {
      expect((await getSession(linear, { cpuThreads: threads })).sessions).toHaveLength(threads);
      const progress: number[] = [];
      // Batches of 2 over 9 tiles: 5 batches, in flight on every session at once, taken in order.
      runs.push(await predictArray({ input, width, height, model: linear, batchSize: 2, cpuThreads: threads, onProgress: (d) => progress.push(d) }));
      expect(progress).toEqual([2, 4, 6, 8, 9]);
    }
    for (const r of runs.slice(1)) for (let k = 0; k < 4; k++) expect(maxAbsDiff(r.heads[k], runs[0].heads[k])).toBe(0);
  });

  it('runs the model on its own thread: this event loop turns during session.run, and outputs match onnxruntime here', async () => {
    const conv = makeTestModel(dir, 'conv', '32', '4');
    const ms = await getSession(conv);
    const t = conv.metadata.tileSize;
    const dims = [8, t, t, 2];
    const data = Float32Array.from({ length: 8 * t * t * 2 }, (_, i) => ((i * 2654435761) >>> 0) / 2 ** 32);
    const names = conv.metadata.outputs.map((o) => o.name);
    let firedAt = Infinity;
    const t0 = performance.now();
    setTimeout(() => (firedAt = performance.now()), 5);
    const hosted = await ms.sessions[0].run(conv.metadata.input.name, data, dims, names);
    const doneAt = performance.now();
    // A batch this size takes far longer than 5 ms; had it run on this thread, the timer could only fire after it.
    expect(doneAt - t0).toBeGreaterThan(50);
    expect(firedAt).toBeLessThan(doneAt - 20);
    // Sent without transfer: the caller's buffer stays attached, the thread's copy comes back whole.
    expect(data.byteLength).toBe(8 * t * t * 2 * 4);
    expect(hosted.input).toHaveLength(data.length);
    const direct = await (await ort.InferenceSession.create(conv.onnx)).run({ [conv.metadata.input.name]: new ort.Tensor('float32', data, dims) }, names);
    for (const name of names) {
      expect(hosted.outputs[name].dims).toEqual(direct[name].dims);
      expect(maxAbsDiff(hosted.outputs[name].data, direct[name].data as Float32Array)).toBe(0);
    }
  });

  it('replaces cached sessions when one of their threads has died', async () => {
    const first = await getSession(linear, { cpuThreads: 2 });
    expect(first.sessions).toHaveLength(2);
    await (first.sessions[1] as unknown as { thread: { terminate(): Promise<void> } }).thread.terminate();
    expect(first.sessions[1].alive).toBe(false);
    const second = await getSession(linear, { cpuThreads: 2 });
    expect(second.sessions).toHaveLength(2);
    for (const s of second.sessions) {
      expect(first.sessions).not.toContain(s);
      expect(s.alive).toBe(true);
    }
    const r = await predictArray({ input: blobImage(64, 64), width: 64, height: 64, model: linear });
    expect(r.tiles).toBe(1);
  });

  it('refuses a model whose inputs disagree with its metadata', async () => {
    const wrong = makeTestModel(dir, 'wrong');
    await expect(getSession(wrong)).rejects.toMatchObject({ code: 'MODEL_CONTRACT', message: expect.stringContaining('3 channels') });
    const renamed: InferenceModel = { ...linear, sha256: 'renamed', metadata: { ...linear.metadata, outputs: linear.metadata.outputs.map((o, i) => (i === 2 ? { ...o, name: 'nope' } : o)) } };
    await expect(getSession(renamed)).rejects.toMatchObject({ code: 'MODEL_CONTRACT', message: expect.stringContaining("no output 'nope'") });
  });

  it('reports PROVIDER_UNAVAILABLE when CUDA cannot load (or works where it can)', async () => {
    // onnxruntime-node's CUDA provider library is there only where its CUDA build was installed (docs/gpu.md).
    const binDir = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
    const cudaInstalled = existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'));
    const outcome = await getSession({ ...linear, sha256: 'cuda-probe' }, { device: 'cuda' }).then(() => 'loaded' as const, (e: unknown) => e);
    if (outcome === 'loaded') {
      expect(cudaInstalled).toBe(true);
      return;
    }
    expect(isTesselError(outcome)).toBe(true);
    expect(outcome).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', message: expect.stringMatching(/docs\/gpu\.md/) });
  });

  it('honours cancellation between batches', async () => {
    const width = 700, height = 600;
    const input = blobImage(width, height, 3);
    const ac = new AbortController();
    let calls = 0;
    const reason = new Error('cancelled by test');
    const p = predictArray({ input, width, height, model: linear, batchSize: 2, signal: ac.signal, onProgress: () => { if (++calls === 1) ac.abort(reason); } });
    await expect(p).rejects.toBe(reason);
    expect(calls).toBe(1);
    const pre = new AbortController();
    pre.abort(reason);
    await expect(predictArray({ input, width, height, model: linear, signal: pre.signal })).rejects.toBe(reason);
  });

  it('predict writes raw_predictions.npz in Mesmer shapes (checked with numpy), using the sidecar µm/pixel', async () => {
    const width = 280, height = 300;
    const npz = join(dir, 'img.npz');
    await writeNpz(npz, { input_channels: { data: blobImage(width, height, 4), shape: [height, width, 2], dtype: 'float32' } });
    writeFileSync(join(dir, 'img.json'), JSON.stringify({ umPerPixel: 0.5 }));
    const out = join(dir, 'raw_predictions.npz');
    const r = await predict({ npzUri: npz, modelUri: linear.uri, model: linear, outUri: out });
    expect(r).toMatchObject({ width, height, umPerPixel: 0.5, tiles: 4, modelName: 'tessel-test', modelSha256: linear.sha256 });
    const shapes = runPython(`import numpy as np, sys\nz = np.load(sys.argv[1])\nprint(sorted(z.files), [(z[f].shape, str(z[f].dtype)) for f in sorted(z.files)])`, [out]).trim();
    expect(shapes).toBe("['arr_0', 'arr_1', 'arr_2', 'arr_3'] [((1, 300, 280, 1), 'float32'), ((1, 300, 280, 3), 'float32'), ((1, 300, 280, 1), 'float32'), ((1, 300, 280, 3), 'float32')]");
    const back = await readNpz(out);
    const direct = await predictArray({ input: blobImage(width, height, 4), width, height, model: linear });
    expect(maxAbsDiff(back.get('arr_1')!.data as Float32Array, direct.heads[1])).toBe(0);
  });

  it('predict streams the heads to the NPZ band by band (ring of rows wrapping) with the same bytes as whole heads', async () => {
    const width = 300, height = 1400; // 2 × 7 tiles; batches of 2 flush a band after every batch
    const npz = join(dir, 'tall.npz');
    const image = blobImage(width, height, 9);
    await writeNpz(npz, { input_channels: { data: image, shape: [height, width, 2], dtype: 'float32' } });
    const out = join(dir, 'tall_raw_predictions.npz');
    const r = await predict({ npzUri: npz, modelUri: linear.uri, model: linear, outUri: out, batchSize: 2 });
    expect(r.tiles).toBe(14);
    const back = await readNpz(out);
    const direct = await predictArray({ input: image, width, height, model: linear, batchSize: 2 });
    const planes = [0, 1].map((c) => Float32Array.from({ length: width * height }, (_, i) => image[2 * i + c]));
    const fromPlanes = await predictArray({ channels: planes, width, height, model: linear, batchSize: 2 });
    for (let k = 0; k < 4; k++) {
      expect({ k, streamed: maxAbsDiff(back.get(`arr_${k}`)!.data as Float32Array, direct.heads[k]), planes: maxAbsDiff(fromPlanes.heads[k], direct.heads[k]) }).toEqual({ k, streamed: 0, planes: 0 });
    }
    // --compress still writes every head (deflated), numpy-readable.
    const packed = join(dir, 'tall_compressed.npz');
    await predict({ npzUri: npz, modelUri: linear.uri, model: linear, outUri: packed, batchSize: 2, compress: true });
    expect(maxAbsDiff((await readNpz(packed)).get('arr_3')!.data as Float32Array, direct.heads[3])).toBe(0);
  });

  it('predict refuses an NPZ without input_channels, naming the file', async () => {
    const bad = join(dir, 'bad.npz');
    await writeNpz(bad, { image: { data: new Float32Array(12), shape: [2, 3, 2], dtype: 'float32' } });
    await expect(predict({ npzUri: bad, modelUri: linear.uri, model: linear, outUri: join(dir, 'x.npz') }))
      .rejects.toMatchObject({ code: 'INVALID_ARRAY', message: expect.stringContaining('bad.npz') });
    const wrongShape = join(dir, 'wrong-shape.npz');
    await writeNpz(wrongShape, { input_channels: { data: new Float32Array(18), shape: [3, 2, 3], dtype: 'float32' } });
    await expect(predict({ npzUri: wrongShape, modelUri: linear.uri, model: linear, outUri: join(dir, 'x.npz') }))
      .rejects.toMatchObject({ code: 'INVALID_ARRAY', message: expect.stringContaining('H×W×2') });
  });
});
