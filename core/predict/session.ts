import type * as ort from 'onnxruntime-node';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ModelContractError, TesselError } from '../errors';
import type { ModelMetadata } from '../model/metadata';
import type { TestTensorData } from '../model/test-tensors';
import { verifyOnLoad } from '../model/verify';
import { DedicatedThread } from '../parallel/run-in-worker';
import type { HostedOutput, SessionFacts } from './session-host';

/** What inference needs of a loaded model collection (`loadModelCollection` returns a superset). */
export interface InferenceModel {
  /** Where the collection came from (used in error messages). */
  uri: string;
  /** SHA-256 of the collection; the session cache key. */
  sha256: string;
  /** The ONNX model bytes. */
  onnx: Uint8Array;
  metadata: ModelMetadata;
  /** Test input and expected outputs; when present, run once on every new session (core/model/verify.ts). */
  testTensors?: TestTensorData;
}

export type InferenceDevice = 'cpu' | 'cuda';

export interface SessionOptions {
  /** Execution provider. @default 'cpu' */
  device?: InferenceDevice;
  /**
   * CPU threads for inference, all sessions together (see {@link cpuSessionLayout}: on CPU the model runs
   * as up to {@link MAX_CPU_SESSIONS} sessions, each with its share as intra-op threads). Ignored on CUDA.
   * @default one per physical core ({@link physicalCores}), as onnxruntime's own default
   */
  cpuThreads?: number;
  /** Threads across independent operators. @default 1 (sequential execution) */
  interOpThreads?: number;
  /** CUDA device ordinal. @default 0 */
  cudaDeviceId?: number;
}

/**
 * An onnxruntime session living on a thread of its own (see session-host.ts): `run` sends one batch
 * there and resolves with the outputs, leaving this thread's event loop free meanwhile. With
 * `transfer`, the input's buffer moves to the session thread and comes back as `input` (no copies);
 * without, it is copied and stays usable here.
 */
export class HostedSession implements SessionFacts {
  private static nextKey = 0;
  private readonly key = ++HostedSession.nextKey;
  private readonly thread = new DedicatedThread();
  inputNames: readonly string[] = [];
  outputNames: readonly string[] = [];
  inputMetadata: readonly ort.InferenceSession.ValueMetadata[] = [];
  outputMetadata: readonly ort.InferenceSession.ValueMetadata[] = [];

