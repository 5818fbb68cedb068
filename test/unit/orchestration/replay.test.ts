/**
 * Replays workflow histories recorded from a real run (test/fixtures/histories, refreshed with
 * `TESSEL_RECORD_HISTORIES=1 npx jest test/integration/run.test.ts`) against today's workflow code, with
 * no server: a change that would break runs already in flight fails here. The histories cover the run
 * workflow and each path of an image's: its last stages as one `fused` activity, as three activities,
 * a failure, and a blockwise image's blocks (`processBlocks`, recorded by test/integration/blockwise.test.ts
 * with kill -9 of its workers, so retried activities are in it).
 *
 * Tessel has not been released, so there is one path through the workflows and the histories are of the
 * current code: when a change to the workflows is meant (replay fails), record afresh. Once a version is
 * deployed, its runs are protected by Worker Versioning (a run stays on the build that started it) or a
 * `patched()` branch, and the histories of the deployed version are kept (docs/architecture.md).
 *
 * That this test can fail is itself tested below: a mutant of `processImage` that skips its first
 * activity must be refused with a non-determinism error. (Checked once by hand as well: swapping
 * postprocess and quantify in process-image.ts fails `processImage-stages.json`.)
 */
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installRuntimeLogging } from '../../../workers/create';

installRuntimeLogging('WARN');

const root = join(__dirname, '..', '..', '..');
const dir = join(root, 'test', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const history = (file: string) => historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));

it('has the run, each path of an image and a blockwise image on record', () => {
  expect(files).toEqual(['processBlocks.json', 'processImage-failed.json', 'processImage-fused.json', 'processImage-stages.json', 'segmentAndMeasure.json']);
});

it.each(files)('replays %s without non-determinism', async (file) => {
  const h = history(file);
  expect(h.events?.length).toBeGreaterThan(5);
  await expect(Worker.runReplayHistory({ workflowsPath: require.resolve('../../../workflows') }, h, file)).resolves.toBeUndefined();
});

it('refuses a workflow that no longer schedules what the history recorded', async () => {
  const src = readFileSync(join(root, 'workflows', 'process-image.ts'), 'utf8');
  const mutant = src.replace("if (runs('convert')) {", "if (false as boolean) {")
    .replace(/from '\.\.\/core\/contracts'/g, `from '${join(root, 'core', 'contracts')}'`)
    .replace(/from '\.\/stage-events'/g, `from '${join(root, 'workflows', 'stage-events')}'`)
    .replace(/from '\.\/process-blocks'/g, `from '${join(root, 'workflows', 'process-blocks')}'`);
  expect(mutant).not.toBe(src);
  // Inside the checkout (git-ignored .tessel/), so the bundler finds @temporalio/workflow.
  mkdirSync(join(root, '.tessel'), { recursive: true });
  const mutantDir = mkdtempSync(join(root, '.tessel', 'replay-mutant-'));
  writeFileSync(join(mutantDir, 'index.ts'), mutant);
  try {
    await expect(Worker.runReplayHistory({ workflowsPath: join(mutantDir, 'index.ts') }, history('processImage-fused.json'), 'mutant'))
      .rejects.toThrow(/[Nn]ondeterminism|DeterminismViolation/);
  } finally {
    rmSync(mutantDir, { recursive: true, force: true });
  }
});
