import { InvalidImageError, UnsupportedFormatError } from '../errors';
import type { RangeReader } from '../storage';
import { FIELD_SIZE, FieldType, Tag } from './tiff-tags';

/**
 * TIFF and BigTIFF structure: header, IFD chain, SubIFDs and tag values, read by offset through a
 * {@link RangeReader} so nothing but the directories is loaded. Every offset is checked against the
 * file size, so a truncated or corrupt file fails with one clear {@link InvalidImageError}.
 *
 * References: TIFF 6.0 section 2; BigTIFF (bigtiff.org); Adobe TIFF Technical Note 1 (SubIFDs).
 */

/** One raw directory entry; `inline` holds the value bytes when they fit in the entry. */
export interface IfdEntry {
  tag: number;
  type: number;
  count: number;
  valueOffset: number;
  inline?: Uint8Array;
}

/** An image file directory: its entries by tag and helpers to read their values. */
export interface Ifd {
  offset: number;
  entries: Map<number, IfdEntry>;
  nextOffset: number;
}

/** Reads of at most this many bytes go through the block cache. */
const SMALL_READ = 4096;
const BLOCK = 64 * 1024;
const MAX_BLOCKS = 16;

/** A TIFF file opened for structure reading. */
export class TiffFile {
  private constructor(
    readonly reader: RangeReader,
    readonly uri: string,
    readonly size: number,
    readonly littleEndian: boolean,
    readonly bigtiff: boolean,
    readonly firstIfdOffset: number,
  ) {}

  /** Reads and checks the header. */
  static async open(reader: RangeReader, uri: string): Promise<TiffFile> {
    const size = await reader.size();
    if (size === 0) throw new InvalidImageError(uri, 'the file is empty');
    const head = await reader.read(0, Math.min(16, size));
    if (head.length < 8) throw new InvalidImageError(uri, `not a TIFF file (only ${head.length} bytes)`);
    const bom = String.fromCharCode(head[0], head[1]);
    if (bom !== 'II' && bom !== 'MM') throw new InvalidImageError(uri, `not a TIFF file (starts with ${describeMagic(head)})`);
    const le = bom === 'II';
    const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const version = v.getUint16(2, le);
    let first: number;
    let big = false;
    if (version === 42) {
      first = v.getUint32(4, le);
    } else if (version === 43) {
      if (head.length < 16) throw new InvalidImageError(uri, 'truncated BigTIFF header');
      if (v.getUint16(4, le) !== 8) throw new InvalidImageError(uri, `BigTIFF with offset size ${v.getUint16(4, le)} (expected 8)`);
      first = toSafe(v.getBigUint64(8, le), uri);
      big = true;
    } else {
      throw new InvalidImageError(uri, `not a TIFF file (version ${version}, expected 42 or 43)`);
    }
    if (first < 8 || first >= size) throw new InvalidImageError(uri, `first IFD offset ${first} is outside the file (${size} bytes; truncated?)`);
    return new TiffFile(reader, uri, size, le, big, first);
  }

