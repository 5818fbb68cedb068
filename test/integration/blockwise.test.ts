import type { Client } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, killHolding, listFiles, tessel, useTestCluster } from '../helpers/cluster';
import { readLabelMask } from '../../core/formats/image';
import { resolveTemporalBinary } from '../../infra/temporal/dev-server';
import { blocksWorkflowId, imageWorkflowId, type BlockwiseProgress, type RunProgress, type RunSummary } from '../../core/contracts';

/**
 * A blockwise image through Temporal on a real dev server: one 512×512 image run as 2×2 blocks of 256
 * (every block touches both block lines), first undisturbed — continuing as new every 12 block
 * activities — then with kill -9 of the GPU worker while it predicts a block and of the CPU worker while it
 * holds a block task after that. Both finish with identical masks (labels), and byte-identical boxes and reports; in the disturbed run every
 * block task was scheduled once and only the ones the killed workers held were attempted again.
 */
jest.setTimeout(900_000);

const cluster = useTestCluster();
let env: NodeJS.ProcessEnv;
let dir: string;
let client: Client;
const BLOCKS = ['--blockwise-above-pixels', '100000', '--block-size', '256', '--halo', '64', '--heartbeat-timeout', '5', '--max-blocks-in-flight', '4', '--batch-size', '2'];

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function worker(queue: string) {
  return cluster.worker(['--queue', queue]);
}

beforeAll(async () => {
  ({ env, dir, client } = cluster);
  const synth = await tessel(['synth', join(dir, 'clean'), '--images', '1', '--size', '512', '--channels', '4', '--seed', '21']);
  expect(synth.code).toBe(0);
  cpSync(join(dir, 'clean'), join(dir, 'fault'), { recursive: true });
});

it('runs an image block by block and survives kill -9 of its workers, redoing only their blocks, with identical outputs', async () => {
  await worker('workflows');
  let cpu = await worker('cpu');
  let gpu = await worker('gpu');
  const clean = await tessel(['run', 'workspace', join(dir, 'clean'), '--json', '--run-id', 'blocks-clean', '--blocks-per-segment', '12', ...BLOCKS], env);
  const cleanSummary = JSON.parse(clean.stdout) as RunSummary;
  expect(cleanSummary.images).toMatchObject({ done: 1, failed: 0 });
  const name = cleanSummary.results[0].name;
  expect(cleanSummary.results[0].cells).toBeGreaterThan(50);

  const started = await tessel(['run', 'workspace', join(dir, 'fault'), '--detach', '--run-id', 'blocks-fault', ...BLOCKS], env);
  expect(started.code).toBe(0);
  const blocksId = blocksWorkflowId(imageWorkflowId('blocks-fault', name, 0, false));
  // The GPU worker dies holding a block's prediction, then the CPU worker holding a block task after it
  // (watershed, match or quantify: what follows the model's stage). Each is frozen while the server shows
  // it holding the task, so the kill lands inside one however fast this machine runs them.
  await killHolding(client, [blocksId], gpu, ['predictBlock']);
  // tessel status shows the image's blocks while it runs.
  const live = JSON.parse((await tessel(['status', 'blocks-fault', '--json'], env)).stdout) as RunProgress & { blocks?: BlockwiseProgress[] };
  expect(live.blockwise).toEqual([{ name, workflowId: blocksId }]);
  // Convert's end reaches the run with the blocks' first task, not only when the image is recorded.
  expect(live.stages.convert).toEqual({ done: 1, failed: 0, running: 0 });
  expect(live.blocks?.[0].stages?.first).toMatchObject({ done: 4, total: 4 });
  gpu = await worker('gpu');
  await killHolding(client, [blocksId], cpu, ['blockTask']);
  cpu = await worker('cpu');

  const st = await tessel(['status', 'blocks-fault', '--wait', '--json'], env);
  const final = JSON.parse(st.stdout) as RunProgress;
  expect(final.state).toBe('completed');
  expect(final.images).toMatchObject({ done: 1, failed: 0, total: 1 });
  const once = { done: 1, failed: 0, running: 0 };
  expect(final.stages).toEqual({ convert: once, predict: once, postprocess: once, quantify: once, classify: { done: 0, failed: 0, running: 0 }, record: once });

  // Every block task was scheduled once; the retried ones were those the killed workers held.
  const history = await client.workflow.getHandle(blocksId).fetchHistory();
  const scheduled = new Map<string, number>();
  const attempts: number[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const payload = JSON.parse(Buffer.from(s.input!.payloads![0].data!).toString()) as { task?: { stage: string; block?: number; compartment?: string }; block?: number };
      const key = `${s.activityType!.name}:${payload.task ? `${payload.task.stage}:${payload.task.block ?? payload.task.compartment ?? ''}` : payload.block ?? ''}`;
      scheduled.set(key, (scheduled.get(key) ?? 0) + 1);
    }
    if (e.activityTaskStartedEventAttributes) attempts.push(e.activityTaskStartedEventAttributes.attempt ?? 1);
  }
  expect([...scheduled.values()].every((n) => n === 1)).toBe(true);
  expect(scheduled.get('predictBlock:0')).toBe(1);
  const retried = attempts.filter((a) => a > 1).length;
  expect(retried).toBeGreaterThanOrEqual(1);
  // At most what two killed workers held: a slot each and one task held ahead, GPU and CPU.
  expect(retried).toBeLessThanOrEqual(2 + 2 * 3);
  expect(attempts).toHaveLength(scheduled.size); // one started event per activity: its last attempt

  const outputs = (ws: string) => listFiles(join(dir, ws)).filter((f) => /^(SEGMASK|REPORTS)\//.test(f));
  expect(outputs('fault')).toEqual(outputs('clean'));
  expect(outputs('clean')).toEqual(expect.arrayContaining([`SEGMASK/${name}_WholeCellBoxes.npy`, `SEGMASK/${name}_NucleusMask.tiff`, `REPORTS/${name}_QUANT.tsv`]));
  // Masks by their labels (each OME-TIFF's XML has a UUID of its own), boxes and reports byte for byte.
  const digest = async (f: string) => {
    if (!f.endsWith('.tiff')) return sha(readFileSync(f));
    const m = await readLabelMask(f);
    return `${m.width}×${m.height} ${sha(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength))}`;
  };
  for (const f of outputs('clean')) expect(`${f} ${await digest(join(dir, 'fault', f))}`).toBe(`${f} ${await digest(join(dir, 'clean', f))}`);
  expect(listFiles(join(dir, 'fault')).filter((f) => f.includes('.tessel-tmp-'))).toEqual([]);
  // The clean run continued as new mid-image (12 block activities per segment).
  const runs = client.workflow.list({ query: `WorkflowId = "${blocksWorkflowId(imageWorkflowId('blocks-clean', name, 0, false))}"` });
  let segments = 0;
  for await (const _ of runs) segments++;
  expect(segments).toBeGreaterThan(2);

  // TESSEL_RECORD_HISTORIES=1 refreshes the blockwise history that test/unit/orchestration/replay.test.ts replays.
  if (process.env.TESSEL_RECORD_HISTORIES === '1') {
    writeFileSync(join(ROOT, 'test', 'fixtures', 'histories', 'processBlocks.json'), execFileSync(resolveTemporalBinary(),
      ['workflow', 'show', '--workflow-id', blocksId, '--address', env.TEMPORAL_ADDRESS!, '--output', 'json']));
  }
});
