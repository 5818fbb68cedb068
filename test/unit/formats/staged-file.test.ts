/**
 * A staged output is published by rename beside a local target; what an attempt killed mid-write left
 * there (kill -9 during a streamed predict) is removed by the next attempt at the same target, and
 * nothing else is touched.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMaskWriter } from '../../../core/formats/mask-writer';
import { StagedFile } from '../../../core/storage/staged-file';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-staged-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const KILLED = '.tessel-tmp-0123456789ab-raw_predictions.npz';
const OTHER_TARGET = '.tessel-tmp-ba9876543210-other.npz';
const NOT_OURS = '.tessel-tmp-notours-raw_predictions.npz';

it("removes a killed attempt's temporary file of the same target, keeps everything else, and publishes by rename", async () => {
  for (const f of [KILLED, OTHER_TARGET, NOT_OURS]) writeFileSync(join(dir, f), 'left behind');
  const target = join(dir, 'raw_predictions.npz');
  const staged = await StagedFile.create(target);
  expect(readdirSync(dir)).not.toContain(KILLED);
  await staged.append('new bytes');
  await staged.commit();
  expect(readFileSync(target, 'utf8')).toBe('new bytes');
  expect(readdirSync(dir).sort()).toEqual([OTHER_TARGET, NOT_OURS, 'raw_predictions.npz'].sort());
});

it('the streaming mask writer does the same for its mask', async () => {
  const stale = '.tessel-tmp-00000000abcd-m_WholeCellMask.tiff';
  writeFileSync(join(dir, stale), 'left behind');
  const w = await openMaskWriter(join(dir, 'm_WholeCellMask.tiff'), { width: 32, height: 32, tileSize: 16 });
  await w.writeRegion(0, 0, 32, 32, new Int32Array(32 * 32).fill(7));
  await w.commit();
  expect(readdirSync(dir)).toEqual(['m_WholeCellMask.tiff']);
});
