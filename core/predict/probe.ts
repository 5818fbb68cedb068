import * as ort from 'onnxruntime-node';
import { TesselError } from '../errors';
import { encodeOnnxModel } from '../model/onnx/model';

/**
 * Checks at worker start that onnxruntime's CUDA execution provider loads and finds a GPU, by opening a
 * session on a one-node model (Identity). A worker asked for `--device cuda` on a host without the
 * provider's libraries, without CUDA 12/cuDNN 9, or without a visible GPU then stops at once with one
 * line, instead of polling the GPU queue and failing every prediction it takes.
 *
 * @throws TesselError `PROVIDER_UNAVAILABLE` naming the cause and docs/gpu.md.
 */
export async function probeCuda(deviceId = 0): Promise<void> {
  const model = encodeOnnxModel({
    graph: { name: 'probe', nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }], initializers: [], inputs: [{ name: 'x', shape: [1] }], outputs: [{ name: 'y', shape: [1] }] },
    opset: 13, producerName: 'tessel', producerVersion: 'probe',
  });
  let session: ort.InferenceSession | undefined;
  // onnxruntime prints its own error line for a missing provider; the one below says it better.
  const logLevel = ort.env.logLevel;
  ort.env.logLevel = 'fatal';
  try {
    session = await ort.InferenceSession.create(model, {
      executionProviders: [{ name: 'cuda', deviceId } as ort.InferenceSession.ExecutionProviderConfig], logSeverityLevel: 4,
    });
  } catch (e) {
    const why = ((e as Error).message ?? String(e)).split('\n')[0].slice(0, 300);
    throw new TesselError('PROVIDER_UNAVAILABLE',
      `--device cuda: the CUDA execution provider is unavailable on this host (${why}); install onnxruntime-node's CUDA build, CUDA 12 and cuDNN 9 and check the GPU is visible (docs/gpu.md), or run with --device cpu`,
      { cause: e, retryable: false });
  } finally {
    ort.env.logLevel = logLevel;
    await session?.release();
  }
}