  /**
   * Reads `length` bytes at `offset`, failing clearly when that range is not in the file; into `into`
   * when given and large enough (see {@link RangeReader.read}).
   */
  async bytes(offset: number, length: number, what: string, into?: Uint8Array): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new InvalidImageError(this.uri, `${what} (offset ${offset}, ${length} bytes) runs past the end of the file (${this.size} bytes; truncated or corrupt)`);
    }
    const block = Math.floor(offset / BLOCK);
    if (length <= SMALL_READ && Math.floor((offset + length - 1) / BLOCK) === block) {
      // Tags and IFDs are many small reads close together: serve them from cached 64 KiB blocks
      // (48 reads → 10 to open an 8-channel OME-TIFF; on gs:// each read is an HTTP request).
      const data = await this.block(block);
      const from = offset - block * BLOCK;
      if (from + length > data.length) throw new InvalidImageError(this.uri, `${what}: short read at offset ${offset} (file truncated?)`);
      return data.subarray(from, from + length);
    }
    const b = await this.reader.read(offset, length, into);
    if (b.length !== length) throw new InvalidImageError(this.uri, `${what}: short read at offset ${offset} (file truncated?)`);
    return b;
  }

  private readonly blocks = new Map<number, Promise<Uint8Array>>();

  private block(index: number): Promise<Uint8Array> {
    let p = this.blocks.get(index);
    if (p) {
      this.blocks.delete(index);
      this.blocks.set(index, p); // most recently used last
      return p;
    }
    p = this.reader.read(index * BLOCK, Math.min(BLOCK, this.size - index * BLOCK));
    p.catch(() => this.blocks.delete(index));
    this.blocks.set(index, p);
    if (this.blocks.size > MAX_BLOCKS) this.blocks.delete(this.blocks.keys().next().value!);
    return p;
  }

  /** Reads one IFD at `offset`. */
  async readIfd(offset: number): Promise<Ifd> {
    const big = this.bigtiff;
    const le = this.littleEndian;
    const countSize = big ? 8 : 2;
    const entrySize = big ? 20 : 12;
    const head = await this.bytes(offset, countSize, 'IFD');
    const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const n = big ? toSafe(hv.getBigUint64(0, le), this.uri) : hv.getUint16(0, le);
    if (n === 0 || n > 4096) throw new InvalidImageError(this.uri, `IFD at offset ${offset} claims ${n} entries (corrupt)`);
    const body = await this.bytes(offset + countSize, n * entrySize + (big ? 8 : 4), `IFD at offset ${offset}`);
    const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const entries = new Map<number, IfdEntry>();
    for (let i = 0; i < n; i++) {
      const p = i * entrySize;
      const tag = v.getUint16(p, le);
      const type = v.getUint16(p + 2, le);
      const count = big ? toSafe(v.getBigUint64(p + 4, le), this.uri) : v.getUint32(p + 4, le);
      const slot = big ? 8 : 4;
      const valueAt = p + (big ? 12 : 8);
      const size = FIELD_SIZE[type];
      if (size === undefined) continue; // unknown field types must be skipped (TIFF 6.0 section 2)
      const bytes = size * count;
      if (bytes <= slot) {
        entries.set(tag, { tag, type, count, valueOffset: offset + countSize + valueAt, inline: body.slice(valueAt, valueAt + bytes) });
      } else {
        const valueOffset = big ? toSafe(v.getBigUint64(valueAt, le), this.uri) : v.getUint32(valueAt, le);
        entries.set(tag, { tag, type, count, valueOffset });
      }
    }
    const nextOffset = big ? toSafe(v.getBigUint64(n * entrySize, le), this.uri) : v.getUint32(n * entrySize, le);
    return { offset, entries, nextOffset };
  }

  /** Reads the whole top-level IFD chain, refusing loops and absurd page counts. */
  async readChain(start = this.firstIfdOffset, limit = 1_000_000): Promise<Ifd[]> {
    const out: Ifd[] = [];
    const seen = new Set<number>();
    let at = start;
    while (at !== 0) {
      if (seen.has(at)) throw new InvalidImageError(this.uri, `IFD chain loops back to offset ${at} (corrupt)`);
      if (out.length >= limit) throw new UnsupportedFormatError(this.uri, `more than ${limit} pages`);
      if (at >= this.size) {
        // A dangling next-IFD pointer after good pages is a common writer bug; the pages before it are fine.
        if (out.length > 0) break;
        throw new InvalidImageError(this.uri, `IFD offset ${at} is past the end of the file (${this.size} bytes; truncated?)`);
      }
      seen.add(at);
      const ifd = await this.readIfd(at);
      out.push(ifd);
      at = ifd.nextOffset;
    }
    return out;
  }

  /** Numeric values of a tag (integers and rationals as numbers), or undefined when absent. */
  async numbers(ifd: Ifd, tag: number): Promise<number[] | undefined> {
    const e = ifd.entries.get(tag);
    if (!e) return undefined;
    const size = FIELD_SIZE[e.type];
    const raw = e.inline ?? (await this.bytes(e.valueOffset, size * e.count, `values of tag ${tag}`));
    return decodeNumbers(raw, e.type, e.count, this.littleEndian, this.uri);
  }

  /** First numeric value of a tag, or `fallback`. */
  async number(ifd: Ifd, tag: number, fallback: number): Promise<number>;
  async number(ifd: Ifd, tag: number): Promise<number | undefined>;
  async number(ifd: Ifd, tag: number, fallback?: number): Promise<number | undefined> {
    const v = await this.numbers(ifd, tag);
    return v && v.length > 0 ? v[0] : fallback;
  }

  /** An ASCII tag as text (UTF-8 tolerated, as OME-TIFF writers use it), without trailing NULs. */
  async text(ifd: Ifd, tag: number): Promise<string | undefined> {
    const e = ifd.entries.get(tag);
    if (!e || (e.type !== FieldType.ASCII && e.type !== FieldType.BYTE && e.type !== FieldType.UNDEFINED)) return undefined;
    const raw = e.inline ?? (await this.bytes(e.valueOffset, e.count, `text of tag ${tag}`));
    let end = raw.length;
    while (end > 0 && raw[end - 1] === 0) end--;
    const body = raw.subarray(0, end);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      return new TextDecoder('latin1').decode(body);
    }
  }
}

