import { upsertProjectEntry } from '../../core/quantify/qpproj';
import { readManifest } from '../../core/workspace/manifest';
import { storeFor, joinUri } from '../../core/storage';
import type { ImageResult, Locations, RunProgress } from '../../workflows/types';
import { toFailure } from '../common';

export interface FinalizeInput { runId: string; locations: Locations; results: ImageResult[]; progress: RunProgress }

/**
 * Adds every completed image of the workspace (from the image manifests, so runs of any size and
 * earlier runs count) to `PROJ/project.qpproj` — one writer at the end, so images never race on the
 * project file — and writes `jobs/<run-id>/summary.json`.
 */
export async function finalizeRun(input: FinalizeInput): Promise<{ projectUri: string; summaryUri: string }> {
  try {
    const projectUri = joinUri(input.locations.project, 'project.qpproj');
    const store = storeFor(projectUri);
    const existing = (await store.stat(projectUri)) ? Buffer.from(await store.readAll(projectUri)).toString('utf8') : undefined;
    const manifestsDir = joinUri(input.locations.jobs, 'manifests');
    const done: { name: string; uri: string }[] = [];
    for (const o of await storeFor(manifestsDir).list(manifestsDir)) {
      if (!o.uri.endsWith('.json')) continue;
      const m = await readManifest(o.uri);
      if (m?.status === 'done') done.push({ name: m.name, uri: m.imageUri });
    }
    let project = existing;
    for (const d of done.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) project = upsertProjectEntry(project, d);
    if (project !== undefined && project !== existing) await store.writeAtomic(projectUri, project);
    const summaryUri = joinUri(input.locations.jobs, input.runId, 'summary.json');
    await storeFor(summaryUri).writeAtomic(summaryUri, JSON.stringify({ ...input.progress, results: input.results }, null, 2));
    return { projectUri, summaryUri };
  } catch (e) {
    throw toFailure(e);
  }
}
