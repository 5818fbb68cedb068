import { upsertProjectEntry } from '../../core/quantify/qpproj';
import { storeFor, joinUri } from '../../core/storage';
import type { ImageResult, Locations, RunProgress } from '../../workflows/types';
import { toFailure } from '../common';

export interface FinalizeInput { runId: string; locations: Locations; results: ImageResult[]; progress: RunProgress }

/**
 * Adds the run's finished images to `PROJ/project.qpproj` (one writer, at the end, so concurrent images
 * never race on the project file) and writes `jobs/<run-id>/summary.json`.
 */
export async function finalizeRun(input: FinalizeInput): Promise<{ projectUri: string; summaryUri: string }> {
  try {
    const projectUri = joinUri(input.locations.project, 'project.qpproj');
    const store = storeFor(projectUri);
    const existing = (await store.stat(projectUri)) ? Buffer.from(await store.readAll(projectUri)).toString('utf8') : undefined;
    let project = existing;
    for (const r of input.results.filter((x) => x.status !== 'failed').sort((a, b) => a.name.localeCompare(b.name))) {
      project = upsertProjectEntry(project, { uri: r.imageUri, name: r.name });
    }
    if (project !== undefined && project !== existing) await store.writeAtomic(projectUri, project);
    const summaryUri = joinUri(input.locations.jobs, input.runId, 'summary.json');
    await storeFor(summaryUri).writeAtomic(summaryUri, JSON.stringify({ ...input.progress, results: input.results }, null, 2));
    return { projectUri, summaryUri };
  } catch (e) {
    throw toFailure(e);
  }
}
