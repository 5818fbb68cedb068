/** The run's bookkeeping (workflows/run-state.ts), pure: counts, de-duplication, progress, carry. */
import type { ImageResult, StageEvent } from '../../../core/contracts';
import { FAILURES_LIMIT, FULL_RESULTS_LIMIT, RunState } from '../../../workflows/run-state';

const T0 = 1_000_000;
const ev = (name: string, stage: StageEvent['stage'], event: StageEvent['event']): StageEvent => ({ name, stage, event });
const done = (name: string, cells = 10): ImageResult => ({
  name, imageUri: `/ws/${name}.tiff`, status: 'done', cells, stageSeconds: { convert: 1, predict: 2 }, record: { status: 'done' },
});

function started(total: number): RunState {
  const run = RunState.start('run-1', T0);
  expect(run.phase).toBe('discovering');
  run.discovered({ listUri: '/jobs/run-1/images.jsonl', total, settingsHash: 'h' });
  expect(run.phase).toBe('running');
  return run;
}

it('counts each (image, stage, event) once, however often a retried activity sends it', () => {
  const run = started(2);
  const batch = [ev('a', 'convert', 'started'), ev('a', 'convert', 'done'), ev('a', 'predict', 'started')];
  run.countEvents(batch);
  run.countEvents(batch);
  run.countEvents([ev('b', 'convert', 'started')]);
  const p = run.progress(T0);
  expect(p.stages.convert).toEqual({ done: 1, failed: 0, running: 1 });
  expect(p.stages.predict).toEqual({ done: 0, failed: 0, running: 1 });
});

it('forgets an image once its result is in, so a later run of the same name counts again', () => {
  const run = started(2);
  run.countEvents([ev('a', 'convert', 'started')]);
  run.addResult({ ...done('a'), events: [ev('a', 'convert', 'done')] });
  run.countEvents([ev('a', 'convert', 'started')]);
  expect(run.progress(T0).stages.convert).toEqual({ done: 1, failed: 0, running: 1 });
});

it("counts the events a result carries and the record stage from the result's record", () => {
  const run = started(2);
  const r = { ...done('a'), events: [ev('a', 'quantify', 'started'), ev('a', 'quantify', 'done'), ev('a', 'record', 'started')] };
  run.addResult(r);
  expect(r.events).toBeUndefined();
  run.addResult({ name: 'b', imageUri: '/ws/b.tiff', status: 'failed', failedStage: 'convert', error: 'bad', stageSeconds: {}, record: { status: 'failed', error: 'sink down' } });
  const p = run.progress(T0);
  expect(p.stages.quantify).toEqual({ done: 1, failed: 0, running: 0 });
  expect(p.stages.record).toEqual({ done: 1, failed: 1, running: 0 });
  expect(p.images).toEqual({ total: 2, done: 1, failed: 1, running: 0, pending: 0, skipped: 0 });
  expect(p.failures).toEqual([{ name: 'b', imageUri: '/ws/b.tiff', stage: 'convert', error: 'bad', errorType: undefined }]);
  expect(p.cells).toBe(10);
  expect(p.stageTotals).toEqual({ convert: { seconds: 1, images: 1 }, predict: { seconds: 2, images: 1 } });
});

it('reports throughput, pending images and an ETA', () => {
  const run = started(10);
  run.running = 2;
  for (const n of ['a', 'b', 'c']) run.addResult(done(n));
  run.addResult({ name: 's', imageUri: '/ws/s.tiff', status: 'skipped', stageSeconds: {} });
  const p = run.progress(T0 + 60_000);
  expect(p.images).toMatchObject({ done: 3, skipped: 1, running: 2, pending: 4 });
  expect(p.throughputPerMin).toBeCloseTo(3);
  expect(p.etaS).toBeCloseTo(120);
  expect(started(1).progress(T0).throughputPerMin).toBeUndefined();
});

it('keeps full results only for small runs and lists at most FAILURES_LIMIT failures', () => {
  const small = started(2);
  small.addResult(done('a'));
  expect(small.carry.results).toHaveLength(1);
  const big = started(FULL_RESULTS_LIMIT + 1 + FAILURES_LIMIT);
  big.addResult(done('a'));
  for (let i = 0; i < FAILURES_LIMIT + 3; i++) big.addResult({ name: `f${i}`, imageUri: `/f${i}`, status: 'failed', error: 'x', stageSeconds: {} });
  expect(big.carry.results).toHaveLength(0);
  const p = big.progress(T0);
  expect(p.failures).toHaveLength(FAILURES_LIMIT);
  expect(p.failuresOmitted).toBe(3);
  expect(p.images.failed).toBe(FAILURES_LIMIT + 3);
});

it('continues as new with the counts and nothing running, and resumes in the running phase', () => {
  const run = started(5);
  run.countEvents([ev('a', 'predict', 'started'), ev('b', 'predict', 'started')]);
  run.addResult(done('c'));
  const carry = run.carryForward();
  expect(carry.stageCounts.predict.running).toBe(0);
  expect(run.carry.stageCounts.predict.running).toBe(2);
  const next = new RunState('run-1', carry);
  expect(next.phase).toBe('running');
  expect(next.progress(T0).images).toMatchObject({ total: 5, done: 1 });
});

it('ends failed only when every image failed', () => {
  const all = started(1);
  all.addResult({ name: 'a', imageUri: '/a', status: 'failed', error: 'x', stageSeconds: {} });
  all.finish();
  expect(all.phase).toBe('failed');
  const some = started(2);
  some.addResult({ name: 'a', imageUri: '/a', status: 'failed', error: 'x', stageSeconds: {} });
  some.addResult(done('b'));
  some.finish();
  expect(some.phase).toBe('completed');
  const none = started(0);
  none.finish();
  expect(none.phase).toBe('completed');
});
