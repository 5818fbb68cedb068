import { getHeapStatistics } from 'node:v8';
import { openImageReader } from '../../../core/formats/image';
import { parseOmeXml } from '../../../core/formats/ome-xml';
import { encodeTiffPages } from '../../../core/formats/tiff-encode';
import { isSafeEntryName, readZip, writeZip } from '../../../core/formats/zip';
import { memoryReader } from '../../fuzz/targets';

/**
 * The limits the fuzzers forced (test/fuzz/regressions/README.md), each as a readable case: headers
 * cannot make the readers allocate what the data cannot back, and ZIP names cannot leave a folder.
 */
it('accepts only plain relative ZIP entry names', () => {
  for (const ok of ['a.npy', 'segmentation/model.onnx', 'dir/', 'a..b/c', '.hidden']) expect([ok, isSafeEntryName(ok)]).toEqual([ok, true]);
  for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a\\..\\x', 'C:x', 'a\0b', 'tab\there']) expect([bad, isSafeEntryName(bad)]).toEqual([bad, false]);
  const zip = writeZip([{ name: 'ok.txt', data: new Uint8Array(3) }, { name: '../escape.txt', data: new Uint8Array(3) }]);
  expect(() => readZip(zip, 'bundle.zip')).toThrow(/bundle\.zip: ZIP entry name "\.\.\/escape\.txt" is not a plain relative path/);
});

it('refuses a ZIP entry whose declared size Deflate cannot produce, before inflating', () => {
  const zip = writeZip([{ name: 'x.npy', data: new Uint8Array(4000) }]); // zeros deflate to a few bytes
  const v = new DataView(zip.buffer);
  const cd = zip.length - 22 - (46 + 'x.npy'.length);
  expect(v.getUint32(cd, true)).toBe(0x02014b50);
  v.setUint32(cd + 24, 0x7fffffff, true); // claims 2 GiB uncompressed
  const before = getHeapStatistics().external_memory;
  expect(() => readZip(zip, 'claim.npz')).toThrow(/claim\.npz: ZIP entry 'x\.npy' claims 2147483647 bytes from \d+ compressed bytes, more than Deflate can produce/);
  expect(getHeapStatistics().external_memory - before).toBeLessThan(16 * 2 ** 20);
});

it('refuses, at open, a strip whose stored bytes cannot decode to the size its header gives', async () => {
  const tiff = encodeTiffPages([{ plane: { data: new Uint16Array(64 * 4), width: 64, height: 4 }, sampleFormat: 1, compression: 'deflate' }]);
  // Claim a strip 2^20 pixels wide: the handful of deflated bytes cannot hold 8 MiB.
  const v = new DataView(tiff.buffer);
  const ifd = v.getUint32(4, true);
  for (let i = 0; i < v.getUint16(ifd, true); i++) {
    const e = ifd + 2 + i * 12;
    if (v.getUint16(e, true) === 256) {
      v.setUint16(e + 2, 4, true); // LONG
      v.setUint32(e + 8, 2 ** 20, true);
    }
  }
  await expect(openImageReader(memoryReader(tiff, 'wide.tif'), 'wide.tif'))
    .rejects.toThrow(/wide\.tif: strip 0 holds \d+ bytes of deflate data, which cannot decode to the 8388608 bytes its 1048576×4 strip needs/);
});

it('maps planes of an OME-XML claiming billions of them without allocating for each', () => {
  const xml = '<OME><Image><Pixels SizeX="8" SizeY="8" SizeC="4000000000" SizeZ="1000" SizeT="1000">'
    + '<TiffData IFD="0" PlaneCount="4000000000000000"/><TiffData FirstC="2" IFD="7" PlaneCount="1"/></Pixels></Image></OME>';
  const [img] = parseOmeXml(xml);
  expect([0, 1, 2, 3, 3999999999].map((c) => img.ifdOf(c, 0, 0))).toEqual([0, 1, 7, 3, 3999999999]);
});