  static async create(onnx: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<HostedSession> {
    const s = new HostedSession();
    try {
      Object.assign(s, await s.thread.call<SessionFacts>(HOST, 'hostCreate', [s.key, onnx, options]));
    } catch (e) {
      await s.thread.terminate();
      throw e;
    }
    return s;
  }

  run(inputName: string, input: Float32Array, dims: number[], fetches: string[], opts: { transfer?: boolean } = {}): Promise<{ outputs: Record<string, HostedOutput>; input: Float32Array }> {
    return this.thread.call(HOST, 'hostRun', [this.key, inputName, input, dims, fetches], opts.transfer ? [input.buffer as ArrayBuffer] : []);
  }

  /** False once the session's thread has died (a native crash, say): the session is gone with it. */
  get alive(): boolean {
    return this.thread.alive;
  }

  async release(): Promise<void> {
    try {
      await this.thread.call(HOST, 'hostRelease', [this.key]);
    } finally {
      await this.thread.terminate();
    }
  }
}

const HOST = join(__dirname, 'session-host');

/**
 * Physical cores this process may use: the CPUs it may run on (Node's availableParallelism), counting
 * hyperthreads of one core once where Linux says which they are (sysfs topology). onnxruntime's
 * default thread count is the physical cores too: a second hyperthread adds little to convolutions.
 */
export function physicalCores(): number {
  const cpus = availableParallelism();
  try {
    const root = '/sys/devices/system/cpu';
    const cores = new Set(readdirSync(root).filter((d) => /^cpu\d+$/.test(d))
      .map((d) => readFileSync(join(root, d, 'topology', 'thread_siblings_list'), 'utf8').trim()));
    return Math.max(1, Math.min(cpus, cores.size || cpus));
  } catch {
    return cpus;
  }
}

/**
 * At most this many sessions of one model on CPU. Each holds its own weights and activations (each
 * Mesmer session past the first added ~0.6 GB to `tessel segment`'s peak), so more buy little once
 * each has several threads.
 */
export const MAX_CPU_SESSIONS = 4;

/**
 * How `threads` CPU threads are spent on one model: as many single-threaded sessions as threads, up to
 * {@link MAX_CPU_SESSIONS}, then the threads shared out among them. Batches run on the sessions at
 * once. Measured on the Mesmer network (2 cores, 2048², 61 batches of two 256² tiles): two sessions of
 * one thread ran the tile loop in 17.5–17.8 s where one session of two threads took 20.3–21.0 s, with
 * bit-identical heads — onnxruntime's threads meet at a barrier after every operator, and the network's
 * small low-resolution operators leave one of them waiting there, where two sessions never wait for
 * each other.
 */
export function cpuSessionLayout(threads = physicalCores()): { sessions: number; intraOpThreads: number } {
  const t = Math.max(1, Math.trunc(threads));
  const sessions = Math.min(t, MAX_CPU_SESSIONS);
  return { sessions, intraOpThreads: Math.floor(t / sessions) };
}

/** A validated model on its sessions (one on CUDA; see {@link cpuSessionLayout} on CPU), and the facts inference needs. */
export interface ModelSession {
  /** The model's sessions, alike: batches may run on any of them, on all of them at once. */
  sessions: HostedSession[];
  model: InferenceModel;
  device: InferenceDevice;
  /** Fixed batch size when the model's batch dimension is static, else undefined. */
  fixedBatch?: number;
  tileSize: number;
  inputChannels: number;
  /** Channels of each output head, in metadata order (Mesmer: 1, 3, 1, 3). */
  outputChannels: number[];
  /** Seconds spent creating the session (0 for a cache hit). */
  createS: number;
}

const cache = new Map<string, Promise<ModelSession>>();

/**
 * The process-wide session for a model on a device, created on first use and kept for the process's
 * lifetime, so a GPU worker pays the model load once. Concurrent callers share one creation.
 *
 * @throws TesselError `PROVIDER_UNAVAILABLE` when the CUDA provider cannot be loaded (not installed,
 *   or CUDA/cuDNN libraries missing) — see docs/gpu.md.
 * @throws ModelContractError when the model's inputs/outputs disagree with its metadata.
 * @throws ModelTestError when the bundle's test tensors fail on this device (checked once per session).
 */
export function getSession(model: InferenceModel, opts: SessionOptions = {}): Promise<ModelSession> {
  const device = opts.device ?? 'cpu';
  const key = [model.sha256, device, opts.cpuThreads ?? 0, opts.interOpThreads ?? 0, opts.cudaDeviceId ?? 0].join('|');
  let entry = cache.get(key);
  if (!entry) {
    entry = createSession(model, { ...opts, device });
    cache.set(key, entry);
    entry.catch(() => cache.delete(key)); // a failure is not cached; the next call retries
    return entry;
  }
  const cached = entry;
  return cached.then((s) => {
    if (s.sessions.every((x) => x.alive)) return { ...s, createS: 0 };
    // A session's thread died: forget them all and make new ones, rather than fail every later prediction.
    if (cache.get(key) === cached) cache.delete(key);
    void Promise.all(s.sessions.filter((x) => x.alive).map((x) => x.release().catch(() => undefined)));
    return getSession(model, opts);
  });
}

/** Releases every cached session (tests, worker shutdown). */
export async function releaseSessions(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const p of all) {
    try {
      await Promise.all((await p).sessions.map((s) => s.release()));
    } catch {
      // a session that failed to create has nothing to release
    }
  }
}

