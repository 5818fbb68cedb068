import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage } from '../../../core/formats/image';
import { writeOmeTiff } from '../../../core/formats/tiff-write';

const dir = mkdtempSync(join(tmpdir(), 'tessel-read-into-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('readChannel decodes into a given array of the right dtype and size (the last channel\'s), else into a new one', async () => {
  const w = 300, h = 270; // more than one 256-px tile across and down
  const channels = [0, 1, 2].map((c) => ({ data: Uint16Array.from({ length: w * h }, (_, i) => (i * (c + 3)) % 65521), width: w, height: h }));
  const uri = join(dir, 'img.ome.tiff');
  await writeOmeTiff(uri, { channels, channelNames: ['a', 'b', 'c'], tileSize: 256 });
  const src = await openImage(uri);
  try {
    const first = await src.readChannel(0);
    const second = await src.readChannel(1, { into: first.data });
    expect(second.data).toBe(first.data);
    expect(Array.from(second.data as Uint16Array)).toEqual(Array.from(channels[1].data));
    const wrongSize = new Uint16Array(10);
    const third = await src.readChannel(2, { into: wrongSize });
    expect(third.data).not.toBe(wrongSize);
    const wrongType = new Float32Array(w * h);
    expect((await src.readChannel(2, { into: wrongType })).data).not.toBe(wrongType);
    expect(Array.from(third.data as Uint16Array)).toEqual(Array.from(channels[2].data));
  } finally {
    await src.close();
  }
});