function decodeNumbers(raw: Uint8Array, type: number, count: number, le: boolean, uri: string): number[] {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Array<number>(count);
  switch (type) {
    case FieldType.BYTE: case FieldType.UNDEFINED: case FieldType.ASCII:
      for (let i = 0; i < count; i++) out[i] = v.getUint8(i);
      break;
    case FieldType.SBYTE:
      for (let i = 0; i < count; i++) out[i] = v.getInt8(i);
      break;
    case FieldType.SHORT:
      for (let i = 0; i < count; i++) out[i] = v.getUint16(i * 2, le);
      break;
    case FieldType.SSHORT:
      for (let i = 0; i < count; i++) out[i] = v.getInt16(i * 2, le);
      break;
    case FieldType.LONG: case FieldType.IFD:
      for (let i = 0; i < count; i++) out[i] = v.getUint32(i * 4, le);
      break;
    case FieldType.SLONG:
      for (let i = 0; i < count; i++) out[i] = v.getInt32(i * 4, le);
      break;
    case FieldType.RATIONAL:
      for (let i = 0; i < count; i++) out[i] = v.getUint32(i * 8, le) / v.getUint32(i * 8 + 4, le);
      break;
    case FieldType.SRATIONAL:
      for (let i = 0; i < count; i++) out[i] = v.getInt32(i * 8, le) / v.getInt32(i * 8 + 4, le);
      break;
    case FieldType.FLOAT:
      for (let i = 0; i < count; i++) out[i] = v.getFloat32(i * 4, le);
      break;
    case FieldType.DOUBLE:
      for (let i = 0; i < count; i++) out[i] = v.getFloat64(i * 8, le);
      break;
    case FieldType.LONG8: case FieldType.IFD8:
      for (let i = 0; i < count; i++) out[i] = toSafe(v.getBigUint64(i * 8, le), uri);
      break;
    case FieldType.SLONG8:
      for (let i = 0; i < count; i++) out[i] = Number(v.getBigInt64(i * 8, le));
      break;
    default:
      throw new UnsupportedFormatError(uri, `TIFF field type ${type}`);
  }
  return out;
}

function toSafe(v: bigint, uri: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidImageError(uri, `offset or count ${v} is too large (corrupt)`);
  return Number(v);
}

/** A short description of a non-TIFF file's first bytes, to say what it looks like instead. */
function describeMagic(head: Uint8Array): string {
  const ascii = String.fromCharCode(...head.subarray(0, 8));
  if (head[0] === 0x89 && ascii.slice(1, 4) === 'PNG') return 'a PNG signature';
  if (head[0] === 0xff && head[1] === 0xd8) return 'a JPEG signature';
  if (ascii.startsWith('PK')) return 'a ZIP signature';
  if (head[0] === 0x93 && ascii.slice(1, 6) === 'NUMPY') return 'a NumPy .npy signature';
  return `bytes ${Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}

export { Tag };
