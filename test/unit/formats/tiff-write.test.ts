import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLabelMaskTiff, encodeOmeTiff, writeLabelMask, writeOmeTiff } from '../../../core/formats/tiff-write';
import { runPython } from '../../helpers/python';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-tiffw-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Labels with negative, zero and values past 65,535 so a uint16 or unsigned misread would show. */
function labelMask(width: number, height: number): Int32Array {
  return Int32Array.from({ length: width * height }, (_, i) => ((i * 2654435761) % 200_003) - 3);
}

const CHECK_MASK = `
import tifffile, numpy as np, sys, json
t = tifffile.TiffFile(sys.argv[1]); p = t.pages[0]; a = p.asarray()
w, h = int(sys.argv[2]), int(sys.argv[3])
i = np.arange(w * h, dtype=np.int64)
exp = ((i * 2654435761) % 200003 - 3).astype(np.int32).reshape(h, w)
print(json.dumps({'bigtiff': t.is_bigtiff, 'tiled': p.is_tiled, 'tile': list(p.tile) if p.is_tiled else None,
  'compression': int(p.compression), 'predictor': int(p.predictor), 'dtype': str(a.dtype), 'equal': bool((a == exp).all()),
  'pages': len(t.pages), 'sampleformat': int(p.sampleformat)}))
`;

