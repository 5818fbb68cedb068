import type { FinalizeInput, FinalizeOutput } from '../contracts';
import { upsertProjectEntries } from '../quantify/qpproj';
import { joinUri, storeFor } from '../storage';
import { readManifest } from './manifest';

/**
 * A run's last step: adds every completed image of the workspace (from the image manifests, so runs of
 * any size and earlier runs count) to `PROJ/project.qpproj` — one writer at the end, so images never race
 * on the project file, and one parse and one write whatever the number of images — and writes
 * `jobs/<run-id>/summary.json`. `onProgress` hears how many manifests were read (a run of ten thousand
 * images reads as many).
 */
export async function finalizeRun(input: FinalizeInput, onProgress?: (read: number, of: number) => void): Promise<FinalizeOutput> {
  const projectUri = joinUri(input.locations.project, 'project.qpproj');
  const store = storeFor(projectUri);
  const existing = (await store.stat(projectUri)) ? Buffer.from(await store.readAll(projectUri)).toString('utf8') : undefined;
  const manifestsDir = joinUri(input.locations.jobs, 'manifests');
  const done: { name: string; uri: string }[] = [];
  const listed = await storeFor(manifestsDir).list(manifestsDir);
  for (let i = 0; i < listed.length; i++) {
    const o = listed[i];
    if (i % 200 === 0) onProgress?.(i, listed.length);
    if (!o.uri.endsWith('.json')) continue;
    const m = await readManifest(o.uri);
    if (m?.status === 'done') done.push({ name: m.name, uri: m.imageUri });
  }
  done.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const project = done.length > 0 ? upsertProjectEntries(existing, done) : existing;
  if (project !== undefined && project !== existing) await store.writeAtomic(projectUri, project);
  const summaryUri = joinUri(input.locations.jobs, input.runId, 'summary.json');
  await storeFor(summaryUri).writeAtomic(summaryUri, JSON.stringify({ ...input.progress, results: input.results }, null, 2));
  return { projectUri, summaryUri };
}
