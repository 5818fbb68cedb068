import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabelMask } from '../../../core/formats/image';
import { postprocess } from '../../../core/postprocess';
import { readCompartmentMaps } from '../../../core/postprocess/compartment-job';
import { deepWatershed, mesmerDefaults } from '../../../core/postprocess/deep-watershed';
import { runPython } from '../../helpers/python';

/**
 * The postprocess stage spreads each compartment's three tasks (markers, flood inputs, flood) over its
 * worker threads: however many there are, the masks are the recipe's, and a task that fails stops the
 * stage with the file's error and no mask written.
 */
const dir = mkdtempSync(join(tmpdir(), 'tessel-postprocess-stage-'));
const maps = join(dir, 'raw_predictions.npz');
beforeAll(() => runPython(join(__dirname, 'fixtures', 'deep_watershed_reference.py'), ['maps', '--size', '256', '--seed', '6', '--out', maps]));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('gives the recipe\'s masks on 1, 2 or 3 threads', async () => {
  const want = {
    'whole-cell': deepWatershed(await readCompartmentMaps(maps, 'whole-cell'), mesmerDefaults('whole-cell')),
    nuclear: deepWatershed(await readCompartmentMaps(maps, 'nuclear'), mesmerDefaults('nuclear')),
  };
  expect(new Set(want['whole-cell']).size).toBeGreaterThan(20);
  for (const concurrency of [1, 2, 3]) {
    const r = await postprocess({ predictionsUri: maps, outDir: join(dir, `t${concurrency}`), name: 'tile', compartment: 'both', concurrency });
    const [cells, nuclei] = [await readLabelMask(r.wholeCellMaskUri!), await readLabelMask(r.nucleusMaskUri!)];
    expect({ concurrency, cells: Buffer.from(cells.data.buffer).equals(Buffer.from(want['whole-cell'].buffer)), nuclei: Buffer.from(nuclei.data.buffer).equals(Buffer.from(want.nuclear.buffer)) })
      .toEqual({ concurrency, cells: true, nuclei: true });
  }
});

it('a corrupt head fails the stage naming the file and the array, and no mask is written', async () => {
  const bytes = readFileSync(maps);
  // One data byte of arr_3 (the nuclear pixelwise head, read by the nuclear flood-inputs task).
  const at = bytes.indexOf('arr_3.npy') + 'arr_3.npy'.length + 20 + 128 + 5000;
  const corrupt = Buffer.from(bytes);
  corrupt[at] ^= 0xff;
  const bad = join(dir, 'corrupt.npz');
  writeFileSync(bad, corrupt);
  const outDir = join(dir, 'bad');
  await expect(postprocess({ predictionsUri: bad, outDir, name: 'tile', compartment: 'both' })).rejects.toThrow(/corrupt\.npz.*arr_3\.npy.*CRC/);
  expect(existsSync(outDir) ? readdirSync(outDir) : []).toEqual([]);
});
