import fc from 'fast-check';
import { resolve, sep } from 'node:path';
import { isTesselError } from '../../core/errors';
import { openImageReader } from '../../core/formats/image';
import { decodeNpz, dtypeSize, encodeNpy } from '../../core/formats/npz';
import { parseOmeXml } from '../../core/formats/ome-xml';
import { encodeTiffPages } from '../../core/formats/tiff-encode';
import { readZip, writeZip } from '../../core/formats/zip';
import { collectionEntriesFromBytes, sha256Hex, verifyModelCollection } from '../../core/model/collection';
import type { RangeReader } from '../../core/storage';
import type { Corpus } from './corpus';
import { applyMutations, mutationArbitrary } from './mutate';
import { xmlArbitrary } from './mutate';

/**
 * The fuzz targets: what each feeds its parser, and how it tells an expected refusal from a crash.
 * Every target runs the parser the way Tessel does (an image through `openImageReader` and windowed
 * channel reads, an NPZ through `decodeNpz`, a model collection through the same checks as
 * `loadModelCollection`) and returns the bytes of real output it produced, which bounds the memory
 * the harness allows it. Refusals must be Tessel's own errors (`isTesselError`); anything else — a
 * TypeError, a RangeError, a stack overflow — is a crash.
 */
export interface FuzzTarget<T = unknown> {
  name: string;
  what: string;
  arbitrary(corpus: Corpus): fc.Arbitrary<T>;
  /** Runs the parser; resolves with the bytes of real output (decoded pixels, arrays, entries). */
  exec(input: T): Promise<number>;
  /** The input as bytes (crash files, size-based memory bound). */
  bytes(input: T): Uint8Array;
  /** Rebuilds an input from crash-file bytes (regression replay). */
  fromBytes(bytes: Uint8Array): T;
}

/** A RangeReader over bytes in memory; reads return copies, as a file's would. */
export function memoryReader(bytes: Uint8Array, uri = 'fuzz.tif'): RangeReader {
  return {
    uri,
    size: async () => bytes.length,
    async read(offset, length, into) {
      const src = bytes.subarray(offset, offset + length);
      if (into && into.length >= src.length) {
        into.set(src);
        return into.subarray(0, src.length);
      }
      return src.slice();
    },
    close: async () => undefined,
  };
}

/**
 * Opens a TIFF from memory and reads up to three channels at the first and last level, windowed past
 * 256k pixels. Resolves with the bytes of the planes it asked for (the image's real dimensions, which
 * bound its memory), also when the file is refused midway; rethrows anything but Tessel's errors.
 */
export async function readImage(bytes: Uint8Array): Promise<number> {
  let out = 0;
  try {
    const src = await openImageReader(memoryReader(bytes), 'fuzz.tif');
    try {
      const { info } = src;
      const sampleBytes = dtypeSize(info.dtype);
      for (let c = 0; c < Math.min(info.channels.length, 3); c++) {
        for (const level of new Set([0, info.levels - 1])) {
          const { width, height } = await src.levelSize(level);
          const region = width * height <= 1 << 18 ? { x: 0, y: 0, width, height } : { x: 0, y: 0, width: Math.min(width, 64), height: Math.min(height, 64) };
          out += region.width * region.height * sampleBytes;
          await src.readChannel(c, { level, region });
        }
      }
    } finally {
      await src.close();
    }
  } catch (e) {
    refusal(e);
  }
  return out;
}

/** Tessel's errors are refusals; anything else is rethrown as a crash. */
export function refusal(e: unknown): 0 {
  if (isTesselError(e)) return 0;
  throw e;
}

const bytesTarget = (name: string, what: string, seeds: (c: Corpus) => Corpus['tiff'], payloadBias: number, exec: (b: Uint8Array) => Promise<number>): FuzzTarget<Uint8Array> => ({
  name, what,
  arbitrary: (c) => {
    const s = seeds(c);
    if (s.length === 0) throw new Error(`no seeds for fuzz target ${name}`);
    return mutationArbitrary().map((m) => applyMutations(s, m, payloadBias));
  },
  exec: (b) => exec(b).catch(refusal),
  bytes: (b) => b,
  fromBytes: (b) => b,
});

