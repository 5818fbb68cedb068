import { constants as zlibConstants, inflateRawSync } from 'node:zlib';
import { InvalidArrayError } from '../errors';
import { storeFor, type RangeReader } from '../storage';
import { StagedFile } from '../storage/staged-file';
import type { DType, NdArray, TypedArray } from './ndarray';
import { allocTyped, dtypeSize, npyArray, npyHeader, parseNpyHeader, type NpyHeader } from './npz';
import {
  crc32, findZipEnd, inflateZipEntry, parseZipDirectory, readZip64End, zipCentralDirectory, zipDataOffset, zipLocalHeader,
  zipLocalHeaderLength, ZIP_TAIL_BYTES, type ZipEntryInfo, type ZipEntryRecord,
} from './zip';

/**
 * `.npz` files read and written piece by piece, so a 4-head prediction (32 bytes/pixel) never sits in
 * memory twice: {@link NpzFile} reads one array, or one channel of one, straight from the file into its
 * typed array (ranged reads through the storage layer, CRC-32 checked as the bytes pass);
 * {@link NpzWriter} writes arrays row by row, several at once, into their places in the file.
 * Both produce and accept exactly what `np.savez` and `np.load` do (and `encodeNpz`/`decodeNpz`).
 */

/** Bytes read per call when an array is streamed (a channel taken out, or CRC checked as it goes). */
const CHUNK_BYTES = 8 * 1024 * 1024;

/** One array of an opened `.npz`. */
export interface NpzArrayInfo {
  name: string;
  dtype: DType;
  shape: number[];
}

interface Entry extends NpzArrayInfo {
  zip: ZipEntryInfo;
  /** Parsed header (stored entries only). */
  header?: NpyHeader;
  /** File offset of the entry's bytes (the `.npy` header). */
  start: number;
}

/** An `.npz` opened for reading by array: the ZIP directory and each `.npy` header are read at open. */
export class NpzFile {
  private constructor(readonly uri: string, private readonly reader: RangeReader, private readonly entries: Map<string, Entry>) {}

  /**
   * Opens an `.npz` (local path or gs://) and reads its directory and array headers.
   * @throws InvalidArrayError naming the file for a malformed archive or array header; NotFoundError when absent.
   */
  static async open(uri: string): Promise<NpzFile> {
    const reader = await storeFor(uri).openRange(uri);
    try {
      const size = await reader.size();
      const tailStart = Math.max(0, size - ZIP_TAIL_BYTES);
      const tail = await reader.read(tailStart, size - tailStart);
      const end = findZipEnd(tail, tailStart, size, uri);
      const dir = 'count' in end ? end : readZip64End(await reader.read(end.zip64RecordOffset, 56), uri);
      if (dir.cdOffset + dir.cdSize > size) throw new InvalidArrayError(uri, `not a valid ZIP archive: central directory (offset ${dir.cdOffset}, ${dir.cdSize} bytes) runs past the end of the file (${size} bytes)`);
      const zipEntries = parseZipDirectory(await reader.read(dir.cdOffset, dir.cdSize), dir.count, uri);
      const entries = new Map<string, Entry>();
      for (const zip of zipEntries) {
        const name = zip.name.endsWith('.npy') ? zip.name.slice(0, -4) : zip.name;
        const what = `${uri}[${zip.name}]`;
        const start = zipDataOffset(await reader.read(zip.localHeaderOffset, 30), zip, uri);
        if (start + zip.compressedSize > size) throw new InvalidArrayError(uri, `ZIP entry '${zip.name}' runs past the end of the file (truncated?)`);
        if (zip.method !== 0) {
          // Deflated (np.savez_compressed): inflate just enough of the start for the header; the data
          // is inflated when the array is read.
          const header = parseNpyHeader(await inflatedStart(reader, zip, start, uri), what);
          entries.set(name, { name, dtype: header.dtype, shape: header.shape, zip, start });
          continue;
        }
        // Stored: the data is the entry's bytes, so a size beyond them is a corrupt directory (refused
        // before an array of that size is allocated).
        if (zip.size !== zip.compressedSize) throw new InvalidArrayError(uri, `ZIP entry '${zip.name}' is stored with ${zip.compressedSize} bytes but claims ${zip.size} (corrupt)`);
        const header = parseNpyHeader(await readHeaderBytes(reader, start, zip.size), what);
        if (header.dataOffset + header.byteLength > zip.size) {
          throw new InvalidArrayError(what, `.npy data is truncated: shape [${header.shape.join(', ')}] needs ${header.byteLength} bytes, ${zip.size - header.dataOffset} present`);
        }
        entries.set(name, { name, dtype: header.dtype, shape: header.shape, zip, header, start });
      }
      return new NpzFile(uri, reader, entries);
    } catch (e) {
      await reader.close().catch(() => undefined);
      throw e;
    }
  }