describe('encodeLabelMaskTiff read by tifffile', () => {
  it.each([
    ['small, strips', 300, 200, {}, { tiled: false, bigtiff: false }],
    ['wide, tiled 256', 2100, 70, {}, { tiled: true, bigtiff: false }],
    ['forced BigTIFF', 257, 130, { bigtiff: true }, { tiled: false, bigtiff: true }],
    ['explicit tiles, BigTIFF', 500, 300, { tileSize: 128, bigtiff: true }, { tiled: true, bigtiff: true }],
  ])('%s', (_, w, h, opts, expected) => {
    const path = join(dir, `mask-${w}x${h}.tif`);
    writeFileSync(path, encodeLabelMaskTiff({ data: labelMask(w, h), width: w, height: h }, opts));
    const r = JSON.parse(runPython(CHECK_MASK, [path, String(w), String(h)]));
    expect(r).toMatchObject({ ...expected, compression: 8, predictor: 1, dtype: 'int32', equal: true, pages: 1, sampleformat: 2 });
    if (expected.tiled) expect(r.tile).toEqual([(opts as { tileSize?: number }).tileSize ?? 256, (opts as { tileSize?: number }).tileSize ?? 256]);
  });

  it('libtiff (tiffinfo) accepts the mask as a valid signed 32-bit Deflate TIFF', () => {
    if (!existsSync('/usr/bin/tiffinfo')) return console.warn('tiffinfo not installed (apt-get install libtiff-tools); skipped');
    const path = join(dir, 'mask-libtiff.tif');
    writeFileSync(path, encodeLabelMaskTiff({ data: labelMask(2100, 40), width: 2100, height: 40 }));
    const info = execFileSync('/usr/bin/tiffinfo', ['-D', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(info).toMatch(/Tile Width: 256 Tile Length: 256/);
    expect(info).toMatch(/Bits\/Sample: 32/);
    expect(info).toMatch(/Sample Format: signed integer/);
    expect(info).toMatch(/Compression Scheme: AdobeDeflate/);
  });

  it('refuses data that does not match the size', () => {
    expect(() => encodeLabelMaskTiff({ data: new Int32Array(5), width: 2, height: 2 })).toThrow(/needs 4 pixels/);
  });
});

describe('encodeOmeTiff read by tifffile', () => {
  it.each([
    ['uint16', 'deflate', undefined],
    ['uint8', 'none', 64],
    ['float32', 'deflate', 32],
  ] as const)('%s, %s, tile %s', async (dtype, compression, tileSize) => {
    const w = 150, h = 90, names = ['DAPI', 'CD3 & <CD4>', 'Ki-67 µ'];
    const make = (values: number[]) => (dtype === 'uint16' ? Uint16Array.from(values) : dtype === 'uint8' ? Uint8Array.from(values) : Float32Array.from(values));
    const channels = names.map((_, c) => ({ data: make(Array.from({ length: w * h }, (_, i) => ((i * (c + 3)) % 251) + (dtype === 'float32' ? 0.25 : 0))), width: w, height: h }));
    const path = join(dir, `img-${dtype}.ome.tiff`);
    await writeOmeTiff(path, { channels, channelNames: names, physicalSizeX: 0.325, physicalSizeY: 0.65, compression, tileSize });
    expect(readdirSync(dir).filter((f) => f.startsWith('.tessel-tmp'))).toEqual([]);
    const r = JSON.parse(runPython(`
import tifffile, numpy as np, sys, json, xml.etree.ElementTree as ET
t = tifffile.TiffFile(sys.argv[1]); s = t.series[0]; a = s.asarray()
ns = {'o': 'http://www.openmicroscopy.org/Schemas/OME/2016-06'}
root = ET.fromstring(t.ome_metadata); px = root.find('.//o:Pixels', ns)
w, h = 150, 90
i = np.arange(w * h)
ok = all(bool((a[c] == (((i * (c + 3)) % 251) + (0.25 if a.dtype.kind == 'f' else 0)).astype(a.dtype).reshape(h, w)).all()) for c in range(3))
print(json.dumps({'is_ome': t.is_ome, 'axes': s.axes, 'shape': list(s.shape), 'dtype': str(a.dtype), 'equal': ok,
  'names': [c.get('Name') for c in px.findall('o:Channel', ns)], 'order': px.get('DimensionOrder'), 'sizeC': px.get('SizeC'),
  'psx': px.get('PhysicalSizeX'), 'psy': px.get('PhysicalSizeY'), 'unit': px.get('PhysicalSizeXUnit'),
  'tiffdata': len(px.findall('o:TiffData', ns)), 'tiled': t.pages[0].is_tiled, 'compression': int(t.pages[0].compression)}))
`, [path]));
    expect(r).toEqual({
      is_ome: true, axes: 'CYX', shape: [3, h, w], dtype, equal: true, names, order: 'XYCZT', sizeC: '3',
      psx: '0.325', psy: '0.65', unit: 'µm', tiffdata: 3, tiled: tileSize !== undefined, compression: compression === 'deflate' ? 8 : 1,
    });
  });

  it('refuses mixed dtypes and mismatched names', () => {
    const a = { data: new Uint16Array(4), width: 2, height: 2 };
    const b = { data: new Uint8Array(4), width: 2, height: 2 };
    expect(() => encodeOmeTiff({ channels: [a, b], channelNames: ['a', 'b'] })).toThrow(/channel 1 is uint8/);
    expect(() => encodeOmeTiff({ channels: [a], channelNames: ['a', 'b'] })).toThrow(/1 channels but 2 names/);
  });

  it('writeLabelMask writes atomically', async () => {
    const path = join(dir, 'sub', 'm.tiff');
    await writeLabelMask(path, { data: labelMask(20, 10), width: 20, height: 10 });
    expect(JSON.parse(runPython(CHECK_MASK, [path, '20', '10'])).equal).toBe(true);
  });
});

describe('reading several channels at once', () => {
  it('concurrent reads (sharing the pooled read and decode buffers) give the planes one-at-a-time reads give', async () => {
    const { openImage } = await import('../../../core/formats/image');
    const w = 700, h = 530;
    const channels = Array.from({ length: 6 }, (_, c) => ({ data: Uint16Array.from({ length: w * h }, (_, i) => ((i * (c + 7) * 2654435761) >>> 11) & 0xffff), width: w, height: h }));
    const path = join(dir, 'concurrent.ome.tif');
    await writeOmeTiff(path, { channels, channelNames: channels.map((_, c) => `c${c}`), tileSize: 64 });
    const img = await openImage(path);
    try {
      const together = await Promise.all(channels.map((_, c) => img.readChannel(c)));
      const regions = await Promise.all(channels.map((_, c) => img.readChannel(c, { region: { x: 33 * c, y: 17, width: 300, height: 200 } })));
      for (let c = 0; c < channels.length; c++) {
        expect(Buffer.from((together[c].data as Uint16Array).buffer).equals(Buffer.from(channels[c].data.buffer))).toBe(true);
        const alone = await img.readChannel(c, { region: { x: 33 * c, y: 17, width: 300, height: 200 } });
        expect(Buffer.from((regions[c].data as Uint16Array).buffer).equals(Buffer.from((alone.data as Uint16Array).buffer))).toBe(true);
        expect((alone.data as Uint16Array)[0]).toBe(channels[c].data[17 * w + 33 * c]);
      }
    } finally {
      await img.close();
    }
  });
});
