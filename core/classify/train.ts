import { ConfigError } from '../errors';
import { readQuantTable, type QuantTable } from '../quantify/read-tsv';
import { UNSURE, type LabelDecision } from '../review/labels';
import { storeFor } from '../storage';
import { classColor, type Classifier, type ClassifierMetadata } from './bundle';
import { crossValidate } from './evaluate';
import { cellFeatures, chooseFeatures, featureMedians, imputeInPlace, type CellFeatures } from './features';
import { trainForest, type ForestOptions } from './forest';

/** How far (table units: µm, or px) a labelled cell's centroid may move before the label is taken to be for another cell. */
export const CENTROID_TOLERANCE = 1;

/** Labelled rows ready to train on, and what was left out and why. */
export interface TrainingSet {
  rows: Float32Array;
  y: number[];
  features: string[];
  classNames: string[];
  images: string[];
  /** Reason → count: `unsure`, `class not chosen`, `image has no table`, `cell no longer exists`, `cell changed`. */
  ignored: Record<string, number>;
  warnings: string[];
}

/**
 * Joins labels (each cell's latest decision) with the cells' current measurements. A label whose image
 * has no table, whose cell is gone, or whose cell's centroid moved (a re-segmented image that reused
 * the label number) is left out with a warning; so are `unsure` labels and classes not in `classes`.
 *
 * @throws ConfigError when there are no labels, a chosen class has none, or fewer than two classes remain.
 */
export function buildTrainingSet(labels: ReadonlyMap<string, LabelDecision>, cells: ReadonlyMap<string, CellFeatures>, opts: { classes?: string[]; labelsFile?: string } = {}): TrainingSet {
  const file = opts.labelsFile ?? 'the labels';
  if (labels.size === 0) throw new ConfigError(`no labels in ${file}: label some cells first (tessel review --serve)`);
  const labelled = [...new Set([...labels.values()].map((d) => d.label!).filter((l) => l !== UNSURE))];
  const classNames = opts.classes?.length ? opts.classes : labelled;
  for (const c of classNames) {
    if (c === UNSURE) throw new ConfigError(`'${UNSURE}' is not a class (it marks cells a reviewer could not decide)`);
    if (!labelled.includes(c)) throw new ConfigError(`unknown class '${c}': no cell in ${file} is labelled so; labelled classes: ${labelled.join(', ') || '(none)'}`);
  }
  if (classNames.length < 2) throw new ConfigError(`a classifier needs labels of at least two classes; ${file} has ${classNames.length ? `only '${classNames[0]}'` : 'none but unsure'}`);
  const ignored: Record<string, number> = {};
  const skip = (why: string) => (ignored[why] = (ignored[why] ?? 0) + 1);
  const byImage = new Map<string, LabelDecision[]>();
  for (const d of labels.values()) {
    if (d.label === UNSURE) { skip('unsure'); continue; }
    if (!classNames.includes(d.label!)) { skip('class not chosen'); continue; }
    if (!byImage.has(d.image)) byImage.set(d.image, []);
    byImage.get(d.image)!.push(d);
  }
  const features = [...cells.values()][0]?.names ?? [];
  const picked: number[] = [];
  const rows: number[][] = [];
  const y: number[] = [];
  const warnings: string[] = [];
  const images: string[] = [];
  for (const [image, decisions] of [...byImage].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const table = cells.get(image);
    if (!table) {
      decisions.forEach(() => skip('image has no table'));
      warnings.push(`${decisions.length} label(s) for image '${image}', which has no measurement table: ignored`);
      continue;
    }
    const row = new Map(table.ids.map((id, r) => [id, r]));
    let gone = 0, changed = 0;
    for (const d of decisions) {
      const r = row.get(d.cellId);
      if (r === undefined) { gone++; skip('cell no longer exists'); continue; }
      if (Math.abs(table.x[r] - d.x) > CENTROID_TOLERANCE || Math.abs(table.y[r] - d.y) > CENTROID_TOLERANCE) { changed++; skip('cell changed'); continue; }
      rows.push(Array.from(table.values.subarray(r * features.length, (r + 1) * features.length)));
      y.push(classNames.indexOf(d.label!));
      picked.push(r);
    }
    if (gone || changed) {
      warnings.push(`${gone + changed} label(s) for '${image}' name cells that no longer exist${changed ? ` (${changed} whose label number now marks another cell)` : ''}: ` +
        'the image was re-segmented since they were made; ignored');
    }
    if (decisions.length > gone + changed) images.push(image);
  }
  for (let c = 0; c < classNames.length; c++) {
    if (!y.includes(c)) throw new ConfigError(`no usable labels of class '${classNames[c]}' (all of them name cells that no longer exist?)`);
  }
  const flat = new Float32Array(rows.length * features.length);
  rows.forEach((r, i) => flat.set(r, i * features.length));
  return { rows: flat, y, features, classNames, images, ignored, warnings };
}

