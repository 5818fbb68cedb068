import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { convert } from '../../../core/convert';
import { isTesselError } from '../../../core/errors';
import { openImage } from '../../../core/formats/image';
import { encodeOmeTiff } from '../../../core/formats/tiff-write';
import { formatCliError } from '../../../cli/output';
import { register as registerInspect } from '../../../cli/commands/inspect';
import { register as registerConvert } from '../../../cli/commands/convert';
import { runPython } from '../../helpers/python';

/**
 * Bad input: each case gives one TesselError naming the file and the cause, non-retryable, and
 * leaves no output file behind.
 */
let dir: string;
let good: Uint8Array;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-bad-'));
  const ch = (k: number) => ({ data: Uint16Array.from({ length: 300 * 200 }, (_, i) => (i * k) & 0xffff), width: 300, height: 200 });
  good = encodeOmeTiff({ channels: [ch(1), ch(3)], channelNames: ['DAPI', 'CD45'], tileSize: 64 });
  writeFileSync(join(dir, 'good.ome.tif'), good);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function put(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** Patches a little-endian uint32 wherever tag `tag`'s IFD entry stores its value/offset (first IFD). */
function patchFirstIfd(bytes: Uint8Array, tag: number, value: number, field: 'value' | 'type' = 'value'): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  const ifd = v.getUint32(4, true);
  const n = v.getUint16(ifd, true);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (v.getUint16(e, true) === tag) {
      if (field === 'type') v.setUint16(e + 2, value, true);
      else v.setUint32(e + 8, value, true);
      return out;
    }
  }
  throw new Error(`tag ${tag} not found`);
}

async function failure(uri: string): Promise<Error & { code?: string; retryable?: boolean }> {
  try {
    const src = await openImage(uri);
    try {
      for (let c = 0; c < src.info.channels.length; c++) await src.readChannel(c);
    } finally {
      await src.close();
    }
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error(`${uri} was read without error`);
}

describe('openImage refuses bad files with one clear, non-retryable error', () => {
  const cases: [string, () => Uint8Array, RegExp, string][] = [
    ['empty', () => new Uint8Array(0), /the file is empty/, 'INVALID_IMAGE'],
    ['not a TIFF (PNG)', () => new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]), /not a TIFF file \(starts with a PNG signature\)/, 'INVALID_IMAGE'],
    ['text', () => new TextEncoder().encode('hello, this is a text file\n'), /not a TIFF file/, 'INVALID_IMAGE'],
    ['truncated to the header', () => good.subarray(0, 8), /first IFD offset \d+ is outside the file/, 'INVALID_IMAGE'],
    ['truncated mid-pixels', () => good.subarray(0, Math.floor(good.length / 2)), /(runs past the end of the file|outside the file|truncated)/, 'INVALID_IMAGE'],
    ['IFD offset past the end', () => { const b = good.slice(); new DataView(b.buffer).setUint32(4, b.length + 1000, true); return b; }, /first IFD offset .* outside the file/, 'INVALID_IMAGE'],
    ['tile offsets past the end', () => {
      // Point the TileOffsets array at the very end of the file.
      return patchFirstIfd(good, 324, good.length - 4);
    }, /(past the end|truncated)/, 'INVALID_IMAGE'],
    ['unknown compression', () => patchFirstIfd(good, 259, 7), /compression 7 \(JPEG\) is not supported/, 'UNSUPPORTED_FORMAT'],
    ['made-up compression', () => patchFirstIfd(good, 259, 4242), /compression 4242 \(unknown\) is not supported/, 'UNSUPPORTED_FORMAT'],
    ['unsupported bit depth', () => patchFirstIfd(good, 258, 12), /12-bit samples/, 'UNSUPPORTED_FORMAT'],
  ];
  it.each(cases)('%s', async (name, make, message, code) => {
    const uri = put(`${name.replace(/\W+/g, '_')}.tif`, make());
    const err = await failure(uri);
    expect(isTesselError(err)).toBe(true);
    expect(err.message.startsWith(`${uri}: `)).toBe(true);
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/\n/);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(false);
  });

  it('a corrupt deflate tile is reported with its index', async () => {
    const b = good.slice();
    // The first tile's data starts right after the 8-byte header (the writer puts pixels first).
    for (let i = 8; i < 40; i++) b[i] ^= 0x5a;
    const err = await failure(put('corrupt-tile.tif', b));
    expect(err.message).toMatch(/tile 0 is corrupt \(deflate/);
    expect(err.code).toBe('INVALID_IMAGE');
  });

  it('a missing file is NOT_FOUND', async () => {
    const err = await failure(join(dir, 'missing.tif'));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toMatch(/missing\.tif/);
  });

  it('absurd dimensions are refused before allocating', async () => {
    const path = join(dir, 'huge.tif');
    // A hand-made BigTIFF: 100000×100000 uint16, 1024-px tiles that are all sparse (offset 0,
    // byte count 0), so the file is tiny but the image would need 18.6 GiB.
    runPython(`
import struct, sys
n = 98 * 98
entries = [(256, 4, 1, 100000), (257, 4, 1, 100000), (258, 3, 1, 16), (259, 3, 1, 1), (262, 3, 1, 1),
           (322, 3, 1, 1024), (323, 3, 1, 1024), (324, 16, n, None), (325, 16, n, None)]
ifd_size = 8 + len(entries) * 20 + 8
arrays = 16 + ifd_size
out = bytearray(b'II' + struct.pack('<HHHQ', 43, 8, 0, 16))
out += struct.pack('<Q', len(entries))
for k, (tag, typ, count, val) in enumerate(entries):
    out += struct.pack('<HHQ', tag, typ, count)
    out += struct.pack('<Q', arrays + (0 if tag == 324 else 8 * n)) if val is None else struct.pack('<Q', val)
out += struct.pack('<Q', 0)
out += bytes(16 * n)
open(sys.argv[1], 'wb').write(out)
`, [path]);
    const src = await openImage(path);
    expect(src.info.width).toBe(100000);
    await expect(src.readChannel(0)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    // A window of it is fine: only the tiles it touches are read (sparse tiles read as zeros).
    const window = await src.readChannel(0, { region: { x: 99_000, y: 50_000, width: 1000, height: 8 } });
    expect(window.data.length).toBe(8000);
    expect((window.data as Uint16Array).every((v) => v === 0)).toBe(true);
    await src.close();
    const out = join(dir, 'huge.npz');
    await expect(convert({ imageUri: path, outUri: out, nuclearChannels: [0], membraneChannels: [0] })).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect(existsSync(out)).toBe(false);
  });
});