  /** The arrays, in archive order. */
  get arrays(): NpzArrayInfo[] {
    return [...this.entries.values()].map(({ name, dtype, shape }) => ({ name, dtype, shape }));
  }

  /** An array's dtype and shape, or undefined when absent. */
  info(name: string): NpzArrayInfo | undefined {
    const e = this.entries.get(name);
    return e && { name: e.name, dtype: e.dtype, shape: e.shape };
  }

  /**
   * Reads one array whole. A stored little-endian C-order array is read straight into its typed array
   * (one copy, from the file); others are decoded as `decodeNpy` does.
   * @throws InvalidArrayError for a missing array, a CRC mismatch or truncated data.
   */
  async read(name: string): Promise<NdArray> {
    const e = this.entry(name);
    const h = e.header;
    if (!h || h.bigEndian || h.fortranOrder) return this.decodeWhole(e);
    const raw = new Uint8Array(new ArrayBuffer(h.byteLength));
    let crc = crc32(await this.reader.read(e.start, h.dataOffset));
    for (let at = 0; at < h.byteLength; at += CHUNK_BYTES) {
      const n = Math.min(CHUNK_BYTES, h.byteLength - at);
      const got = await this.reader.read(e.start + h.dataOffset + at, n, raw.subarray(at, at + n));
      if (got.length !== n) throw new InvalidArrayError(this.uri, `array '${name}' is truncated`);
      if (got.byteOffset !== at || got.buffer !== raw.buffer) raw.set(got, at);
      crc = crc32(raw.subarray(at, at + n), crc);
    }
    crc = await this.crcRest(e, h, crc);
    if (crc !== e.zip.crc) throw new InvalidArrayError(this.uri, `ZIP entry '${e.zip.name}' fails its CRC-32 check (corrupt)`);
    return npyArray(h, raw);
  }

  /**
   * Reads channel `channel` of the last axis of an array (shape [...rest, C]) as an array of shape
   * `rest`: e.g. the interior probability, channel 1 of a (1,H,W,3) pixelwise head, without holding the
   * other two channels. The whole entry is read in chunks and CRC checked.
   * @throws InvalidArrayError for a missing array, a channel out of range, a CRC mismatch or truncated data.
   */
  async readChannel(name: string, channel: number): Promise<NdArray> {
    const e = this.entry(name);
    const channels = e.shape[e.shape.length - 1];
    if (e.shape.length === 0 || !(channel >= 0 && channel < channels)) {
      throw new InvalidArrayError(this.uri, `array '${name}' of shape (${e.shape.join(',')}) has no channel ${channel} on its last axis`);
    }
    const rest = e.shape.slice(0, -1);
    const h = e.header;
    if (!h || h.bigEndian || h.fortranOrder) return takeChannel(await this.decodeWhole(e), channel, channels, rest);
    const size = h.itemSize;
    const count = h.byteLength / size / channels;
    const out = allocTyped(h.dtype, count, true);
    const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    // Whole pixels per chunk, so every chunk starts at channel 0.
    const pixelBytes = size * channels;
    const chunk = new Uint8Array(Math.max(pixelBytes, Math.floor(CHUNK_BYTES / pixelBytes) * pixelBytes));
    let crc = crc32(await this.reader.read(e.start, h.dataOffset));
    let o = 0;
    for (let at = 0; at < h.byteLength; at += chunk.length) {
      const n = Math.min(chunk.length, h.byteLength - at);
      const got = await this.reader.read(e.start + h.dataOffset + at, n, chunk);
      if (got.length !== n) throw new InvalidArrayError(this.uri, `array '${name}' is truncated`);
      crc = crc32(got, crc);
      o = copyChannel(got, outBytes, o, channel, channels, size);
    }
    crc = await this.crcRest(e, h, crc);
    if (crc !== e.zip.crc) throw new InvalidArrayError(this.uri, `ZIP entry '${e.zip.name}' fails its CRC-32 check (corrupt)`);
    return { data: out, shape: rest, dtype: h.dtype };
  }