async function createSession(model: InferenceModel, opts: SessionOptions & { device: InferenceDevice }): Promise<ModelSession> {
  const t0 = performance.now();
  const cuda = opts.device === 'cuda';
  const provider: ort.InferenceSession.ExecutionProviderConfig = cuda
    ? { name: 'cuda', deviceId: opts.cudaDeviceId ?? 0 } as ort.InferenceSession.ExecutionProviderConfig
    : 'cpu';
  const layout = cuda ? { sessions: 1, intraOpThreads: undefined } : cpuSessionLayout(opts.cpuThreads);
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    // A missing CUDA provider is reported once, as our own error, not also as a native log line.
    ...(cuda ? { logSeverityLevel: 4 as const } : {}),
    executionMode: (opts.interOpThreads ?? 1) > 1 ? 'parallel' : 'sequential',
    ...(layout.intraOpThreads ? { intraOpNumThreads: layout.intraOpThreads } : {}),
    ...(opts.interOpThreads ? { interOpNumThreads: opts.interOpThreads } : {}),
  };
  // Created at once, each on its own thread; if one fails, the others are released.
  const created = await Promise.allSettled(Array.from({ length: layout.sessions }, () => HostedSession.create(model.onnx, options)));
  const sessions = created.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
  const failed = created.find((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (failed) {
    await Promise.all(sessions.map((s) => s.release().catch(() => undefined)));
    const msg = (failed.reason as Error).message ?? String(failed.reason);
    if (cuda) {
      throw new TesselError('PROVIDER_UNAVAILABLE',
        `CUDA execution provider unavailable (${firstLine(msg)}); install onnxruntime-node's CUDA build and CUDA 12 + cuDNN 9 (docs/gpu.md), or use --device cpu`,
        { file: model.uri, cause: failed.reason, retryable: false });
    }
    throw new ModelContractError(model.uri, `onnxruntime cannot load the model: ${firstLine(msg)}`);
  }
  try {
    const facts = validateContract(sessions[0], model);
    // Every session runs the test tensors (at once), which also warms each one up for the first batch.
    await Promise.all(sessions.map((s) => verifyOnLoad(model, opts.device, async (input, dims, fetches) => (await s.run(model.metadata.input.name, input, dims, fetches, { transfer: true })).outputs)));
    return { sessions, model, device: opts.device, ...facts, createS: (performance.now() - t0) / 1000 };
  } catch (e) {
    await Promise.all(sessions.map((s) => s.release().catch(() => undefined)));
    throw e;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0].slice(0, 300);
}

type Dim = number | string | null | undefined;

function numeric(d: Dim): number | undefined {
  return typeof d === 'number' && d > 0 ? d : undefined;
}

/**
 * Checks the session against the metadata: one input with the metadata's name, rank 4 (NHWC), the
 * metadata's channel count and tile size; every metadata output present with rank 4 and agreeing
 * channels; metadata self-consistent (pixelwise heads hold their interior channel).
 */
export function validateContract(session: SessionFacts, model: InferenceModel): Pick<ModelSession, 'fixedBatch' | 'tileSize' | 'inputChannels' | 'outputChannels'> {
  const md = model.metadata;
  const fail = (cause: string): never => {
    throw new ModelContractError(model.uri, cause);
  };
  if (session.inputNames.length !== 1) fail(`model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); expected exactly one, '${md.input.name}'`);
  if (session.inputNames[0] !== md.input.name) fail(`model input is '${session.inputNames[0]}', metadata says '${md.input.name}'`);
  const inputChannels = md.input.channels.length;
  if (numeric(md.input.shape[3]) !== undefined && md.input.shape[3] !== inputChannels) fail(`metadata input shape has ${md.input.shape[3]} channels but names ${inputChannels}`);
  for (const axis of [1, 2]) {
    const d = md.input.shape[axis];
    if (d !== null && d !== md.tileSize) fail(`metadata input shape ${JSON.stringify(md.input.shape)} disagrees with tileSize ${md.tileSize}`);
  }
  const inMeta = tensorMeta(session.inputMetadata, md.input.name);
  if (inMeta) {
    if (inMeta.type !== 'float32') fail(`model input '${md.input.name}' is ${inMeta.type}, expected float32`);
    if (inMeta.shape.length !== 4) fail(`model input '${md.input.name}' has rank ${inMeta.shape.length}, expected 4 (NHWC)`);
    const c = numeric(inMeta.shape[3] as Dim);
    if (c !== undefined && c !== inputChannels) fail(`model input '${md.input.name}' has ${c} channels, metadata says ${inputChannels}`);
    for (const axis of [1, 2]) {
      const d = numeric(inMeta.shape[axis] as Dim);
      if (d !== undefined && d !== md.tileSize) fail(`model input '${md.input.name}' is ${d} px on axis ${axis}, metadata tileSize is ${md.tileSize}`);
    }
  }
  const outputChannels: number[] = [];
  for (const out of md.outputs) {
    if (!session.outputNames.includes(out.name)) fail(`model has no output '${out.name}' (${out.meaning}); outputs: ${session.outputNames.join(', ')}`);
    const mdChannels = numeric(out.shape[3]);
    if (mdChannels === undefined) fail(`metadata output '${out.name}' must give its channel count`);
    const meta = tensorMeta(session.outputMetadata, out.name);
    if (meta) {
      if (meta.type !== 'float32') fail(`model output '${out.name}' is ${meta.type}, expected float32`);
      if (meta.shape.length !== 4) fail(`model output '${out.name}' has rank ${meta.shape.length}, expected 4 (NHWC)`);
      const c = numeric(meta.shape[3] as Dim);
      if (c !== undefined && c !== mdChannels) fail(`model output '${out.name}' has ${c} channels, metadata says ${mdChannels}`);
    }
    if (out.meaning.endsWith('pixelwise')) {
      const interior = out.interiorChannel ?? 1;
      if (interior >= mdChannels!) fail(`output '${out.name}' has ${mdChannels} channels; interior channel ${interior} is out of range`);
    } else if (mdChannels !== 1) {
      fail(`output '${out.name}' (${out.meaning}) must have 1 channel, metadata says ${mdChannels}`);
    }
    outputChannels.push(mdChannels!);
  }
  const meanings = new Set(md.outputs.map((o) => o.meaning));
  if (meanings.size !== 4) fail('metadata outputs must name each of the four Mesmer heads once');
  const fixed = numeric(inMeta?.shape[0] as Dim) ?? numeric(md.input.shape[0]);
  return { fixedBatch: fixed, tileSize: md.tileSize, inputChannels, outputChannels };
}

function tensorMeta(list: readonly ort.InferenceSession.ValueMetadata[] | undefined, name: string): ort.InferenceSession.TensorValueMetadata | undefined {
  const m = list?.find((v) => v.name === name);
  return m && m.isTensor ? m : undefined;
}
