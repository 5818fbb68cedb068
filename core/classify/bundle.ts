import { z } from 'zod';
import { ConfigError, ModelChecksumError, ModelContractError } from '../errors';
import { encodeCollection, readVerifiedCollection, sha256Hex } from '../model/collection';
import { storeFor } from '../storage';
import { ForestModel } from './forest';

/**
 * A cell classifier as entries of a model collection (the same ZIP, manifest and SHA-256 checks as a
 * segmentation model, HiTMicTools-style): `classifier/forest.json` (the trees) and
 * `classifier/classifier_metadata.json` (below). A collection may hold a classifier alone or beside
 * `segmentation/…`.
 */
export const FOREST_ENTRY = 'classifier/forest.json';
export const CLASSIFIER_METADATA_ENTRY = 'classifier/classifier_metadata.json';

const Rgb = z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]);

/** Cross-validated quality: confusion matrix (rows = true class, columns = predicted) and per-class figures. */
export const Evaluation = z.object({
  folds: z.number().int().min(2),
  accuracy: z.number(),
  confusion: z.array(z.array(z.number().int())),
  perClass: z.array(z.object({ name: z.string(), precision: z.number(), recall: z.number(), f1: z.number(), support: z.number().int() })),
});
export type Evaluation = z.infer<typeof Evaluation>;

export const ClassifierMetadata = z.object({
  schemaVersion: z.literal(1),
  kind: z.literal('cell-classifier'),
  name: z.string().min(1),
  createdAt: z.string(),
  /** Classes in the forest's order, each with the colour QuPath shows. */
  classes: z.array(z.object({ name: z.string().min(1), color: Rgb })).min(2),
  /** Measurement columns (QuPath names) the forest reads, in its order. */
  features: z.array(z.string().min(1)).min(1),
  /** What a missing value of each feature becomes (the training median). */
  fill: z.array(z.number()),
  training: z.object({
    labels: z.number().int().nonnegative(),
    perClass: z.record(z.string(), z.number().int().nonnegative()),
    images: z.array(z.string()),
    ignored: z.record(z.string(), z.number().int().nonnegative()),
  }),
  forest: z.object({ trees: z.number().int().positive(), featuresPerSplit: z.number().int().positive(), maxDepth: z.number().int().positive(), seed: z.number().int() }),
  /** Absent when there were too few labels per class to cross-validate. */
  crossValidation: Evaluation.optional(),
});
export type ClassifierMetadata = z.infer<typeof ClassifierMetadata>;

export interface Classifier {
  uri?: string;
  metadata: ClassifierMetadata;
  forest: ForestModel;
  /** SHA-256 of the whole collection ZIP (benchmark rows, settings hash). */
  sha256?: string;
}

/** Colours for classes in order: distinct, readable on black and on QuPath's image background. */
const PALETTE: [number, number, number][] = [
  [230, 60, 60], [60, 180, 75], [70, 130, 230], [240, 200, 40], [200, 80, 220], [70, 210, 210], [245, 130, 48], [170, 110, 40], [128, 128, 128],
];
export function classColor(index: number): [number, number, number] {
  return PALETTE[index % PALETTE.length];
}

/** The collection entries of a classifier (validated first), optionally added to another collection's. */
export function classifierEntries(c: Classifier): { name: string; data: Uint8Array }[] {
  ClassifierMetadata.parse(c.metadata);
  ForestModel.parse(c.forest);
  const enc = new TextEncoder();
  return [
    { name: FOREST_ENTRY, data: enc.encode(JSON.stringify(c.forest) + '\n') },
    { name: CLASSIFIER_METADATA_ENTRY, data: enc.encode(JSON.stringify(c.metadata, null, 2) + '\n') },
  ];
}

/**
 * Writes a classifier collection atomically. With `withModel`, the segmentation model collection's
 * entries (verified) go into the same ZIP, so one file pins both.
 * @throws ConfigError for an output name not ending in .zip.
 */
export async function writeClassifier(out: string, c: Classifier, withModel?: string): Promise<string> {
  if (!/\.zip$/i.test(out)) throw new ConfigError(`classifier output must end in .zip, got '${out}'`);
  const files = classifierEntries(c);
  if (withModel) {
    const { entries } = await readVerifiedCollection(withModel);
    for (const [name, data] of entries) if (name !== 'manifest.json' && !name.startsWith('classifier/') && !name.endsWith('/')) files.unshift({ name, data });
  }
  const bytes = encodeCollection(files);
  await storeFor(out).writeAtomic(out, bytes);
  return sha256Hex(bytes);
}

/**
 * Loads and verifies a classifier from a collection ZIP.
 * @throws NotFoundError; ModelChecksumError on a corrupt archive or checksum mismatch, or when the
 *   collection has no classifier; ModelContractError when its JSON fails the schema.
 */
export async function loadClassifier(uri: string): Promise<Classifier> {
  const { entries, sha256 } = await readVerifiedCollection(uri);
  const text = (name: string) => {
    const b = entries.get(name);
    if (!b) throw new ModelChecksumError(uri, `collection has no ${name} (not a classifier? train one with tessel classify train)`);
    return new TextDecoder().decode(b);
  };
  const parse = <T>(schema: z.ZodType<T>, name: string): T => {
    let raw: unknown;
    try {
      raw = JSON.parse(text(name));
    } catch (e) {
      if (e instanceof ModelChecksumError) throw e;
      throw new ModelContractError(uri, `${name} is not valid JSON (${(e as Error).message})`);
    }
    const p = schema.safeParse(raw);
    if (!p.success) throw new ModelContractError(uri, `${name} is invalid: ${p.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    return p.data;
  };
  const metadata = parse(ClassifierMetadata, CLASSIFIER_METADATA_ENTRY);
  const forest = parse(ForestModel, FOREST_ENTRY);
  if (forest.classes !== metadata.classes.length || forest.features !== metadata.features.length || metadata.fill.length !== metadata.features.length) {
    throw new ModelContractError(uri, `the forest (${forest.classes} classes, ${forest.features} features) disagrees with its metadata (${metadata.classes.length} classes, ${metadata.features.length} features)`);
  }
  return { uri, metadata, forest, sha256 };
}
