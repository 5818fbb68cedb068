import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage } from '../../../core/formats/image';
import { labelAt } from '../../fixtures/write_big_mask';

/**
 * Peak memory of the streaming mask writer is set by the tiles in flight and the pyramid's partly
 * covered tiles, not by the image: a 16384×16384 int32 mask (a 1 GiB plane) written tile by tile in
 * shuffled order, in a child process whose peak RSS is its own. Memory, not time: no timing asserted.
 */
const root = join(__dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tessel-mask-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(uri: string, size: number, format: string): { maxRssMiB: number; seconds: number; bytes?: number } {
  const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), join(root, 'test', 'fixtures', 'write_big_mask.ts'), uri, String(size), '512', format],
    { encoding: 'utf8', cwd: root, timeout: 300_000 });
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
  return JSON.parse(r.stdout.trim()) as { maxRssMiB: number; seconds: number };
}

async function spotCheck(uri: string, size: number): Promise<void> {
  const src = await openImage(uri);
  try {
    expect([src.info.width, src.info.height, src.info.dtype]).toEqual([size, size, 'int32']);
    for (const [x, y, level] of [[0, 0, 0], [size - 700, size - 300, 0], [5000 % size, 3000 % size, 0], [0, 0, 3]]) {
      const s = 2 ** level;
      const lw = Math.min(300, Math.ceil(size / s) - x / s | 0);
      const p = await src.readChannel(0, { level, region: { x: x / s | 0, y: y / s | 0, width: lw, height: 200 } });
      let bad = 0;
      for (let r = 0; r < 200; r++) for (let c = 0; c < lw; c++) if (p.data[r * lw + c] !== labelAt(((x / s | 0) + c) * s, ((y / s | 0) + r) * s)) bad++;
      expect({ x, y, level, bad }).toEqual({ x, y, level, bad: 0 });
    }
  } finally {
    await src.close();
  }
}

it('OME-TIFF: 16384×16384 (1 GiB of int32) written tile by tile peaks well under the plane', async () => {
  const uri = join(dir, 'big.ome.tiff');
  const m = write(uri, 16384, 'ome-tiff');
  console.log(`mask writer, ome-tiff 16384²: peak RSS ${m.maxRssMiB} MiB (plane 1024 MiB), ${m.seconds.toFixed(1)} s, ${(m.bytes! / 2 ** 20).toFixed(1)} MiB written`);
  expect(m.maxRssMiB).toBeLessThan(384);
  await spotCheck(uri, 16384);
}, 300_000);

it('OME-Zarr: 8192×8192 (256 MiB of int32) written tile by tile peaks under the plane', async () => {
  const uri = join(dir, 'big.ome.zarr');
  const m = write(uri, 8192, 'ome-zarr');
  console.log(`mask writer, ome-zarr 8192²: peak RSS ${m.maxRssMiB} MiB (plane 256 MiB), ${m.seconds.toFixed(1)} s`);
  expect(m.maxRssMiB).toBeLessThan(224);
  await spotCheck(join(uri, 'labels', 'mask'), 8192);
}, 300_000);
