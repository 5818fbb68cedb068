import type { Command } from 'commander';
import { halfOutPath, importMesmer } from '../../core/mesmer-import';
import { describeCheck } from '../../core/model/test-tensors';
import { printJson } from '../output';

/** Adds `tessel model import-mesmer` to the `model` command group. */
export function registerImportMesmer(model: Command): void {
  model.command('import-mesmer')
    .description('Convert a Keras Mesmer model (DeepCell\'s MultiplexSegmentation SavedModel, or a .h5 / Keras 2 .keras file) into a '
      + 'verified model collection in one step: checks it is Mesmer-shaped (NHWC input with 2 channels, four heads with 1, 3, 1, 3 channels), '
      + 'converts it with tf2onnx, writes the metadata and embeds test tensors (a normalised synthetic tile and TensorFlow\'s outputs for it) '
      + 'that every load re-checks. Runs in DeepCell\'s Python 3.10 environment, created on first use in .tessel/deepcell (≈1.6 GB from PyPI, '
      + 'a few minutes). Nothing is written unless every check passes.')
    .argument('<model>', 'SavedModel folder (holding saved_model.pb), or a .h5 / Keras 2 .keras file')
    .requiredOption('--out <zip>', 'collection to write (.zip; local path or gs://)')
    .option('--half', `also write a float16-weight variant (for GPUs) beside it: ${halfOutPath('<out>.zip')}`)
    .option('--name <name>', 'model name in the metadata', 'mesmer')
    .option('--model-version <v>', 'model version in the metadata (default: imported+<source SHA-256 prefix>)')
    .option('--json', 'print the result as JSON')
    .action(async (source: string, o: { out: string; half?: boolean; name: string; modelVersion?: string; json?: boolean }) => {
      const r = await importMesmer({
        source, out: o.out, half: o.half, name: o.name, version: o.modelVersion,
        onProgress: (m) => process.stderr.write(`${m}\n`),
      });
      if (o.json) return printJson(r);
      const lines = r.bundles.flatMap((b) => [
        `wrote ${b.path} (${b.metadata.name} ${b.metadata.version}, ${b.precision}; tile ${b.metadata.tileSize}, batch ${b.metadata.input.shape[0] ?? 'dynamic'})`,
        ...b.verify.checks.map((c, k) => `  ${describeCheck(c, `${b.metadata.outputs[k].meaning} (${c.name})`)}`),
      ]);
      process.stdout.write(`${lines.join('\n')}\nimport-mesmer: done in ${r.seconds.toFixed(0)} s\n`);
    });
}
