import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, readLabelMask } from '../../../core/formats/image';
import { postprocess } from '../../../core/postprocess';
import { runPython } from '../../helpers/python';

/**
 * `tessel postprocess --mask-format ome-zarr` writes the same labels as the default TIFF masks, as the
 * NGFF labels WholeCell and Nucleus of <out-dir>/<name>.ome.zarr (pyramid included), and reports
 * their URIs, which Tessel's mask reader opens.
 */
const root = join(__dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tessel-mask-format-'));
const maps = join(dir, 'raw_predictions.npz');
beforeAll(() => runPython(join(__dirname, 'fixtures', 'deep_watershed_reference.py'), ['maps', '--size', '256', '--seed', '5', '--out', maps]));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('OME-Zarr labels hold the same masks as the TIFFs, with their URIs in the result', async () => {
  const tiff = await postprocess({ predictionsUri: maps, outDir: join(dir, 'tiff'), name: 'tile', compartment: 'both' });
  const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), join(root, 'cli', 'main.ts'), 'postprocess', maps,
    '--out-dir', join(dir, 'zarr'), '--name', 'tile', '--mask-format', 'ome-zarr', '--json'], { encoding: 'utf8', cwd: root });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  const zarr = JSON.parse(r.stdout) as { wholeCellMaskUri: string; nucleusMaskUri: string; wholeCellCount: number; nucleusCount: number };
  const rootUri = join(dir, 'zarr', 'tile.ome.zarr');
  expect(zarr).toMatchObject({ wholeCellMaskUri: join(rootUri, 'labels', 'WholeCell'), nucleusMaskUri: join(rootUri, 'labels', 'Nucleus'),
    wholeCellCount: tiff.wholeCellCount, nucleusCount: tiff.nucleusCount });
  expect(existsSync(join(dir, 'zarr', 'tile_WholeCellMask.tiff'))).toBe(false);
  for (const [z, t] of [[zarr.wholeCellMaskUri, tiff.wholeCellMaskUri!], [zarr.nucleusMaskUri, tiff.nucleusMaskUri!]]) {
    const [a, b] = [await readLabelMask(z), await readLabelMask(t)];
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
  }
  const src = await openImage(zarr.wholeCellMaskUri);
  expect([src.info.width, src.info.levels, src.info.ngffVersion]).toEqual([256, 1, '0.4']); // one 512-px tile: no pyramid
  // Both compartments commit into one root at once: both must be listed.
  const listed = runPython(`import sys, zarr; print(sorted(zarr.open_group(sys.argv[1], mode='r')['labels'].attrs['labels']))`, [rootUri]).trim();
  expect(listed).toBe("['Nucleus', 'WholeCell']");
});
