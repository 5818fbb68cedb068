import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigError, isTesselError } from '../../core/errors';
import { buildTrainingSet, classify, formatEvaluation, loadClassifier, loadLabelledTables, trainClassifier, writeClassifier } from '../../core/classify';
import { completedImages, foldLabels, readLabels, reviewFolders } from '../../core/review';
import { isGcsUri, joinUri } from '../../core/storage';
import { printJson } from '../output';
import { collectList } from '../run-input';

const repeat = (v: string, prev: string[] = []) => prev.concat(v);
const positiveInt = (flag: string, min: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${flag} must be an integer ≥ ${min}, got '${v}'`);
  return n;
};
const rootOf = (root: string) => (isGcsUri(root) ? root : resolve(root));

interface TrainCli { labels?: string; out: string; class: string[]; features: string[]; folds: number; trees: number; seed: number; withModel?: string; name?: string; json?: boolean }
interface ApplyCli { classifier: string; table?: string; geojson?: string; imageFilter: string[]; json?: boolean }

export function register(program: Command): void {
  const cmd = program.command('classify').description('Cell classifiers over the per-cell measurements: train one from review labels, apply it to measurement tables.');

  cmd.command('train')
    .description('Train a random forest on the labels of tessel review (each cell\'s latest decision; unsure ones left out) over the ' +
      'cells\' measurements in REPORTS/<image>_QUANT.tsv, cross-validate it (stratified k-fold), print the confusion matrix and per-class ' +
      'precision/recall, and write a model collection ZIP (classifier/forest.json, classifier/classifier_metadata.json with the feature ' +
      'list, classes, colours and the evaluation, and SHA-256 checksums). Labels for cells that no longer exist are reported and ignored.')
    .argument('<workspace>', 'workspace root (local path or gs://)')
    .option('--labels <file>', 'labels: REVIEW/labels.jsonl or a JSON exported from a review page (default: <workspace>/REVIEW/labels.jsonl)')
    .requiredOption('--out <zip>', 'classifier collection to write (.zip, atomically)')
    .option('--class <name>', 'train on these classes only (repeat; default: every labelled class)', repeat, [])
    .option('--features <globs>', "measurement columns to use, e.g. 'Cell: *: Mean' (comma-separated; default: every measurement)", collectList, [])
    .option('--folds <k>', 'cross-validation folds', positiveInt('--folds', 2), 5)
    .option('--trees <n>', 'trees in the forest', positiveInt('--trees', 1), 100)
    .option('--seed <k>', 'seed of the forest and the folds', positiveInt('--seed', 0), 1)
    .option('--with-model <zip>', 'also put this segmentation model collection into the ZIP, so one file carries both')
    .option('--name <text>', 'name recorded in the classifier metadata')
    .option('--json', 'print the classifier metadata as JSON')
    .action(async (root: string, o: TrainCli) => {
      const labelsUri = o.labels ?? joinUri(rootOf(root), 'REVIEW', 'labels.jsonl');
      const { decisions, warnings } = await readLabels(labelsUri);
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      const labels = foldLabels(decisions);
      if (labels.size === 0) throw new ConfigError(`no labels in ${labelsUri}: label cells with tessel review first`);
      const tables = await loadLabelledTables(reviewFolders(rootOf(root)).reports, [...labels.values()].map((d) => d.image), o.features);
      const set = buildTrainingSet(labels, tables, { classes: o.class, labelsFile: labelsUri });
      for (const w of set.warnings) process.stderr.write(`warning: ${w}\n`);
      const t0 = Date.now();
      const classifier = trainClassifier(set, { folds: o.folds, trees: o.trees, seed: o.seed, name: o.name });
      const sha = await writeClassifier(o.out, classifier, o.withModel);
      if (o.json) return printJson({ out: o.out, sha256: sha, metadata: classifier.metadata });
      const m = classifier.metadata;
      const lines = [`trained on ${m.training.labels} labels (${Object.entries(m.training.perClass).map(([k, v]) => `${k} ${v}`).join(', ')}) from ${m.training.images.length} image(s), ` +
        `${m.features.length} features, ${m.forest.trees} trees, in ${((Date.now() - t0) / 1000).toFixed(1)} s`];
      const ignored = Object.entries(m.training.ignored);
      if (ignored.length) lines.push(`left out: ${ignored.map(([k, v]) => `${v} ${k}`).join(', ')}`);
      lines.push(...(m.crossValidation ? formatEvaluation(m.crossValidation) : ['not cross-validated: a class has fewer than 2 labels']));
      lines.push(`wrote ${o.out} (SHA-256 ${sha})`);
      process.stdout.write(lines.join('\n') + '\n');
    });

  cmd.command('apply')
    .description('Classify cells: fill QuPath\'s Classification column of measurement tables and add classification {name, color} to each ' +
      'GeoJSON feature, so QuPath shows the classes; each file is replaced atomically. Either one table (--table, --geojson) or every ' +
      'completed image of a workspace (an image that fails is reported; the others go on). Exit status 3 when some image failed.')
    .argument('[workspace]', 'workspace root: classify REPORTS/<image>_QUANT.tsv and <image>.geojson of every completed image')
    .requiredOption('--classifier <zip>', 'classifier collection from tessel classify train')
    .option('--table <tsv>', 'one measurement table instead of a workspace')
    .option('--geojson <file>', 'with --table: its GeoJSON')
    .option('--image-filter <patterns>', 'with a workspace: only these images (prefixes or globs, comma-separated)', collectList, [])
    .option('--json', 'print per-image results as JSON')
    .action(async (root: string | undefined, o: ApplyCli) => {
      if (!root === !o.table) throw new ConfigError('give a workspace or --table <tsv>, not both');
      const classifier = await loadClassifier(o.classifier);
      const jobs = o.table ? [{ name: o.table, tsvUri: o.table, geojsonUri: o.geojson }]
        : (await completedImages(reviewFolders(rootOf(root!)), o.imageFilter)).images.map((i) => ({ name: i.name, tsvUri: i.tsvUri, geojsonUri: i.geojsonUri }));
      if (jobs.length === 0) throw new ConfigError(`no measured images in ${root}`);
      const results: Record<string, unknown>[] = [];
      let failed = 0;
      for (const job of jobs) {
        try {
          const r = await classify({ tsvUri: job.tsvUri, geojsonUri: job.geojsonUri, classifier });
          for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
          results.push({ image: job.name, ...r });
          if (!o.json) process.stdout.write(`${job.name}: ${r.cells} cells: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
        } catch (e) {
          if (!isTesselError(e)) throw e;
          failed++;
          results.push({ image: job.name, error: e.message });
          process.stderr.write(`${job.name}: ${e.message}\n`);
        }
      }
      if (o.json) printJson({ classifier: o.classifier, sha256: classifier.sha256, results });
      if (failed) process.exitCode = 3;
    });
}
