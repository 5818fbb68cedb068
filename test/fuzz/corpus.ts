import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNpz } from '../../core/formats/npz';
import { buildOmeXml } from '../../core/formats/ome-xml';
import { encodeLabelMaskTiff, encodeOmeTiff } from '../../core/formats/tiff-write';
import { writeZip } from '../../core/formats/zip';
import { encodeModelCollection } from '../../core/model/collection';
import { referenceMetadata } from '../../core/reference';
import { runPython } from '../helpers/python';
import type { Seed } from './mutate';

/**
 * Seed corpora for the fuzz targets, from the test fixtures: the TIFF corpus of
 * test/fixtures/make_tiff_corpus.py (tifffile, imagecodecs, libtiff's tiffcp), the small seeds of
 * test/fuzz/make_seeds.py (tifffile, numpy, zipfile), and files Tessel's own writers make (OME-TIFF,
 * label masks, NPZ, ZIP, model collections). Generated once into `.tessel/fuzz-seeds/<digest of the
 * scripts>/` and reused.
 */
export interface Corpus {
  tiff: Seed[];
  /** TIFF seeds by compression (`lzw`, `deflate`, `packbits`, `zstd`), with their chunks as payload ranges. */
  tiffBy: Record<string, Seed[]>;
  xml: string[];
  npz: Seed[];
  zip: Seed[];
  model: Seed[];
}

const ROOT = join(__dirname, '..', '..');
const SCRIPTS = [join(ROOT, 'test', 'fixtures', 'make_tiff_corpus.py'), join(__dirname, 'make_seeds.py')];

/**
 * Generates the seed files once (call it before starting fuzz threads, which must not race to write
 * them); returns their folder.
 */
export function prepareSeeds(): string {
  const digest = createHash('sha256').update(SCRIPTS.map((s) => readFileSync(s)).join('\0')).digest('hex').slice(0, 12);
  const dir = join(ROOT, '.tessel', 'fuzz-seeds', digest);
  if (!existsSync(join(dir, 'done'))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    runPython(SCRIPTS[0], [join(tmp, 'fixtures')], { stdio: ['ignore', 'pipe', 'pipe'] });
    runPython(SCRIPTS[1], [join(tmp, 'small')]);
    mkdirSync(join(tmp, 'done'));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return dir;
}

function files(dir: string, re: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p, re) : re.test(f) ? [p] : [];
  }).sort();
}

/** Offsets of a TIFF's header and directory-entry fields, its chunks, and their compression (a minimal independent walk). */
export function tiffStructure(b: Uint8Array): { hot: number[]; payload: [number, number][]; compression?: number; le: boolean } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = b[0] === 0x49;
  const big = v.getUint16(2, le) === 43;
  const hot = big ? [4, 8] : [4];
  const payload: [number, number][] = [];
  let compression: number | undefined;
  let at = big ? Number(v.getBigUint64(8, le)) : v.getUint32(4, le);
  const seen = new Set<number>();
  while (at > 0 && at + 8 < b.length && !seen.has(at) && seen.size < 64) {
    seen.add(at);
    const n = big ? Number(v.getBigUint64(at, le)) : v.getUint16(at, le);
    const base = at + (big ? 8 : 2);
    const size = big ? 20 : 12;
    const fields = new Map<number, { type: number; count: number; valueAt: number }>();
    for (let i = 0; i < n && base + (i + 1) * size <= b.length; i++) {
      const e = base + i * size;
      hot.push(e + 2, e + 4, e + (big ? 12 : 8)); // type, count, value/offset
      fields.set(v.getUint16(e, le), { type: v.getUint16(e + 2, le), count: big ? Number(v.getBigUint64(e + 4, le)) : v.getUint32(e + 4, le), valueAt: e + (big ? 12 : 8) });
    }
    const values = (tag: number): number[] => {
      const f = fields.get(tag);
      if (!f) return [];
      const width = f.type === 3 ? 2 : f.type === 16 ? 8 : 4;
      const inline = f.count * width <= (big ? 8 : 4);
      const start = inline ? f.valueAt : big ? Number(v.getBigUint64(f.valueAt, le)) : v.getUint32(f.valueAt, le);
      const out: number[] = [];
      for (let k = 0; k < Math.min(f.count, 4096) && start + (k + 1) * width <= b.length; k++) {
        out.push(width === 2 ? v.getUint16(start + k * 2, le) : width === 8 ? Number(v.getBigUint64(start + k * 8, le)) : v.getUint32(start + k * 4, le));
        if (!inline) hot.push(start + k * width);
      }
      return out;
    };
    compression ??= values(259)[0];
    const offsets = [...values(273), ...values(324)];
    const counts = [...values(279), ...values(325)];
    offsets.forEach((o, k) => counts[k] && o + counts[k] <= b.length && payload.push([o, o + counts[k]]));
    const next = base + n * size;
    if (next + (big ? 8 : 4) > b.length) break;
    hot.push(next);
    at = big ? Number(v.getBigUint64(next, le)) : v.getUint32(next, le);
  }
  return { hot, payload, compression, le };
}