  async close(): Promise<void> {
    await this.reader.close();
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new InvalidArrayError(this.uri, `no array '${name}' (found: ${[...this.entries.keys()].join(', ') || 'none'})`);
    return e;
  }

  /** Bytes of a stored entry after its data (numpy writes none), folded into the CRC. */
  private async crcRest(e: Entry, h: NpyHeader, crc: number): Promise<number> {
    const after = h.dataOffset + h.byteLength;
    return after < e.zip.size ? crc32(await this.reader.read(e.start + after, e.zip.size - after), crc) : crc;
  }

  private async decodeWhole(e: Entry): Promise<NdArray> {
    const what = `${this.uri}[${e.zip.name}]`;
    const bytes = await readEntry(this.reader, e.zip, e.start, this.uri);
    const h = parseNpyHeader(bytes, what);
    if (h.dataOffset + h.byteLength > bytes.length) {
      throw new InvalidArrayError(what, `.npy data is truncated: shape [${h.shape.join(', ')}] needs ${h.byteLength} bytes, ${bytes.length - h.dataOffset} present`);
    }
    return npyArray(h, bytes.slice(h.dataOffset, h.dataOffset + h.byteLength));
  }
}

/** Reads an entry's raw bytes and inflates (or copies) them, size and CRC checked. */
async function readEntry(reader: RangeReader, zip: ZipEntryInfo, start: number, file: string): Promise<Uint8Array> {
  const raw = await reader.read(start, zip.compressedSize);
  if (raw.length !== zip.compressedSize) throw new InvalidArrayError(file, `ZIP entry '${zip.name}' runs past the end of the file (truncated?)`);
  return inflateZipEntry(raw, zip, file);
}

/** The first inflated bytes of a deflated entry (enough for its `.npy` header), or all of it when short. */
async function inflatedStart(reader: RangeReader, zip: ZipEntryInfo, start: number, file: string): Promise<Uint8Array> {
  if (zip.method !== 8 || zip.compressedSize <= 65536) return readEntry(reader, zip, start, file);
  try {
    const head = inflateRawSync(await reader.read(start, 65536), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    return new Uint8Array(head.buffer, head.byteOffset, head.byteLength);
  } catch {
    return readEntry(reader, zip, start, file); // reports the corruption with the entry's name
  }
}

/** The `.npy` header of a stored entry: its first bytes, grown until the whole header is in. */
async function readHeaderBytes(reader: RangeReader, start: number, entrySize: number): Promise<Uint8Array> {
  let n = Math.min(entrySize, 4096);
  for (;;) {
    const bytes = await reader.read(start, n);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Version 1 has a 2-byte header length at 8, later versions 4 bytes; parse once it is all here.
    const need = bytes.length >= 12 ? (bytes[6] === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true)) : 12;
    if (need <= bytes.length || n >= entrySize) return bytes;
    n = Math.min(entrySize, need);
  }
}

/** Copies channel `channel` of every pixel in `src` (whole pixels) into `dst` from byte `o`; returns the next `o`. */
function copyChannel(src: Uint8Array, dst: Uint8Array, o: number, channel: number, channels: number, size: number): number {
  if (size === 4 && src.byteOffset % 4 === 0 && o % 4 === 0) {
    const s = new Uint32Array(src.buffer, src.byteOffset, src.length / 4);
    const d = new Uint32Array(dst.buffer, dst.byteOffset + o, (src.length / 4) / channels);
    for (let i = 0, j = channel; i < d.length; i++, j += channels) d[i] = s[j];
    return o + d.byteLength;
  }
  const pixelBytes = size * channels;
  for (let p = channel * size; p < src.length; p += pixelBytes) for (let b = 0; b < size; b++) dst[o++] = src[p + b];
  return o;
}

function takeChannel(a: NdArray, channel: number, channels: number, shape: number[]): NdArray {
  const count = a.data.length / channels;
  const out = allocTyped(a.dtype, count, true) as unknown as { [i: number]: number | bigint };
  const src = a.data as unknown as { [i: number]: number | bigint };
  for (let i = 0, j = channel; i < count; i++, j += channels) out[i] = src[j];
  return { data: out as unknown as TypedArray, shape, dtype: a.dtype };
}

