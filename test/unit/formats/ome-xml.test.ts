import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage } from '../../../core/formats/image';
import { buildOmeXml, looksLikeOmeXml, parseOmeXml } from '../../../core/formats/ome-xml';
import { encodeTiffPages } from '../../../core/formats/tiff-encode';
import { parseXml } from '../../../core/formats/xml';

/**
 * OME-XML read through fast-xml-parser: what Tessel writes reads back, entities are decoded but a DTD's
 * never expanded, prefixed documents count as OME-XML, and a description that cannot be used is read as
 * a plain TIFF with a warning naming the file and why.
 */
const GOOD = buildOmeXml({ width: 32, height: 16, dtype: 'uint16', channelNames: ['DAPI', 'CD45 & "x" <µ>'], physicalSizeX: 0.5, physicalSizeY: 0.5 });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-omexml-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A two-page uint16 TIFF with `description` in the first page. */
function tiffWith(name: string, description: string): string {
  const plane = () => ({ data: new Uint16Array(32 * 16), width: 32, height: 16 });
  const p = join(dir, name);
  writeFileSync(p, encodeTiffPages([
    { plane: plane(), sampleFormat: 1, compression: 'none', description },
    { plane: plane(), sampleFormat: 1, compression: 'none' },
  ]));
  return p;
}

it('reads back what buildOmeXml writes, escaped names included', () => {
  const [img] = parseOmeXml(GOOD);
  expect(img.pixels).toMatchObject({ SizeX: 32, SizeY: 16, SizeC: 2, DimensionOrder: 'XYCZT' });
  expect(img.channelNames).toEqual(['DAPI', 'CD45 & "x" <µ>']);
  expect(img.physicalSizeX).toBe(0.5);
  expect([0, 1].map((c) => img.ifdOf(c, 0, 0))).toEqual([0, 1]);
  expect(img.warnings).toEqual([]);
});

it('decodes the predefined entities and character references, and keeps CDATA as text', () => {
  const doc = parseXml('<a t="&lt;&#181;&#xB5;&amp;amp;&bogus;">x<![CDATA[<y>]]>&gt;<!-- c --><b/></a>');
  const a = doc.children[0];
  expect(a.attrs.t).toBe('<µµ&amp;&bogus;');
  expect(a.text).toBe('x<y>>');
  expect(a.children.map((c) => c.name)).toEqual(['b']);
});

it('never expands entities a DTD declares', () => {
  const laughs = ['<!ENTITY l0 "ha">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`)].join('');
  const xml = `<?xml version="1.0"?><!DOCTYPE OME [${laughs}]><OME><Image Name="&l9;"><Pixels SizeX="4" SizeY="4"/></Image></OME>`;
  const [img] = parseOmeXml(xml);
  expect(img.name).toBe('&l9;');
  const small = parseOmeXml('<!DOCTYPE OME [<!ENTITY x "expanded">]><OME><Image Name="&x;"><Pixels SizeX="4" SizeY="4"/></Image></OME>');
  expect(small[0].name).toBe('&x;');
});

it('drops namespace prefixes, so ome:OME is OME-XML too', () => {
  const prefixed = GOOD.replace('<OME xmlns=', '<ome:OME xmlns:ome=').replace('</OME>', '</ome:OME>')
    .replace(/<(\/?)(Image|Pixels|Channel|TiffData|LightPath)\b/g, '<$1ome:$2');
  expect(prefixed).toContain('<ome:Pixels');
  expect(looksLikeOmeXml(prefixed)).toBe(true);
  expect(parseOmeXml(prefixed)[0].channelNames).toEqual(['DAPI', 'CD45 & "x" <µ>']);
  expect(looksLikeOmeXml('ImageJ=1.54f\nchannels=2\n')).toBe(false);
  expect(looksLikeOmeXml('<OMEGA/>')).toBe(false);
});

it('names the line and column of malformed XML', () => {
  expect(() => parseXml('<OME><Image Name="x></Image></OME>')).toThrow(/malformed XML at line 1, column \d+/);
  expect(() => parseXml('<OME><Image></Pixels></OME>')).toThrow(/closing tag/);
});

describe('an OME-TIFF whose OME-XML cannot be used', () => {
  it.each([
    ['truncated', GOOD.slice(0, 260), /malformed XML at line \d+, column \d+/],
    ['prefix-free but invalid', GOOD.replace('SizeX="32"', 'SizeX="-3"'), /SizeX/],
    ['without an Image', '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"></OME>', /no Image element/],
  ])('%s: read as a plain TIFF, with a warning naming the file and why', async (name, description, why) => {
    const file = tiffWith(`${name.replace(/\W+/g, '-')}.ome.tif`, description);
    const src = await openImage(file);
    try {
      expect(src.info.channels).toEqual(['Channel 0', 'Channel 1']);
      const warning = src.info.warnings.find((w) => w.includes('OME-XML'));
      expect(warning).toContain(file);
      expect(warning).toMatch(why);
      expect(warning).toMatch(/plain TIFF/);
    } finally {
      await src.close();
    }
  });

  it('a prefixed one that is fine is read as OME-TIFF (it used to be read as a plain TIFF without a word)', async () => {
    const prefixed = GOOD.replace('<OME xmlns=', '<ome:OME xmlns:ome=').replace('</OME>', '</ome:OME>');
    const src = await openImage(tiffWith('prefixed.ome.tif', prefixed));
    try {
      expect(src.info.channels).toEqual(['DAPI', 'CD45 & "x" <µ>']);
      expect(src.info.physicalSizeX).toBe(0.5);
      expect(src.info.warnings).toEqual([]);
    } finally {
      await src.close();
    }
  });
});
