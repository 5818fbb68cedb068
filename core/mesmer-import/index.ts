import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ConfigError, ModelImportError, NotFoundError, TesselError } from '../errors';
import type { NdArray } from '../formats/ndarray';
import { decodeNpy, encodeNpy } from '../formats/npz';
import { PACKAGE_ROOT } from '../package-root';
import { MESMER_NUCLEAR_DEFAULTS, MESMER_WHOLE_CELL_DEFAULTS } from '../postprocess/params';
import { storeFor } from '../storage';
import { encodeModelCollection, parseModelMetadata } from '../model/collection';
import { ensureDeepcellEnv } from './deepcell-env';
import { HeadMeaning, type ModelMetadata } from '../model/metadata';
import { prepareSyntheticImage } from '../reference/training';
import { encodeTestTensors, FP16_TOLERANCE, FP32_TOLERANCE, readTestTensors } from '../model/test-tensors';
import type { VerifyReport } from '../model/verify';
import { verifyOnnx } from '../model/verify-onnx';

/**
 * `tessel model import-mesmer`: a Keras Mesmer (SavedModel folder, .h5 or Keras 2 .keras) to a verified model
 * collection in one step. infra/python/mesmer_import.py, in DeepCell's own Python 3.10 environment
 * (core/mesmer-import/deepcell-env.ts), checks the model is Mesmer-shaped, converts it with tf2onnx and computes test
 * outputs with TensorFlow; here the converted model runs those test tensors through onnxruntime (refusing a
 * conversion that does not reproduce TensorFlow), the metadata is written from the shapes, and the bundle is
 * written atomically — nothing is written unless every check passed.
 */

export const IMPORT_SCRIPT = join(PACKAGE_ROOT, 'infra', 'python', 'mesmer_import.py');

/** Seed of the synthetic image the test tiles are cut from. */
const TEST_IMAGE_SEED = 910_017;

export interface ImportMesmerOptions {
  /** SavedModel folder, .h5 or .keras file (local). */
  source: string;
  /** Collection to write (.zip, local path or gs://). */
  out: string;
  /** Also write a float16 variant to {@link halfOutPath}(out). */
  half?: boolean;
  /** @default 'mesmer' */
  name?: string;
  /** @default `imported+<first 12 hex of the source's SHA-256>` */
  version?: string;
  /** DeepCell venv Python to use instead of creating/finding the managed one (tests). */
  python?: string;
  onProgress?: (message: string) => void;
}

export interface ImportedBundle {
  path: string;
  precision: 'float32' | 'float16';
  metadata: ModelMetadata;
  /** The converted model on onnxruntime (CPU) against TensorFlow's outputs. */
  verify: VerifyReport;
}

export interface ImportMesmerResult {
  bundles: ImportedBundle[];
  sourceSha256: string;
  seconds: number;
}

/** `mesmer.zip` → `mesmer-fp16.zip`. */
export function halfOutPath(out: string): string {
  return out.replace(/\.zip$/i, '-fp16.zip');
}

interface ImportResult {
  ok: boolean;
  kind?: 'unreadable' | 'not-mesmer' | 'conversion';
  message?: string;
  input: { name: string; shape: (number | null)[] };
  outputs: { name: string; shape: (number | null)[] }[];
  tile: number;
  opset: number;
  versions: Record<string, string>;
}

/**
 * Convert and bundle. Throws before writing anything when the source is missing, unreadable, not Mesmer-shaped,
 * fails to convert, or converts to something that does not reproduce TensorFlow's test outputs.
 *
 * @throws NotFoundError for a missing source; ConfigError for an output name not ending in .zip;
 *   ModelImportError (file = the source) for everything wrong with the model; TesselError `TOOL_UNAVAILABLE`
 *   when Python 3.10 is missing or DeepCell's environment cannot be installed.
 */