const image = (b: Uint8Array) => readImage(b);

/** A two-page 8×8 uint8 TIFF with `description` in its first page: OME-XML reaches the reader as it would from a file. */
function tiffWithDescription(description: string): Uint8Array {
  const plane = () => ({ data: new Uint8Array(64).map((_, i) => i), width: 8, height: 8 });
  return encodeTiffPages([
    { plane: plane(), sampleFormat: 1, compression: 'none', description },
    { plane: plane(), sampleFormat: 1, compression: 'none' },
  ]);
}

/** parseOmeXml refuses with these (layoutOf turns them into a warning); any other error is a crash. */
const OME_REFUSAL = /^(malformed XML|OME-XML )/;

const omeXml: FuzzTarget<string> = {
  name: 'ome-xml',
  what: 'OME-XML: parseOmeXml, then the same text as an OME-TIFF description through openImageReader',
  arbitrary: (c) => xmlArbitrary(c.xml),
  async exec(xml) {
    try {
      const images = parseOmeXml(xml, 'fuzz.ome.tif');
      for (const im of images) for (let c = 0; c < Math.min(im.planeChannels, 8); c++) im.ifdOf(c, 0, 0);
    } catch (e) {
      if (!(e instanceof Error) || !OME_REFUSAL.test(e.message)) throw e;
    }
    return readImage(tiffWithDescription(xml));
  },
  bytes: (s) => new TextEncoder().encode(s),
  fromBytes: (b) => new TextDecoder().decode(b),
};