/** The typed array each dtype is written from. */
const ARRAY_OF: Record<DType, string> = {
  uint8: 'Uint8Array', int8: 'Int8Array', bool: 'Uint8Array', uint16: 'Uint16Array', int16: 'Int16Array', uint32: 'Uint32Array',
  int32: 'Int32Array', float32: 'Float32Array', float64: 'Float64Array', int64: 'BigInt64Array', uint64: 'BigUint64Array',
};

/** One array an {@link NpzWriter} will write. */
export interface NpzArraySpec {
  name: string;
  dtype: DType;
  shape: number[];
}

interface Slot extends NpzArraySpec {
  record: ZipEntryRecord;
  header: Uint8Array;
  /** File offset of the array's first data byte. */
  dataStart: number;
  byteLength: number;
  written: number;
  crc: number;
}

/**
 * Writes an `.npz` of stored (uncompressed) arrays whose dtypes and shapes are known up front, each
 * appended piece by piece in C order, in any interleaving of arrays: every array has its place in the
 * file from the start, and its CRC-32 is carried along as its bytes arrive. The file is laid out byte
 * for byte as `encodeNpz` (and so `np.savez`) lays it out, in a temporary file published atomically
 * by {@link NpzWriter.commit}.
 */
export class NpzWriter {
  /** The file's size in bytes, once committed. */
  bytes = 0;

  private constructor(private readonly file: StagedFile, private readonly slots: Map<string, Slot>, private readonly cdOffset: number) {}

  /** Creates the temporary file for `arrays` (names unique, written as `<name>.npy`). */
  static async create(uri: string, arrays: NpzArraySpec[]): Promise<NpzWriter> {
    const slots = new Map<string, Slot>();
    let offset = 0;
    for (const a of arrays) {
      if (slots.has(a.name)) throw new Error(`NpzWriter: duplicate array name '${a.name}'`);
      const header = npyHeader(a.dtype, a.shape);
      const byteLength = a.shape.reduce((n, d) => n * d, 1) * dtypeSize(a.dtype);
      const record: ZipEntryRecord = { name: `${a.name}.npy`, method: 0, crc: 0, size: header.length + byteLength, compressedSize: header.length + byteLength, localHeaderOffset: offset };
      const dataStart = offset + zipLocalHeaderLength(record) + header.length;
      slots.set(a.name, { ...a, shape: [...a.shape], record, header, dataStart, byteLength, written: 0, crc: crc32(header) });
      offset = dataStart + byteLength;
    }
    return new NpzWriter(await StagedFile.create(uri), slots, offset);
  }

  /**
   * Appends the next elements of array `name` (C order). The bytes are written before the promise
   * resolves, so the caller may reuse `data` afterwards.
   * @throws Error for an unknown array, a wrong dtype, or more elements than its shape holds.
   */
  async append(name: string, data: TypedArray): Promise<void> {
    const s = this.slots.get(name);
    if (!s) throw new Error(`NpzWriter: no array '${name}'`);
    if (data.constructor.name !== ARRAY_OF[s.dtype]) throw new Error(`NpzWriter: '${name}' is ${s.dtype}, got ${data.constructor.name}`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (s.written + bytes.length > s.byteLength) throw new Error(`NpzWriter: '${name}' holds ${s.byteLength} bytes; ${s.written + bytes.length} written`);
    await this.file.writeAt(bytes, s.dataStart + s.written);
    s.crc = crc32(bytes, s.crc);
    s.written += bytes.length;
  }

  /**
   * Writes the ZIP headers and directory and publishes the file at its URI atomically.
   * @throws Error when an array is incomplete (nothing is published).
   */
  async commit(): Promise<void> {
    await this.file.commitAfter(async () => {
      for (const s of this.slots.values()) {
        if (s.written !== s.byteLength) throw new Error(`NpzWriter: '${s.name}' has ${s.written} of its ${s.byteLength} bytes`);
        s.record.crc = s.crc;
        const local = zipLocalHeader(s.record);
        await this.file.writeAt(local, s.record.localHeaderOffset);
        await this.file.writeAt(s.header, s.record.localHeaderOffset + local.length);
      }
      const directory = zipCentralDirectory([...this.slots.values()].map((s) => s.record), this.cdOffset);
      await this.file.writeAt(directory, this.cdOffset);
      this.bytes = this.cdOffset + directory.length;
    });
  }

  /** Drops the temporary file; nothing appears at the URI. */
  async abort(): Promise<void> {
    await this.file.abort();
  }
}
