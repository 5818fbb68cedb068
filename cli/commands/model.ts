import { type Command, Option } from 'commander';
import * as ort from 'onnxruntime-node';
import { resolve } from 'node:path';
import { ConfigError } from '../../core/errors';
import { bundleModelCollection, checkManifest, METADATA_ENTRY, ONNX_ENTRY, parseModelMetadata, readModelCollectionEntries, sha256Hex } from '../../core/model/collection';
import { ensureReferenceModel, REFERENCE_FILE } from '../../core/reference';
import { loadClassifier } from '../../core/classify/bundle';
import { printJson } from '../output';
import { registerImportMesmer } from './model-import';
import { verificationLines, verifyForInspect } from './model-verify';

interface TensorInfo { name: string; type?: string; shape?: (number | string)[] }

/** Inputs/outputs as onnxruntime sees them (names always; types and shapes where the binding reports them). */
async function describeOnnx(onnx: Uint8Array): Promise<{ inputs: TensorInfo[]; outputs: TensorInfo[] }> {
  const session = await ort.InferenceSession.create(onnx);
  try {
    const meta = (list: readonly unknown[] | undefined, names: readonly string[]): TensorInfo[] => names.map((name, i) => {
      const m = list?.[i] as { name?: string; type?: string; shape?: (number | string)[]; isTensor?: boolean } | undefined;
      return m && m.isTensor !== false ? { name, type: m.type, shape: m.shape } : { name };
    });
    const s = session as unknown as { inputMetadata?: readonly unknown[]; outputMetadata?: readonly unknown[] };
    return { inputs: meta(s.inputMetadata, session.inputNames), outputs: meta(s.outputMetadata, session.outputNames) };
  } finally {
    await session.release();
  }
}

