/**
 * Replays workflow histories recorded from a real run (test/fixtures/histories, refreshed with
 * `TESSEL_RECORD_HISTORIES=1 npx jest test/integration/run.test.ts`) against today's workflow code:
 * a change that would break runs already in flight fails here, with no server needed.
 */
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installRuntimeLogging } from '../../../workers/create';

installRuntimeLogging('WARN');

const dir = join(__dirname, '..', '..', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

it('has the parent and both kinds of child history on record', () => {
  expect(files).toEqual(['processImage-done.json', 'processImage-failed.json', 'segmentAndMeasure.json']);
});

it.each(files)('replays %s without non-determinism', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  expect(history.events?.length).toBeGreaterThan(5);
  await expect(Worker.runReplayHistory({ workflowsPath: require.resolve('../../../workflows') }, history, file)).resolves.toBeUndefined();
});