/** Offsets of a ZIP's header fields (local, central and end records) and its entries' data. */
export function zipStructure(b: Uint8Array): { hot: number[]; payload: [number, number][] } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hot: number[] = [];
  const payload: [number, number][] = [];
  for (let p = 0; p + 4 <= b.length; p++) {
    if (b[p] !== 0x50 || b[p + 1] !== 0x4b) continue;
    const sig = v.getUint32(p, true);
    if (sig === 0x04034b50 && p + 30 <= b.length) {
      hot.push(p + 6, p + 8, p + 14, p + 18, p + 22, p + 26, p + 28);
      const start = p + 30 + v.getUint16(p + 26, true) + v.getUint16(p + 28, true);
      payload.push([start, Math.min(b.length, start + v.getUint32(p + 18, true))]);
    } else if (sig === 0x02014b50 && p + 46 <= b.length) hot.push(p + 8, p + 10, p + 16, p + 20, p + 24, p + 28, p + 30, p + 32, p + 42);
    else if (sig === 0x06054b50 && p + 22 <= b.length) hot.push(p + 8, p + 10, p + 12, p + 16, p + 20);
    else if (sig === 0x06064b50 && p + 56 <= b.length) hot.push(p + 24, p + 32, p + 40, p + 48);
    else if (sig === 0x07064b50 && p + 20 <= b.length) hot.push(p + 8, p + 16);
  }
  return { hot, payload };
}

const tiffSeed = (bytes: Uint8Array): Seed & { compression?: number } => {
  const s = tiffStructure(bytes);
  return { bytes, hot: s.hot, payload: s.payload, littleEndian: s.le, compression: s.compression };
};
const zipSeed = (bytes: Uint8Array): Seed => ({ bytes, ...zipStructure(bytes), littleEndian: true });

/** Builds (or reuses) the corpus. */
export function loadCorpus(): Corpus {
  const dir = prepareSeeds();
  const read = (f: string) => new Uint8Array(readFileSync(f));
  const ch = (w: number, h: number, k: number) => ({ data: Uint16Array.from({ length: w * h }, (_, i) => (i * k) & 0xffff), width: w, height: h });
  const own = [
    encodeOmeTiff({ channels: [ch(24, 10, 1), ch(24, 10, 3)], channelNames: ['DAPI', 'CD45'], physicalSizeX: 0.5, physicalSizeY: 0.5 }),
    encodeOmeTiff({ channels: [ch(40, 33, 1)], channelNames: ['x'], tileSize: 16, compression: 'none' }),
    encodeLabelMaskTiff({ data: Int32Array.from({ length: 20 * 12 }, (_, i) => i % 7), width: 20, height: 12 }),
  ];
  const smallFiles = files(join(dir, 'small', 'tiff'), /\.tiff?$/);
  const fixtureFiles = files(join(dir, 'fixtures'), /\.tiff?$/);
  const tiffFiles = [...smallFiles, ...fixtureFiles];
  // The fixtures (150×100 px and up) take 1–180 ms an execution against ~0.25 ms for the small seeds:
  // listing each small seed 24 times lets the fixtures add their variety at about a sixteenth of the draws.
  const small = [...smallFiles.map((f) => tiffSeed(read(f))), ...own.map(tiffSeed)];
  const tiff = [...Array.from({ length: 24 }, () => small).flat(), ...fixtureFiles.map((f) => tiffSeed(read(f)))];
  const byCode: Record<number, string> = { 5: 'lzw', 8: 'deflate', 32946: 'deflate', 32773: 'packbits', 50000: 'zstd' };
  const tiffBy: Record<string, Seed[]> = { lzw: [], deflate: [], packbits: [], zstd: [] };
  for (const s of tiff) if (s.compression !== undefined && byCode[s.compression] && s.payload.length) tiffBy[byCode[s.compression]].push(s);

  const xml = [
    buildOmeXml({ width: 8, height: 8, dtype: 'uint8', channelNames: ['DAPI', 'CD3'], physicalSizeX: 0.5, physicalSizeY: 0.5 }),
    buildOmeXml({ width: 8, height: 8, dtype: 'uint16', channelNames: ['a & <b>'] }),
  ];
  for (const f of tiffFiles) {
    const text = Buffer.from(read(f)).toString('latin1');
    const at = text.indexOf('<?xml');
    const end = text.indexOf('</OME>', at);
    if (at >= 0 && end > at) xml.push(Buffer.from(read(f).subarray(at, end + 6)).toString('utf8'));
  }

  const npzBytes = [
    ...files(join(dir, 'small', 'npz'), /\.npz$/).map(read),
    encodeNpz({ input_channels: { data: new Float32Array(6 * 4 * 2).map((_, i) => i / 7), shape: [6, 4, 2], dtype: 'float32' } }),
    encodeNpz({ a: { data: new Int32Array([1, -2, 3]), shape: [3], dtype: 'int32' }, b: { data: new Uint8Array(4), shape: [2, 2], dtype: 'uint8' } }, { compress: true }),
  ];
  const zipBytes = [
    ...files(join(dir, 'small', 'zip'), /\.zip$/).map(read),
    writeZip([{ name: 'a.txt', data: new TextEncoder().encode('hello '.repeat(30)) }, { name: 'b.bin', data: new Uint8Array(50).map((_, i) => i), compress: false }]),
    writeZip([{ name: 'z64.bin', data: new Uint8Array(100) }], { forceZip64: true }),
  ];
  const onnx = new Uint8Array(200).map((_, i) => (i * 37) & 0xff);
  const model = [encodeModelCollection(onnx, referenceMetadata('1.0.0+fuzz'))];
  return {
    tiff, tiffBy, xml,
    npz: npzBytes.map(zipSeed),
    zip: [...zipBytes, ...npzBytes.slice(0, 2), ...model].map(zipSeed),
    model: model.map(zipSeed),
  };
}
