/**
 * The thread side of {@link getSession}'s sessions: onnxruntime sessions created, run and released on
 * a dedicated thread (core/parallel/run-in-worker.ts `DedicatedThread`). onnxruntime-node's
 * `session.run` executes synchronously on the calling thread, so hosted here it leaves the worker's
 * event loop (Temporal heartbeats, other activities, tile preparation) free while a batch runs.
 */
import * as ort from 'onnxruntime-node';

const sessions = new Map<number, ort.InferenceSession>();

/** What the main thread needs to validate a session against its metadata. */
export interface SessionFacts {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
}

export interface HostedOutput { type: string; dims: readonly number[]; data: Float32Array }

export async function hostCreate(key: number, onnx: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<SessionFacts> {
  // A CUDA provider that fails to load is logged by onnxruntime's process-wide logger, which the session's
  // own logSeverityLevel does not reach; the first session of the process sets that logger's level.
  if (options.logSeverityLevel === 4) ort.env.logLevel = 'fatal';
  const s = await ort.InferenceSession.create(onnx, options);
  sessions.set(key, s);
  return { inputNames: s.inputNames, outputNames: s.outputNames, inputMetadata: s.inputMetadata, outputMetadata: s.outputMetadata };
}

/**
 * One `session.run` on a float32 NHWC batch. Outputs are copied out of onnxruntime's buffers into
 * plain ones (so they can be transferred, not cloned, to the caller); the input buffer goes back too,
 * for reuse.
 */
export async function hostRun(key: number, inputName: string, data: Float32Array, dims: number[], fetches: string[]): Promise<{ outputs: Record<string, HostedOutput>; input: Float32Array }> {
  const s = sessions.get(key);
  if (!s) throw new Error(`no onnxruntime session ${key} on this thread`);
  const out = await s.run({ [inputName]: new ort.Tensor('float32', data, dims) }, fetches);
  const outputs: Record<string, HostedOutput> = {};
  for (const [name, t] of Object.entries(out)) {
    outputs[name] = { type: t.type, dims: t.dims, data: t.type === 'float32' ? (t.data as Float32Array).slice() : new Float32Array(0) };
    t.dispose?.();
  }
  return { outputs, input: new Float32Array(data.buffer, 0, data.buffer.byteLength / 4) };
}

export async function hostRelease(key: number): Promise<void> {
  const s = sessions.get(key);
  sessions.delete(key);
  await s?.release();
}