/** The classifier entries of a collection, if it has any: a one-line summary, or why they are invalid. */
async function describeClassifier(zip: string, entries: Map<string, Uint8Array>): Promise<{ summary?: string; error?: string } | undefined> {
  if (![...entries.keys()].some((k) => k.startsWith('classifier/'))) return undefined;
  try {
    const { metadata: m } = await loadClassifier(zip);
    const cv = m.crossValidation ? `, cross-validated accuracy ${(m.crossValidation.accuracy * 100).toFixed(1)}%` : '';
    return { summary: `${m.name}: ${m.classes.map((c) => c.name).join(', ')}; ${m.features.length} features, ${m.forest.trees} trees, ${m.training.labels} labels${cv}` };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

export function register(program: Command): void {
  const model = program.command('model').description('Model collections: one ZIP with segmentation/model.onnx, segmentation/model_metadata.json and a SHA-256 manifest.json, verified on every load.');

  model.command('bundle')
    .description('Bundle an ONNX model and its metadata JSON (schema: core/model/metadata.ts, see docs/models.md) into a verified collection ZIP, written atomically.')
    .requiredOption('--onnx <path>', 'the ONNX model (NHWC input, four Mesmer heads)')
    .requiredOption('--metadata <path>', 'model_metadata.json (validated before writing)')
    .requiredOption('--out <zip>', 'output collection (.zip; local path or gs://)')
    .action(async (o: { onnx: string; metadata: string; out: string }) => {
      await bundleModelCollection({ onnxPath: o.onnx, metadataPath: o.metadata, out: o.out });
      process.stdout.write(`wrote ${o.out}\n`);
    });

  model.command('inspect')
    .description('Show a collection\'s metadata, per-file checksum verdicts (OK/FAIL) and the ONNX inputs/outputs as onnxruntime sees them. Exits 1 when any check fails.')
    .argument('<zip>', 'model collection (local path or gs://)')
    .option('--json', 'print everything as JSON')
    .option('--verify', 'also run the bundle\'s test tensors through onnxruntime and report each output\'s max error against its stated tolerances (FAIL, exit 1, when over)')
    .addOption(new Option('--device <device>', 'execution provider for --verify').choices(['cpu', 'cuda']).default('cpu'))
    .action(async (zip: string, o: { json?: boolean; verify?: boolean; device: 'cpu' | 'cuda' }) => {
      const { bytes, entries, manifest } = await readModelCollectionEntries(zip);
      const checksums = manifest ? checkManifest(entries, manifest) : [];
      let metadata: unknown;
      let metadataError: string | undefined;
      try {
        const text = entries.get(METADATA_ENTRY);
        if (!text) throw new Error(`no ${METADATA_ENTRY}`);
        metadata = parseModelMetadata(new TextDecoder().decode(text), zip);
      } catch (e) {
        metadataError = (e as Error).message;
      }
      let onnx: { inputs: TensorInfo[]; outputs: TensorInfo[] } | undefined;
      let onnxError: string | undefined;
      const onnxBytes = entries.get(ONNX_ENTRY);
      try {
        if (!onnxBytes) throw new Error(`no ${ONNX_ENTRY}`);
        onnx = await describeOnnx(onnxBytes);
      } catch (e) {
        onnxError = (e as Error).message.split('\n')[0];
      }
      // A collection may carry a cell classifier (tessel classify train) beside, or instead of, a segmentation model.
      const classifier = await describeClassifier(zip, entries);
      const segmentation = entries.has(ONNX_ENTRY) || entries.has(METADATA_ENTRY) || !classifier;
      if (!segmentation) metadataError = onnxError = undefined;
      const md = segmentation ? metadata as import('../../core/model/metadata').ModelMetadata | undefined : undefined;
      const verification = o.verify && segmentation ? await verifyForInspect(zip, entries, md, onnxError ? undefined : onnxBytes, o.device) : undefined;
      const ok = !!manifest && checksums.every((c) => c.ok) && !metadataError && !onnxError && !classifier?.error && (verification?.ok ?? true);
      const report = { uri: zip, sha256: sha256Hex(bytes), ok, manifest: !!manifest, checksums, metadata, metadataError, onnx, onnxError, classifier, verification };
      if (!ok) process.exitCode = 1;
      if (o.json) return printJson(report);
      const lines: string[] = [`${zip}  sha256 ${report.sha256}`];
      if (!manifest) lines.push('manifest.json: MISSING (checksums cannot be verified)');
      for (const c of checksums) lines.push(`  ${c.ok ? 'OK  ' : 'FAIL'} ${c.name}${c.ok ? '' : c.expected ? ` (expected ${c.expected}, got ${c.actual ?? 'missing'})` : ' (not in manifest)'}`);
      if (metadataError) lines.push(`metadata: INVALID: ${metadataError}`);
      else if (md) {
        lines.push(`model: ${md.name} ${md.version}`, `  ${md.description}`, `  provenance: ${md.provenance}`,
          `  input ${md.input.name} ${JSON.stringify(md.input.shape)} (${md.input.channels.join(', ')}), ${md.umPerPixel} µm/pixel, tile ${md.tileSize}, stride ratio ${md.strideRatio}, normalization ${md.normalization.kind}`,
          ...md.outputs.map((out) => `  output ${out.name} ${JSON.stringify(out.shape)} ${out.meaning}${out.interiorChannel !== undefined ? ` (interior channel ${out.interiorChannel})` : ''}`),
          `  postprocess whole-cell ${JSON.stringify(md.postprocess.wholeCell)}`, `  postprocess nuclear ${JSON.stringify(md.postprocess.nuclear)}`);
      }
      if (onnxError) lines.push(`onnx: FAIL: ${onnxError}`);
      else if (segmentation) {
        const fmt = (t: TensorInfo) => `${t.name}${t.type ? ` ${t.type}` : ''}${t.shape ? ` [${t.shape.join(', ')}]` : ''}`;
        lines.push(`onnx inputs: ${onnx!.inputs.map(fmt).join('; ')}`, `onnx outputs: ${onnx!.outputs.map(fmt).join('; ')}`);
      }
      if (classifier) lines.push(classifier.error ? `classifier: INVALID: ${classifier.error}` : `classifier: ${classifier.summary}`);
      if (verification) lines.push(...verificationLines(verification, md, o.device));
      lines.push(ok ? 'verdict: OK' : 'verdict: FAIL');
      process.stdout.write(lines.join('\n') + '\n');
    });

  registerImportMesmer(model);

  model.command('build-reference')
    .description(`Build (or reuse) the reference model collection ${REFERENCE_FILE}: a small network fitted on synthetic tissue with Mesmer's contract (not Mesmer). Takes ~25 s on two cores the first time; cached by recipe version.`)
    .option('--out <dir>', 'folder for the collection', '<repo>/.tessel/models')
    .option('--force', 'rebuild even if a current copy is cached')
    .action(async (o: { out: string; force?: boolean }) => {
      if (!o.out) throw new ConfigError('--out needs a folder');
      const cacheDir = o.out === '<repo>/.tessel/models' ? undefined : resolve(o.out);
      const path = await ensureReferenceModel({ cacheDir, force: o.force, onProgress: (m) => process.stderr.write(`${m}\n`) });
      process.stdout.write(`${path}\n`);
    });
}
