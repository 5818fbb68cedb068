import { classify } from '../../core/classify/apply';
import { loadClassifier, type Classifier } from '../../core/classify/bundle';
import type { ClassifyResult, ProgressReport } from '../../workflows/types';
import { storeFor } from '../../core/storage';
import { runStage, type WorkerEnvironment } from '../common';

export interface ClassifyInput {
  /** The image's measurement table, rewritten with its Classification column filled. */
  tsvUri: string;
  /** Its GeoJSON, when the run writes one: each feature gets `classification` {name, color}. */
  geojsonUri?: string;
  /** The run's classifier collection (ZIP with `classifier/…`). */
  classifierUri: string;
  progress?: ProgressReport;
}

/** Classifiers loaded by this worker, by URI and generation (verified once; a run classifies every image with the same one). */
const loaded = new Map<string, Promise<Classifier>>();

/** Classify stage (CPU): the run's classifier applied to one image's cells; see `core/classify/apply.ts`. */
export function makeClassify(env: WorkerEnvironment) {
  return async function classifyImage(input: ClassifyInput): Promise<ClassifyResult> {
    return runStage(env, 'classify', input.progress, async ({ timer }) => {
      const key = `${input.classifierUri}@${(await storeFor(input.classifierUri).stat(input.classifierUri))?.generation ?? ''}`;
      let classifier = loaded.get(key);
      if (!classifier) {
        classifier = loadClassifier(input.classifierUri);
        loaded.set(key, classifier);
        classifier.catch(() => loaded.delete(key)); // a bad or missing file is read again next time
      }
      const c = await timer.time('inputLoad', () => classifier);
      const r = await timer.time('compute', () => classify({ tsvUri: input.tsvUri, geojsonUri: input.geojsonUri, classifier: c }));
      return { cells: r.cells, classifierSha256: c.sha256 ?? '', counts: r.counts, warnings: r.warnings };
    });
  };
}
