import type { ClassifyInput, ClassifyResult } from '../../core/contracts';
import * as stage from '../../core/classify';
import { storeFor } from '../../core/storage';
import { runStage, type WorkerEnvironment } from '../common';

/** Classifiers loaded by this worker, by URI and generation (verified once; a run classifies every image with the same one). */
const loaded = new Map<string, Promise<stage.Classifier>>();

/** Classify stage (CPU): the run's classifier applied to one image's cells; see `core/classify/apply.ts`. */
export function makeClassify(env: WorkerEnvironment) {
  return async function classify(input: ClassifyInput): Promise<ClassifyResult> {
    return runStage(env, 'classify', input.progress, async ({ timer }) => {
      const key = `${input.classifierUri}@${(await storeFor(input.classifierUri).stat(input.classifierUri))?.generation ?? ''}`;
      let classifier = loaded.get(key);
      if (!classifier) {
        classifier = stage.loadClassifier(input.classifierUri);
        loaded.set(key, classifier);
        classifier.catch(() => loaded.delete(key)); // a bad or missing file is read again next time
      }
      const c = await timer.time('inputLoad', () => classifier);
      const r = await timer.time('compute', () => stage.classify({ tsvUri: input.tsvUri, geojsonUri: input.geojsonUri, classifier: c }));
      return { cells: r.cells, classifierSha256: c.sha256 ?? '', counts: r.counts, warnings: r.warnings };
    });
  };
}
