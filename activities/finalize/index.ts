import { heartbeat } from '@temporalio/activity';
import { upsertProjectEntries } from '../../core/quantify/qpproj';
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
    const listed = await storeFor(manifestsDir).list(manifestsDir);
    for (let i = 0; i < listed.length; i++) {
      const o = listed[i];
      // A run of ten thousand images reads as many manifests: show the server this is progress.
      if (i % 200 === 0) heartbeat({ manifestsRead: i, of: listed.length });
      if (!o.uri.endsWith('.json')) continue;
      const m = await readManifest(o.uri);
      if (m?.status === 'done') done.push({ name: m.name, uri: m.imageUri });
    }
    done.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // One parse and one write of the project, whatever the number of images.
    const project = done.length > 0 ? upsertProjectEntries(existing, done) : existing;
    if (project !== undefined && project !== existing) await store.writeAtomic(projectUri, project);
    const summaryUri = joinUri(input.locations.jobs, input.runId, 'summary.json');
    await storeFor(summaryUri).writeAtomic(summaryUri, JSON.stringify({ ...input.progress, results: input.results }, null, 2));
    return { projectUri, summaryUri };
  } catch (e) {
    throw toFailure(e);
  }
}
