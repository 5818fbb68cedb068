import * as ort from 'onnxruntime-node';
import { TesselError } from '../errors';
import type { TestTensorData } from './test-tensors';
import { runTestTensors, type VerifyReport } from './verify';

/**
 * Test tensors through a session of their own on this thread: for `tessel model inspect --verify` and for
 * `tessel model import-mesmer`'s check of what it converted, before it bundles. (Workers verify on the session
 * they keep instead: core/predict/session.ts.)
 *
 * @throws TesselError `PROVIDER_UNAVAILABLE` when `device` is cuda and onnxruntime cannot load its CUDA provider.
 */
export async function verifyOnnx(onnx: Uint8Array, tests: TestTensorData, opts: { device?: 'cpu' | 'cuda'; file?: string } = {}): Promise<VerifyReport> {
  const device = opts.device ?? 'cpu';
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnx, { executionProviders: [device], graphOptimizationLevel: 'all', ...(device === 'cuda' ? { logSeverityLevel: 4 as const } : {}) });
  } catch (e) {
    const why = ((e as Error).message ?? String(e)).split('\n')[0].slice(0, 300);
    if (device === 'cuda') throw new TesselError('PROVIDER_UNAVAILABLE', `CUDA execution provider unavailable (${why}); see docs/gpu.md`, { file: opts.file, retryable: false });
    return runTestTensors(tests, () => Promise.reject(new Error(`onnxruntime cannot load the model: ${why}`)));
  }
  try {
    const inputName = session.inputNames[0];
    return await runTestTensors(tests, async (input, dims, fetches) => {
      const out = await session.run({ [inputName]: new ort.Tensor('float32', input, dims) }, fetches);
      return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { dims: t.dims, data: t.data as Float32Array }]));
    });
  } finally {
    await session.release();
  }
}
