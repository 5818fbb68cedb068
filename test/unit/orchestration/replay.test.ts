/**
 * Replays workflow histories recorded from a real run (test/fixtures/histories, refreshed with
 * `TESSEL_RECORD_HISTORIES=1 npx jest test/integration/run.test.ts`) against today's workflow code:
 * a change that would break runs already in flight fails here, with no server needed. `v1-*` histories
 * were recorded before the FEWER_ROUND_TRIPS patch, `v2-*` after it and before STAGE_EVENTS_FROM_ACTIVITIES, `v3-*` after that
 * and before FUSED_SMALL_IMAGES; they keep the old branches honest. When a new patch lands, rename the current files to the next prefix
 * and record afresh.
 */
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installRuntimeLogging } from '../../../workers/create';
import { FEWER_ROUND_TRIPS, FUSED_SMALL_IMAGES, STAGE_EVENTS_FROM_ACTIVITIES } from '../../../workflows/process-image';

installRuntimeLogging('WARN');

const dir = join(__dirname, '..', '..', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

it('has the parent and both kinds of child history on record, from today\'s code and from before each patch', () => {
  const kinds = ['processImage-done.json', 'processImage-failed.json', 'segmentAndMeasure.json'];
  expect(files).toEqual([...kinds, ...['v1', 'v2', 'v3'].flatMap((v) => kinds.map((k) => `${v}-${k}`))]);
});

/** Patch ids recorded in a history's `core_patch` markers. */
function patchIds(file: string): string[] {
  const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { events: { markerRecordedEventAttributes?: { markerName: string; details: Record<string, { payloads: { data: string }[] }> } }[] };
  return json.events.flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') return [];
    return Object.values(m.details).flatMap((d) => d.payloads.map((p) => (JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) as { id: string }).id));
  });
}

it('covers every side of the patches: each generation\'s children carry the markers of its day', () => {
  // Today's finished child ran its last stages as one activity (a small image); the failed one ended at
  // convert, before that choice.
  expect(patchIds('processImage-done.json')).toEqual([FEWER_ROUND_TRIPS, STAGE_EVENTS_FROM_ACTIVITIES, FUSED_SMALL_IMAGES]);
  expect(patchIds('processImage-failed.json')).toEqual([FEWER_ROUND_TRIPS, STAGE_EVENTS_FROM_ACTIVITIES]);
  for (const kind of ['processImage-done.json', 'processImage-failed.json']) {
    expect(patchIds(`v3-${kind}`)).toEqual([FEWER_ROUND_TRIPS, STAGE_EVENTS_FROM_ACTIVITIES]);
    expect(patchIds(`v2-${kind}`)).toEqual([FEWER_ROUND_TRIPS]);
    expect(patchIds(`v1-${kind}`)).toEqual([]);
  }
});

it.each(files)('replays %s without non-determinism', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  expect(history.events?.length).toBeGreaterThan(5);
  await expect(Worker.runReplayHistory({ workflowsPath: require.resolve('../../../workflows') }, history, file)).resolves.toBeUndefined();
});