describe('CLI: one line, non-zero exit, no output left behind', () => {
  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const program = new Command('tessel').option('--verbose').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    registerInspect(program);
    registerConvert(program);
    let stdout = '';
    const orig = process.stdout.write.bind(process.stdout);
    (process.stdout as unknown as { write: (s: string) => boolean }).write = (s: string) => ((stdout += s), true);
    try {
      await program.parseAsync(['node', 'tessel', ...args]);
      return { code: 0, stdout, stderr: '' };
    } catch (e) {
      return { code: 1, stdout, stderr: formatCliError(e, args.includes('--verbose')) };
    } finally {
      (process.stdout as unknown as { write: typeof orig }).write = orig;
    }
  }

  it('inspect --json prints the fields', async () => {
    const r = await cli(['inspect', '--json', join(dir, 'good.ome.tif')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ width: 300, height: 200, channels: ['DAPI', 'CD45'], dtype: 'uint16', physicalSizeX: null,
      physicalSizeY: null, levels: 1, tiled: true, compression: 'deflate', bigtiff: false });
  });

  it.each([
    ['truncated image', ['convert', 'TRUNC', '--out', 'OUT', '--nuclear-channels', 'DAPI', '--membrane-channels', 'CD45'], /runs past the end|truncated/],
    ['unknown channel', ['convert', 'GOOD', '--out', 'OUT', '--nuclear-channels', 'DAPI', '--membrane-channels', 'CD4'], /channel 'CD4' not found; available: 0:DAPI, 1:CD45/],
    ['channel index out of range', ['convert', 'GOOD', '--out', 'OUT', '--nuclear-channels', '5', '--membrane-channels', '1'], /channel '5' not found/],
  ])('%s', async (_, template, message) => {
    const outDir = join(dir, `out-${Math.random().toString(36).slice(2)}`);
    mkdirSync(outDir);
    const trunc = put('trunc.ome.tif', good.subarray(0, good.length - 2000));
    const args = template.map((a) => (a === 'TRUNC' ? trunc : a === 'GOOD' ? join(dir, 'good.ome.tif') : a === 'OUT' ? join(outDir, 'x.npz') : a));
    const r = await cli(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tessel: \/.*: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(readdirSync(outDir)).toEqual([]);
    const verbose = await cli([...args, '--verbose']);
    expect(verbose.stderr.split('\n').length).toBeGreaterThan(2);
  });

  it('convert writes the NPZ and sidecar numpy reads', async () => {
    const out = join(dir, 'ok', 'good.npz');
    const r = await cli(['convert', join(dir, 'good.ome.tif'), '--out', out, '--nuclear-channels', 'dapi', '--membrane-channels', '0,CD45', '--combine', 'max', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ width: 300, height: 200, nuclear: ['DAPI'], membrane: ['DAPI', 'CD45'], calibrated: false, umPerPixel: null });
    const sidecar = JSON.parse(readFileSync(join(dir, 'ok', 'good.json'), 'utf8'));
    expect(sidecar).toMatchObject({ source: join(dir, 'good.ome.tif'), combine: 'max', umPerPixel: null });
    expect(readdirSync(join(dir, 'ok')).sort()).toEqual(['good.json', 'good.npz']);
    // numpy + tifffile compute the same thing independently: nuclear = DAPI, membrane = max(DAPI, CD45).
    expect(runPython(`
import numpy as np, tifffile, sys
z = np.load(sys.argv[1]); img = tifffile.imread(sys.argv[2]).astype(np.float32)
a = z['input_channels']
want = np.stack([img[0], np.maximum(img[0], img[1])], axis=-1)
print(z.files, a.dtype, a.shape, bool(np.array_equal(a, want)))
`, [out, join(dir, 'good.ome.tif')]).trim()).toBe("['input_channels'] float32 (200, 300, 2) True");
  });
});