/** Arrays: the NPZ as numpy writes it, mutated, or a generated `.npy` header (descr, order, shape) over too few or many bytes. */
const npz: FuzzTarget<Uint8Array> = {
  name: 'npz',
  what: 'NPZ/NPY: decodeNpz (ZIP entries, .npy headers of format 1–3, dtypes, Fortran order, byte order)',
  arbitrary: (c) => fc.oneof(
    mutationArbitrary().map((m) => applyMutations(c.npz, m, 0.3)),
    fc.record({
      descr: fc.constantFrom('<f4', '>f4', '|u1', '<i2', '>u2', '<i8', '<u8', '|b1', '<f8', '<c8', '|O', '<U3', 'f4', ''),
      fortran: fc.constantFrom('True', 'False', 'None'),
      shape: fc.array(fc.oneof(fc.nat(6), fc.constantFrom(0, 65536, 2 ** 31, 2 ** 53, 2 ** 60)), { maxLength: 5 }),
      extra: fc.constantFrom('', ', ', "'x': 1, ", ' }'),
      version: fc.constantFrom(1, 2, 3),
      data: fc.nat(300),
    }).map(({ descr, fortran, shape, extra, version, data }) => {
      const header = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), ${extra}}`.padEnd(118) + '\n';
      const head = new Uint8Array(version === 1 ? 10 : 12);
      head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
      new DataView(head.buffer).setUint16(8, header.length, true);
      if (version > 1) new DataView(head.buffer).setUint32(8, header.length, true);
      const npy = new Uint8Array(head.length + header.length + data);
      npy.set(head);
      npy.set(new TextEncoder().encode(header), head.length);
      return writeZip([{ name: 'x.npy', data: npy, compress: data % 2 === 0 }, { name: 'ok.npy', data: encodeNpy({ data: new Float32Array(2), shape: [2], dtype: 'float32' }) }]);
    }),
  ),
  async exec(b) {
    try {
      let out = 0;
      for (const a of decodeNpz(b, 'fuzz.npz').values()) out += a.data.byteLength;
      return out;
    } catch (e) {
      return refusal(e);
    }
  },
  bytes: (b) => b,
  fromBytes: (b) => b,
};

/** Whether an entry name, extracted under `root`, would land inside it. */
export function staysInside(root: string, name: string): boolean {
  const p = resolve(root, name);
  return p.startsWith(root + sep) && !name.includes('\0');
}

const zip: FuzzTarget<Uint8Array> = bytesTarget('zip', 'ZIP: readZip (central directory, ZIP64, stored/deflate, CRC); every name it returns stays inside a target folder', (c) => c.zip, 0.3, async (b) => {
  let out = 0;
  for (const [name, data] of readZip(b, 'fuzz.zip')) {
    if (!staysInside('/fuzz/target', name)) throw new Error(`zip slip: readZip returned the entry name '${name}', which escapes a target folder`);
    out += data.byteLength;
  }
  return out;
});

/** Model collections: the ZIP mutated, or valid ZIP and manifest around mutated metadata JSON (so the schema is what gets fuzzed). */
const model: FuzzTarget<Uint8Array> = {
  name: 'model-collection',
  what: 'model collections: ZIP + manifest checksums + model_metadata.json schema (collectionEntriesFromBytes, verifyModelCollection)',
  arbitrary: (c) => {
    const entries = readZip(c.model[0].bytes, 'seed');
    const metadata = JSON.parse(new TextDecoder().decode(entries.get('segmentation/model_metadata.json')!)) as Record<string, unknown>;
    const onnx = entries.get('segmentation/model.onnx')!;
    const jsonValue = fc.oneof(fc.constantFrom(null, -1, 0, 1e308, -0, '', 'x'.repeat(5000), [], {}, true, [null, null, null, null], { a: 1 }), fc.jsonValue({ maxDepth: 3 }));
    const edited = fc.record({ path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), value: jsonValue, drop: fc.boolean() }).map(({ path, value, drop }) => {
      const md = structuredClone(metadata) as Record<string, unknown>;
      let node: Record<string, unknown> = md;
      for (let k = 0; k < path.length; k++) {
        const keys = Object.keys(node);
        if (keys.length === 0) break;
        const key = keys[path[k] % keys.length];
        const child = node[key];
        if (k === path.length - 1 || typeof child !== 'object' || child === null) {
          if (drop) delete node[key];
          else node[key] = value;
          break;
        }
        node = child as Record<string, unknown>;
      }
      const text = new TextEncoder().encode(JSON.stringify(md));
      const manifest = { schemaVersion: 1, files: { 'segmentation/model.onnx': { sha256: sha256Hex(onnx), bytes: onnx.length }, 'segmentation/model_metadata.json': { sha256: sha256Hex(text), bytes: text.length } } };
      return writeZip([{ name: 'manifest.json', data: new TextEncoder().encode(JSON.stringify(manifest)) }, { name: 'segmentation/model.onnx', data: onnx }, { name: 'segmentation/model_metadata.json', data: text }]);
    });
    return fc.oneof(edited, mutationArbitrary().map((m) => applyMutations(c.model, m, 0.5)));
  },
  async exec(b) {
    try {
      const col = verifyModelCollection(collectionEntriesFromBytes(b, 'fuzz-model.zip'), 'fuzz-model.zip');
      return col.onnx.byteLength;
    } catch (e) {
      return refusal(e);
    }
  },
  bytes: (b) => b,
  fromBytes: (b) => b,
};

export const TARGETS: FuzzTarget[] = [
  bytesTarget('tiff-ifd', 'TIFF/BigTIFF structure: header, IFD chains, SubIFDs, tag types and counts, OME/ImageJ layout, windowed reads', (c) => c.tiff, 0, image),
  bytesTarget('tiff-lzw', 'TIFF LZW strips and tiles (with predictors)', (c) => c.tiffBy.lzw, 0.85, image),
  bytesTarget('tiff-deflate', 'TIFF Deflate strips and tiles (with predictors)', (c) => c.tiffBy.deflate, 0.85, image),
  bytesTarget('tiff-packbits', 'TIFF PackBits strips and tiles', (c) => c.tiffBy.packbits, 0.85, image),
  bytesTarget('tiff-zstd', 'TIFF Zstandard strips and tiles (with predictors)', (c) => c.tiffBy.zstd, 0.85, image),
  omeXml as FuzzTarget,
  npz as FuzzTarget,
  zip as FuzzTarget,
  model as FuzzTarget,
];

export function targetNamed(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target '${name}'; targets: ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}
