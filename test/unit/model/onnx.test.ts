/** @jest-environment ./test/unit/predict/ort-environment.js */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { FEATURE_COUNT, derivativeTaps, SIGMAS } from '../../../core/reference/filters';
import { buildReferenceOnnx, OUTPUT_NAMES } from '../../../core/reference/graph';
import { forwardImage, OUTPUT_ROWS, type ReferenceWeights } from '../../../core/reference/network';
import { Random } from '../../../core/synth/random';
import { runPython } from '../../helpers/python';

/** Random but seeded weights: the graph must agree with the TS forward pass whatever the weights. */
function randomWeights(hidden: number, seed: number): ReferenceWeights {
  const rng = new Random(seed);
  const fill = (n: number, s: number) => Float32Array.from({ length: n }, () => rng.normal() * s);
  return { hidden, w1: fill(hidden * FEATURE_COUNT, 0.3), b1: fill(hidden, 0.1), w2: fill(OUTPUT_ROWS * hidden, 0.3), b2: fill(OUTPUT_ROWS, 0.1) };
}

describe('reference ONNX graph', () => {
  const weights = randomWeights(6, 42);
  const onnx = buildReferenceOnnx(weights, { version: 'test', docString: 'test' });
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tessel-onnx-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('is deterministic bytes', () => {
    expect(Buffer.from(buildReferenceOnnx(weights, { version: 'test', docString: 'test' })).equals(Buffer.from(onnx))).toBe(true);
  });

  test('passes onnx.checker (full check with shape inference) and declares Mesmer shapes', () => {
    const path = join(dir, 'm.onnx');
    writeFileSync(path, onnx);
    const out = JSON.parse(runPython(`
import json, sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
def dims(v): return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
print(json.dumps(dict(opset=m.opset_import[0].version, inputs={i.name: dims(i) for i in m.graph.input},
  outputs=[[o.name, dims(o)] for o in m.graph.output], ops=sorted({n.op_type for n in m.graph.node}))))
`, [path])) as { opset: number; inputs: Record<string, unknown[]>; outputs: [string, unknown[]][]; ops: string[] };
    expect(out.opset).toBe(13);
    expect(out.inputs).toEqual({ input: ['N', 'H', 'W', 2] });
    expect(out.outputs).toEqual(OUTPUT_NAMES.map((n, k) => [n, ['N', 'H', 'W', k % 2 === 0 ? 1 : 3]]));
    expect(out.ops).toEqual(['Concat', 'Conv', 'Relu', 'Sigmoid', 'Softmax', 'Transpose']);
  });

  test('onnxruntime output equals the TypeScript forward pass (odd sizes, batch of 2)', async () => {
    const width = 45, height = 37, n = width * height;
    const rng = new Random(7);
    const images = [0, 1].map(() => Float32Array.from({ length: n * 2 }, () => rng.next()));
    const session = await ort.InferenceSession.create(onnx);
    const batch = new Float32Array(2 * n * 2);
    batch.set(images[0], 0);
    batch.set(images[1], n * 2);
    const result = await session.run({ input: new ort.Tensor('float32', batch, [2, height, width, 2]) });
    let maxDiff = 0;
    images.forEach((img, b) => {
      const expected = forwardImage(img, width, height, weights);
      OUTPUT_NAMES.forEach((name, k) => {
        const t = result[name];
        const channels = k % 2 === 0 ? 1 : 3;
        expect(t.dims).toEqual([2, height, width, channels]);
        const data = t.data as Float32Array;
        for (let i = 0; i < n * channels; i++) maxDiff = Math.max(maxDiff, Math.abs(data[b * n * channels + i] - expected[k][i]));
      });
    });
    expect(maxDiff).toBeLessThan(1e-4);
    await session.release();
  });

  test('filter taps are Gaussian derivatives: sum 1, zero-sum derivatives, first moment σ for d/dx', () => {
    for (const sigma of SIGMAS) {
      const [g, d1, d2] = [0, 1, 2].map((o) => derivativeTaps(sigma, o));
      const r = (g.length - 1) / 2;
      expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(d1.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 5);
      expect(d2.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 5);
      // Correlating x ↦ x gives σ (scale-normalised derivative of a unit ramp), less the 3σ truncation.
      expect(Math.abs(d1.reduce((a, v, k) => a + v * (k - r), 0) / sigma - 1)).toBeLessThan(0.03);
    }
  });
});