export async function importMesmer(opts: ImportMesmerOptions): Promise<ImportMesmerResult> {
  const t0 = performance.now();
  const log = opts.onProgress ?? (() => undefined);
  if (!/\.zip$/i.test(opts.out)) throw new ConfigError(`--out must end in .zip, got '${opts.out}'`);
  const sourceSha256 = checkSource(opts.source);
  const python = opts.python ?? await ensureDeepcellEnv({ onProgress: log });
  const work = mkdtempSync(join(tmpdir(), 'tessel-import-mesmer-'));
  try {
    const img = prepareSyntheticImage(512, TEST_IMAGE_SEED, 6);
    writeFileSync(join(work, 'test_image.npy'), encodeNpy({ data: img.input, shape: [img.height, img.width, 2], dtype: 'float32' }));
    const result = await runImportScript(python, opts, work, log);
    const version = opts.version ?? `imported+${sourceSha256.slice(0, 12)}`;
    const precisions: ('float32' | 'float16')[] = opts.half ? ['float32', 'float16'] : ['float32'];
    const staged: { path: string; zip: Uint8Array; bundle: ImportedBundle }[] = [];
    for (const precision of precisions) {
      const onnx = readFileSync(join(work, precision === 'float32' ? 'model.onnx' : 'model_fp16.onnx'));
      const tests = encodeTestTensors({
        source: `tensorflow ${result.versions.tensorflow} (Keras model.predict on ${basename(opts.source)})`,
        input: readNpy(join(work, 'test_input.npy')),
        outputs: result.outputs.map((o, k) => ({ name: o.name, expected: readNpy(join(work, `test_output_${k}.npy`)), ...(precision === 'float32' ? FP32_TOLERANCE : FP16_TOLERANCE) })),
      });
      const metadata = mesmerMetadata(result, { ...opts, version: precision === 'float32' ? version : `${version}+fp16`, sourceSha256, precision });
      metadata.testTensors = tests.spec;
      log(`import-mesmer: checking the ${precision} model on onnxruntime against TensorFlow's outputs`);
      const verify = await verifyOnnx(onnx, readTestTensors(new Map(tests.files.map((f) => [f.name, f.data])), tests.spec, opts.source));
      if (!verify.ok) {
        const bad = verify.checks.filter((c) => !c.ok).map((c) => `${c.name} max |Δ| ${c.maxAbsError.toExponential(2)}${c.problem ? ` (${c.problem})` : ''}`);
        throw new ModelImportError(opts.source, `the ${precision} conversion does not reproduce TensorFlow's outputs within tolerance: ${bad.join('; ')}`);
      }
      const path = precision === 'float32' ? opts.out : halfOutPath(opts.out);
      const zip = encodeModelCollection(onnx, metadata, path, tests.files);
      staged.push({ path, zip, bundle: { path, precision, metadata: parseModelMetadata(JSON.stringify(metadata), path), verify } });
    }
    for (const s of staged) await storeFor(s.path).writeAtomic(s.path, s.zip);
    return { bundles: staged.map((s) => s.bundle), sourceSha256, seconds: (performance.now() - t0) / 1000 };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function readNpy(path: string): NdArray<Float32Array> {
  return decodeNpy(readFileSync(path), path) as NdArray<Float32Array>;
}

/**
 * Checks what can be checked without TensorFlow and returns the source's SHA-256 (a SavedModel's over its
 * files in name order): a missing path, an empty or unrecognised file, a folder without saved_model.pb,
 * a Keras 3 archive.
 */
function checkSource(source: string): string {
  if (/^gs:\/\//.test(source)) throw new ConfigError(`import-mesmer reads a local model; copy ${source} here first`);
  if (!existsSync(source)) throw new NotFoundError(source);
  const hash = createHash('sha256');
  if (statSync(source).isDirectory()) {
    if (!existsSync(join(source, 'saved_model.pb'))) throw new ModelImportError(source, 'is a folder without saved_model.pb (not a TensorFlow SavedModel)');
    for (const rel of listFiles(source)) hash.update(rel).update(readFileSync(join(source, rel)));
    return hash.digest('hex');
  }
  const head = Buffer.alloc(8);
  const fd = openSync(source, 'r');
  const n = readSync(fd, head, 0, 8, 0);
  closeSync(fd);
  if (n === 0) throw new ModelImportError(source, 'is empty');
  if (head.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) {
    throw new ModelImportError(source, 'is a Keras 3 .keras archive, which TensorFlow 2.8 cannot read: save it as a SavedModel folder or as HDF5 (.h5)');
  }
  if (!head.equals(Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'))) {
    throw new ModelImportError(source, 'is neither an HDF5 Keras model (.h5, Keras 2 .keras) nor a SavedModel folder');
  }
  return hash.update(readFileSync(source)).digest('hex');
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)]);
}

/** Runs mesmer_import.py; progress lines (`progress: …` on its stdout) go to `log`. */
async function runImportScript(python: string, opts: ImportMesmerOptions, work: string, log: (m: string) => void): Promise<ImportResult> {
  const args = [IMPORT_SCRIPT, '--model', opts.source, '--out-dir', work, '--test-image', join(work, 'test_image.npy'), ...(opts.half ? ['--half'] : [])];
  log(`import-mesmer: converting ${opts.source} with tf2onnx (Mesmer's ResNet50 takes about a minute on two cores)`);
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    let tail = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      const lines = (pending + d.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('progress: ')) log(`import-mesmer: ${l.slice(10)}`);
    });
    child.stderr.on('data', (d: Buffer) => { tail = (tail + d.toString()).slice(-4000); });
    child.on('error', (e) => reject(new TesselError('TOOL_UNAVAILABLE', `cannot run ${python}: ${e.message}`, { retryable: false })));
    child.on('close', (c) => resolve({ code: c, stderr: tail }));
  });
  const resultPath = join(work, 'result.json');
  if (!existsSync(resultPath)) {
    const last = stderr.trim().split('\n').filter((l) => l.trim() && !/warning/i.test(l)).pop() ?? `exit status ${code}`;
    throw new ModelImportError(opts.source, `the conversion helper failed (${last.trim().slice(0, 300)})`);
  }
  const result = JSON.parse(readFileSync(resultPath, 'utf8')) as ImportResult;
  if (!result.ok) throw new ModelImportError(opts.source, result.message ?? 'conversion failed');
  return result;
}

