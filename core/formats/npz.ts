import { InvalidArrayError } from '../errors';
import { storeFor } from '../storage';
import type { DType, NdArray, TypedArray } from './ndarray';
import { listZip, extractZipEntry, writeZip } from './zip';

/**
 * numpy's `.npy` and `.npz` formats. `.npy` is a magic string, a Python-dict header
 * (`descr`, `fortran_order`, `shape`) padded so the data starts 64-byte aligned, then the raw data.
 * `.npz` is a ZIP of `<name>.npy` entries, stored (`np.savez`) or deflated (`np.savez_compressed`).
 *
 * Reference: numpy/lib/format.py ("A Simple File Format for NumPy Arrays", NEP 1), format versions 1.0–3.0.
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface DTypeSpec {
  dtype: DType;
  size: number;
  make: (buf: ArrayBuffer, length: number) => TypedArray;
}

/** numpy type characters (after the byte-order mark) to Tessel dtypes. */
const BY_CODE: Record<string, DTypeSpec> = {
  u1: { dtype: 'uint8', size: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  i1: { dtype: 'int8', size: 1, make: (b, n) => new Int8Array(b, 0, n) },
  b1: { dtype: 'bool', size: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  u2: { dtype: 'uint16', size: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  i2: { dtype: 'int16', size: 2, make: (b, n) => new Int16Array(b, 0, n) },
  u4: { dtype: 'uint32', size: 4, make: (b, n) => new Uint32Array(b, 0, n) },
  i4: { dtype: 'int32', size: 4, make: (b, n) => new Int32Array(b, 0, n) },
  f4: { dtype: 'float32', size: 4, make: (b, n) => new Float32Array(b, 0, n) },
  f8: { dtype: 'float64', size: 8, make: (b, n) => new Float64Array(b, 0, n) },
  i8: { dtype: 'int64', size: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
  u8: { dtype: 'uint64', size: 8, make: (b, n) => new BigUint64Array(b, 0, n) },
};

const DESCR: Record<DType, string> = {
  uint8: '|u1', int8: '|i1', bool: '|b1', uint16: '<u2', int16: '<i2', uint32: '<u4', int32: '<i4',
  float32: '<f4', float64: '<f8', int64: '<i8', uint64: '<u8',
};

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: DType): number {
  return BY_CODE[DESCR[dtype].slice(1)].size;
}

/**
 * Allocates a typed array of the dtype: zeroed, or with `uninitialized` left as the allocator found it
 * (for a caller that writes every element; skips zero-filling, and faulting in, a plane twice).
 */
export function allocTyped(dtype: DType, length: number, uninitialized = false): TypedArray {
  const spec = BY_CODE[DESCR[dtype].slice(1)];
  const bytes = length * spec.size;
  return spec.make(uninitialized ? Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer : new ArrayBuffer(bytes), length);
}

/**
 * Encodes an array as `.npy` (version 1.0, or 2.0 when the header passes 64 KiB), little-endian, C order.
 * @throws Error when `shape` does not match `data.length`.
 */
export function encodeNpy(a: NdArray): Uint8Array {
  const count = a.shape.reduce((n, d) => n * d, 1);
  if (count !== a.data.length) throw new Error(`encodeNpy: shape [${a.shape.join(', ')}] holds ${count} elements but data has ${a.data.length}`);
  const header = npyHeader(a.dtype, a.shape);
  const dataBytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const out = new Uint8Array(header.length + dataBytes.length);
  out.set(header, 0);
  out.set(dataBytes, header.length);
  return out;
}

/**
 * The `.npy` header (magic, version, dict, padding) of a little-endian C-order array, as numpy writes
 * it: version 1.0, or 2.0 when the dict passes 64 KiB; its length is a multiple of 64.
 */
export function npyHeader(dtype: DType, shape: readonly number[]): Uint8Array {
  if (!LITTLE_ENDIAN_HOST) throw new Error('encodeNpy: big-endian hosts are not supported');
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let lenBytes = 2;
  let version = 1;
  if (dict.length + 1 + 10 > 0xffff) {
    version = 2;
    lenBytes = 4;
  }
  const prefix = 6 + 2 + lenBytes;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - prefix - 1, ' ') + '\n';
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (lenBytes === 2) view.setUint16(8, dict.length, true);
  else view.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i);
  return out;
}

/** What a `.npy` header says. */
export interface NpyHeader {
  dtype: DType;
  shape: number[];
  /** Bytes per element. */
  itemSize: number;
  bigEndian: boolean;
  fortranOrder: boolean;
  /** Offset of the data from the start of the `.npy` bytes. */
  dataOffset: number;
  /** Bytes of data the shape needs. */
  byteLength: number;
}

/**
 * Parses a `.npy` header (versions 1.0–3.0) from the first bytes of the array (at least the whole header).
 * @throws InvalidArrayError naming `file` for a malformed header or an unsupported dtype.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  const bad = (cause: string): never => {
    throw new InvalidArrayError(file, cause);
  };
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) bad(bytes.length === 0 ? 'empty .npy data' : 'not a .npy array (bad magic string)');
  const major = bytes[6];
  if (major < 1 || major > 3) bad(`unsupported .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = lenBytes === 2 ? view.getUint16(8, true) : (bytes.length >= 12 ? view.getUint32(8, true) : bad('truncated .npy header'));
  const start = 8 + lenBytes;
  if (start + headerLen > bytes.length) bad('truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeMatch = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeMatch) bad(`malformed .npy header: ${header.trim().slice(0, 120)}`);
  const [, order, code] = descr!;
  const spec = BY_CODE[code];
  if (!spec) bad(`unsupported dtype '${order}${code}' (supported: ${Object.keys(BY_CODE).join(', ')})`);
  const shape = shapeMatch![1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    const n = Number(s.replace(/L$/, ''));
    return Number.isSafeInteger(n) && n >= 0 ? n : bad(`bad dimension '${s}' in .npy shape`);
  });
  const count = shape.reduce((n, d) => n * d, 1);
  return {
    dtype: spec.dtype, shape, itemSize: spec.size, bigEndian: order === '>' && spec.size > 1, fortranOrder: fortran![1] === 'True',
    dataOffset: start + headerLen, byteLength: count * spec.size,
  };
}

/** The most bytes a `.npy` header of version 1.0 can take (numpy's own arrays fit; 2.0 headers may be longer). */
export const NPY_V1_HEADER_MAX = 10 + 0xffff;

/**
 * Decodes a `.npy` (versions 1.0–3.0). Big-endian data is byte-swapped; Fortran-order data is
 * reordered to C order. The result owns a fresh, aligned buffer.
 * @throws InvalidArrayError naming `file` for a malformed header, an unsupported dtype or short data.
 */
export function decodeNpy(bytes: Uint8Array, file: string): NdArray {
  const h = parseNpyHeader(bytes, file);
  const { dataOffset, byteLength, shape } = h;
  if (dataOffset + byteLength > bytes.length) {
    throw new InvalidArrayError(file, `.npy data is truncated: shape [${shape.join(', ')}] needs ${byteLength} bytes, ${bytes.length - dataOffset} present`);
  }
  const buf = new ArrayBuffer(byteLength);
  const raw = new Uint8Array(buf);
  raw.set(bytes.subarray(dataOffset, dataOffset + byteLength));
  return npyArray(h, raw);
}

/**
 * The array of a parsed header over its raw data bytes (which it takes over: an aligned buffer of exactly
 * `byteLength` bytes at offset 0): big-endian data is swapped in place, Fortran order reordered to C.
 */
export function npyArray(h: NpyHeader, raw: Uint8Array): NdArray {
  const spec = BY_CODE[DESCR[h.dtype].slice(1)];
  if (h.bigEndian) byteSwap(raw, spec.size);
  const count = h.byteLength / spec.size;
  let data = spec.make(raw.buffer as ArrayBuffer, count);
  if (h.fortranOrder && h.shape.length > 1) data = fortranToC(data, h.shape, spec);
  return { data, shape: h.shape, dtype: h.dtype };
}

/**
 * Encodes arrays as `.npz`: one `<name>.npy` entry each, stored (default, like `np.savez`) or
 * deflated (`compress: true`, like `np.savez_compressed`).
 */
export function encodeNpz(arrays: Record<string, NdArray>, opts: { compress?: boolean } = {}): Uint8Array {
  return writeZip(Object.entries(arrays).map(([name, a]) => ({ name: `${name}.npy`, data: encodeNpy(a), compress: opts.compress === true })));
}

/**
 * Decodes a `.npz` into arrays keyed by name (the entry name without `.npy`, as `np.load` does).
 * @throws InvalidArrayError naming `file` for a malformed archive or array.
 */
export function decodeNpz(bytes: Uint8Array, file: string): Map<string, NdArray> {
  const out = new Map<string, NdArray>();
  for (const entry of listZip(bytes, file)) {
    const name = entry.name.endsWith('.npy') ? entry.name.slice(0, -4) : entry.name;
    const arr = extractZipEntry(bytes, entry, file);
    out.set(name, decodeNpy(arr, `${file}[${entry.name}]`));
  }
  return out;
}

/** Reads a `.npz` through the storage layer (local path or gs://). */
export async function readNpz(uri: string): Promise<Map<string, NdArray>> {
  return decodeNpz(await storeFor(uri).readAll(uri), uri);
}

/** Writes a `.npz` atomically through the storage layer. */
export async function writeNpz(uri: string, arrays: Record<string, NdArray>, opts: { compress?: boolean } = {}): Promise<void> {
  await storeFor(uri).writeAtomic(uri, encodeNpz(arrays, opts));
}

function byteSwap(raw: Uint8Array, size: number): void {
  for (let i = 0; i < raw.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = raw[a];
      raw[a] = raw[b];
      raw[b] = t;
    }
  }
}

/** Reorders column-major data to row-major by walking C order with an odometer over F-order strides. */
function fortranToC(src: TypedArray, shape: number[], spec: DTypeSpec): TypedArray {
  const n = shape.length;
  const count = src.length;
  const dst = spec.make(new ArrayBuffer(count * spec.size), count);
  const fStride = new Array<number>(n);
  let s = 1;
  for (let k = 0; k < n; k++) {
    fStride[k] = s;
    s *= shape[k];
  }
  const idx = new Array<number>(n).fill(0);
  const last = n - 1;
  const inner = shape[last];
  const innerStride = fStride[last];
  let base = 0; // F offset of idx with the last index 0
  const d = dst as unknown as { [i: number]: number | bigint };
  const sv = src as unknown as { [i: number]: number | bigint };
  for (let o = 0; o < count; o += inner) {
    for (let j = 0, f = base; j < inner; j++, f += innerStride) d[o + j] = sv[f];
    for (let k = last - 1; k >= 0; k--) {
      idx[k]++;
      base += fStride[k];
      if (idx[k] < shape[k]) break;
      base -= fStride[k] * shape[k];
      idx[k] = 0;
    }
  }
  return dst;
}