export interface TrainOptions extends ForestOptions {
  /** Cross-validation folds. @default 5 */
  folds?: number;
  name?: string;
}

/**
 * Trains a random forest on a training set (missing values filled with training medians),
 * cross-validates it first when every class has ≥ 2 labels, and returns the classifier with its metadata.
 */
export function trainClassifier(set: TrainingSet, opts: TrainOptions = {}): Classifier {
  const f = set.features.length;
  const fill = featureMedians(set.rows, f);
  const rows = imputeInPlace(Float32Array.from(set.rows), fill);
  const forestOpts: Required<Pick<ForestOptions, 'trees' | 'featuresPerSplit' | 'maxDepth' | 'seed'>> = {
    trees: opts.trees ?? 100, featuresPerSplit: opts.featuresPerSplit ?? Math.ceil(Math.sqrt(f)), maxDepth: opts.maxDepth ?? 20, seed: opts.seed ?? 1,
  };
  const perClass: Record<string, number> = {};
  set.classNames.forEach((c, i) => (perClass[c] = set.y.filter((v) => v === i).length));
  const canValidate = Object.values(perClass).every((n) => n >= 2);
  const crossValidation = canValidate ? crossValidate(rows, set.y, f, set.classNames, opts.folds ?? 5, { ...opts, ...forestOpts }) : undefined;
  const forest = trainForest(rows, set.y, f, set.classNames.length, { ...opts, ...forestOpts });
  const metadata: ClassifierMetadata = {
    schemaVersion: 1, kind: 'cell-classifier', name: opts.name ?? 'cell classifier', createdAt: new Date().toISOString(),
    classes: set.classNames.map((name, i) => ({ name, color: classColor(i) })),
    features: set.features, fill,
    training: { labels: set.y.length, perClass, images: set.images, ignored: set.ignored },
    forest: forestOpts, crossValidation,
  };
  return { metadata, forest };
}

/** A workspace's measurement table for an image: `<reports>/<image>_QUANT.tsv`. */
export function tableUri(reportsDir: string, image: string): string {
  return `${reportsDir.replace(/\/+$/, '')}/${image}_QUANT.tsv`;
}

/**
 * Reads the tables of the labelled images (absent ones are skipped: {@link buildTrainingSet} reports
 * their labels) and their features: `patterns` pick measurement columns (default: all they share).
 */
export async function loadLabelledTables(reportsDir: string, images: Iterable<string>, patterns: readonly string[] = []): Promise<Map<string, CellFeatures>> {
  const tables: QuantTable[] = [];
  for (const image of [...new Set(images)].sort()) {
    const uri = tableUri(reportsDir, image);
    if (!(await storeFor(uri).stat(uri))) continue;
    tables.push(await readQuantTable(uri));
  }
  const names = chooseFeatures(tables, patterns);
  const out = new Map<string, CellFeatures>();
  for (const t of tables) {
    const f = cellFeatures(t, names);
    out.set(f.image, f);
  }
  return out;
}