/** Model metadata from the converted shapes: Mesmer's heads in Mesmer's order, resolution, tiling and post-processing. */
function mesmerMetadata(r: ImportResult, o: ImportMesmerOptions & { version: string; sourceSha256: string; precision: 'float32' | 'float16' }): ModelMetadata {
  const [n, h, w, c] = r.input.shape;
  const half = o.precision === 'float16';
  return {
    schemaVersion: 1,
    name: o.name ?? 'mesmer',
    version: o.version,
    description: `DeepCell Mesmer (PanopticNet, four heads) converted from a Keras model by tessel model import-mesmer${half ? ', float16 weights (float32 inputs and outputs)' : ''}`,
    provenance: `Greenwald et al., Nat. Biotechnol. 40:555-565 (2022), doi:10.1038/s41587-021-01094-0; imported from ${basename(o.source)} `
      + `(sha256 ${o.sourceSha256}) with tensorflow ${r.versions.tensorflow}, tf2onnx ${r.versions.tf2onnx} (from_keras, opset ${r.opset})`
      + `${half ? `, weights cast to float16 by onnxconverter-common ${r.versions.onnxconverter_common}` : ''}; deepcell ${r.versions.deepcell}`,
    input: { name: r.input.name, shape: [n, h, w, c], dtype: 'float32', channels: ['nuclear', 'membrane'] },
    outputs: r.outputs.map((out, k) => ({
      name: out.name, meaning: HeadMeaning.options[k], shape: [null, out.shape[1], out.shape[2], out.shape[3]] as [null, number | null, number | null, number | null],
      ...(k % 2 === 1 ? { interiorChannel: 1 } : {}),
    })),
    umPerPixel: 0.5,
    tileSize: r.tile,
    strideRatio: 0.75,
    normalization: { kind: 'mesmer', clipPercentile: 99.9, kernelSize: 128 },
    postprocess: { wholeCell: { ...MESMER_WHOLE_CELL_DEFAULTS }, nuclear: { ...MESMER_NUCLEAR_DEFAULTS } },
  };
}
