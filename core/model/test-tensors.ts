import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ModelChecksumError } from '../errors';
import type { NdArray } from '../formats/ndarray';
import { decodeNpy, encodeNpy } from '../formats/npz';

/**
 * Test tensors of a model collection, after bioimage.io's model description (`test_tensor` with sha256,
 * `absolute_tolerance` / `relative_tolerance` per output): a normalised input batch and the outputs the source
 * framework computed for it. Running the input through onnxruntime and comparing shows that this bundle, on
 * this execution provider, computes what its source did — a check the manifest's checksums cannot make
 * (they prove the bytes are the ones written, not that they run right). See core/model/verify.ts.
 */

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** One `.npy` entry of the collection, with its SHA-256. */
const TensorFile = z.object({ file: z.string().min(1), sha256: Sha256 });

export const TestTensors = z.object({
  /** What computed the expected outputs, e.g. "tensorflow 2.8.4 (Keras model.predict on the SavedModel)". */
  source: z.string().min(1),
  /** N×H×W×C float32, already normalised: fed to the model as is. */
  input: TensorFile,
  /** Expected outputs by model output name. An element passes when |actual − expected| ≤ atol + rtol·|expected|. */
  outputs: z.array(TensorFile.extend({
    name: z.string().min(1),
    absoluteTolerance: z.number().nonnegative(),
    relativeTolerance: z.number().nonnegative(),
  })).min(1),
});
export type TestTensors = z.infer<typeof TestTensors>;

/** The decoded tensors, in the order of {@link TestTensors.outputs}. */
export interface TestTensorData {
  spec: TestTensors;
  input: NdArray<Float32Array>;
  expected: NdArray<Float32Array>[];
}

/** Zip entry names. */
export const TEST_INPUT_ENTRY = 'segmentation/test/input.npy';
export const testOutputEntry = (k: number): string => `segmentation/test/output_${k}.npy`;

/** Default tolerances: bioimage.io's (1e-3, 1e-3) — far below what a wrong model misses by, above fp32 noise on any provider. */
export const FP32_TOLERANCE = { absoluteTolerance: 1e-3, relativeTolerance: 1e-3 } as const;

/**
 * For float16 weights (float32 inputs and outputs). Measured on deepcell's Mesmer network (random weights) on the CPU:
 * max |Δ| 1.2e-4–3.5e-4 per head; 1e-2 leaves room for trained weights and other providers' kernels.
 */
export const FP16_TOLERANCE = { absoluteTolerance: 1e-2, relativeTolerance: 1e-2 } as const;

const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Encode test tensors as collection entries plus the metadata block that names them.
 * `outputs[k]` pairs an output name with its expected values and tolerances.
 */
export function encodeTestTensors(opts: {
  source: string;
  input: NdArray<Float32Array>;
  outputs: { name: string; expected: NdArray<Float32Array>; absoluteTolerance: number; relativeTolerance: number }[];
}): { spec: TestTensors; files: { name: string; data: Uint8Array }[] } {
  const input = encodeNpy(opts.input);
  const files = [{ name: TEST_INPUT_ENTRY, data: input }];
  const outputs = opts.outputs.map((o, k) => {
    const data = encodeNpy(o.expected);
    files.push({ name: testOutputEntry(k), data });
    return { name: o.name, file: testOutputEntry(k), sha256: sha256Hex(data), absoluteTolerance: o.absoluteTolerance, relativeTolerance: o.relativeTolerance };
  });
  return { spec: { source: opts.source, input: { file: TEST_INPUT_ENTRY, sha256: sha256Hex(input) }, outputs }, files };
}

/**
 * Decode the test tensors a collection's metadata names, checking each file's SHA-256 against the metadata.
 * @throws ModelChecksumError for a missing or mismatching file, or one that is not a float32 rank-4 array.
 */
export function readTestTensors(entries: ReadonlyMap<string, Uint8Array>, spec: TestTensors, uri: string): TestTensorData {
  const read = (f: { file: string; sha256: string }): NdArray<Float32Array> => {
    const bytes = entries.get(f.file);
    if (!bytes) throw new ModelChecksumError(uri, `test tensor ${f.file} named in the metadata is missing`);
    if (sha256Hex(bytes) !== f.sha256) throw new ModelChecksumError(uri, `test tensor ${f.file} does not match its SHA-256 in the metadata`);
    const a = decodeNpy(bytes, `${uri}:${f.file}`);
    if (a.dtype !== 'float32' || a.shape.length !== 4) throw new ModelChecksumError(uri, `test tensor ${f.file} must be a rank-4 float32 array, is ${a.dtype} [${a.shape.join(', ')}]`);
    return a as NdArray<Float32Array>;
  };
  return { spec, input: read(spec.input), expected: spec.outputs.map(read) };
}

/** One output's verdict. */
export interface HeadCheck {
  name: string;
  ok: boolean;
  /** max |actual − expected| (Infinity for a NaN or a shape mismatch). */
  maxAbsError: number;
  absoluteTolerance: number;
  relativeTolerance: number;
  /** Elements outside atol + rtol·|expected|. */
  mismatched: number;
  elements: number;
  /** Set when the output could not be compared at all (missing, wrong shape). */
  problem?: string;
}

/** Compare one output with its expected values (bioimage.io's rule, elementwise). */
export function compareOutput(name: string, actual: { dims: readonly number[]; data: Float32Array } | undefined, expected: NdArray<Float32Array>,
  tol: { absoluteTolerance: number; relativeTolerance: number }): HeadCheck {
  const base = { name, absoluteTolerance: tol.absoluteTolerance, relativeTolerance: tol.relativeTolerance, elements: expected.data.length };
  if (!actual) return { ...base, ok: false, maxAbsError: Infinity, mismatched: expected.data.length, problem: 'the model did not return it' };
  if (actual.dims.length !== expected.shape.length || actual.dims.some((d, i) => d !== expected.shape[i])) {
    return { ...base, ok: false, maxAbsError: Infinity, mismatched: expected.data.length, problem: `shape [${actual.dims.join(', ')}], expected [${expected.shape.join(', ')}]` };
  }
  const a = actual.data;
  const e = expected.data;
  let maxAbs = 0;
  let mismatched = 0;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= tol.absoluteTolerance + tol.relativeTolerance * Math.abs(e[i]))) mismatched++; // NaN counts
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
  }
  return { ...base, ok: mismatched === 0, maxAbsError: maxAbs, mismatched };
}

/** `name: max |Δ| 3.1e-7 ≤ 1e-3 + 1e-3·|expected|` style line for one check. */
export function describeCheck(c: HeadCheck, label = c.name): string {
  const tol = `${c.absoluteTolerance} + ${c.relativeTolerance}·|expected|`;
  if (c.problem) return `${label}: ${c.problem}`;
  return `${label}: max |Δ| ${c.maxAbsError.toExponential(2)}, tolerance ${tol}${c.ok ? '' : `, ${c.mismatched} of ${c.elements} values outside`}`;
}
