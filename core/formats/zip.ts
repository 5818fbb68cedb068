import { kMaxLength } from 'node:buffer';
import { crc32 as zlibCrc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { InvalidArrayError } from '../errors';

/**
 * A minimal ZIP reader and writer: stored (method 0) and deflate (method 8) entries, CRC-32 checked,
 * ZIP64 for archives past 4 GiB or 65,535 entries. Enough for numpy's `.npz` (which always writes
 * ZIP64 local headers) and for model-collection bundles.
 *
 * Reference: PKWARE APPNOTE.TXT 6.3.10, sections 4.3 (structure), 4.4 (fields), 4.5.3 (ZIP64 extra).
 */

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;
/** Bit 11 of the general-purpose flags: the name is UTF-8. */
const FLAG_UTF8 = 0x0800;
const FLAG_ENCRYPTED = 0x0001;

/** CRC-32 (ISO-HDLC, as ZIP uses) of `data`; node:zlib's native one. */
export function crc32(data: Uint8Array, previous = 0): number {
  return zlibCrc32(data, previous) >>> 0;
}

/** One entry to write. `compress` (default true) deflates it unless deflate does not make it smaller. */
export interface ZipEntryInput {
  name: string;
  data: Uint8Array;
  compress?: boolean;
}

export interface WriteZipOptions {
  /** Write ZIP64 records even when not needed (used by tests; numpy does this for every entry). */
  forceZip64?: boolean;
  /**
   * Entry timestamps. Default: 1980-01-01 00:00 (the earliest DOS time), so the same arrays always give
   * the same bytes and a retried or re-run write is byte-identical.
   */
  mtime?: Date;
}

/**
 * Builds a ZIP archive in memory. Entries keep their order; names must be unique.
 * ZIP64 records are written only when sizes, offsets or the entry count need them (or forced).
 */
export function writeZip(entries: ZipEntryInput[], opts: WriteZipOptions = {}): Uint8Array {
  const seen = new Set<string>();
  const parts: Uint8Array[] = [];
  const records: ZipEntryRecord[] = [];
  let offset = 0;
  for (const entry of entries) {
    if (seen.has(entry.name)) throw new Error(`writeZip: duplicate entry name '${entry.name}'`);
    seen.add(entry.name);
    let method = 0;
    let payload = entry.data;
    if (entry.compress !== false && entry.data.length > 0) {
      const deflated = deflateRawSync(entry.data, { level: 6 });
      if (deflated.length < entry.data.length) {
        method = 8;
        payload = deflated;
      }
    }
    const record: ZipEntryRecord = { name: entry.name, method, crc: crc32(entry.data), size: entry.data.length, compressedSize: payload.length, localHeaderOffset: offset };
    const local = zipLocalHeader(record, opts);
    parts.push(local, payload);
    records.push(record);
    offset += local.length + payload.length;
  }
  return concat([...parts, zipCentralDirectory(records, offset, opts)]);
}

/** What the ZIP headers say about one entry (see {@link zipLocalHeader}, {@link zipCentralDirectory}). */
export interface ZipEntryRecord {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  crc: number;
  size: number;
  compressedSize: number;
  localHeaderOffset: number;
}

/** Whether an entry needs ZIP64 fields (or they are forced). */
function needsZip64(r: ZipEntryRecord, opts: WriteZipOptions): boolean {
  return opts.forceZip64 === true || r.size >= U32_MAX || r.compressedSize >= U32_MAX || r.localHeaderOffset >= U32_MAX;
}

/** Byte length of an entry's local header, so a streaming writer can place data before knowing the CRC. */
export function zipLocalHeaderLength(r: Omit<ZipEntryRecord, 'crc'>, opts: WriteZipOptions = {}): number {
  return 30 + Buffer.byteLength(r.name, 'utf8') + (needsZip64({ ...r, crc: 0 }, opts) ? 20 : 0);
}

/** An entry's local header; with ZIP64 both sizes move to the extra field (APPNOTE 4.5.3 requires both). */
export function zipLocalHeader(r: ZipEntryRecord, opts: WriteZipOptions = {}): Uint8Array {
  const name = Buffer.from(r.name, 'utf8');
  const zip64 = needsZip64(r, opts);
  const { time, date } = dosDateTime(opts.mtime ?? new Date(1980, 0, 1));
  const extra = zip64 ? zip64Extra([r.size, r.compressedSize]) : new Uint8Array(0);
  const out = new Uint8Array(30 + name.length + extra.length);
  const local = new DataView(out.buffer);
  local.setUint32(0, SIG_LOCAL, true);
  local.setUint16(4, zip64 ? 45 : 20, true);
  local.setUint16(6, entryFlags(r.name), true);
  local.setUint16(8, r.method, true);
  local.setUint16(10, time, true);
  local.setUint16(12, date, true);
  local.setUint32(14, r.crc, true);
  local.setUint32(18, zip64 ? U32_MAX : r.compressedSize, true);
  local.setUint32(22, zip64 ? U32_MAX : r.size, true);
  local.setUint16(26, name.length, true);
  local.setUint16(28, extra.length, true);
  out.set(name, 30);
  out.set(extra, 30 + name.length);
  return out;
}

/** The central directory and end records of an archive whose entries end at `cdOffset`. */
export function zipCentralDirectory(records: ZipEntryRecord[], cdOffset: number, opts: WriteZipOptions = {}): Uint8Array {
  const { time, date } = dosDateTime(opts.mtime ?? new Date(1980, 0, 1));
  const central: Uint8Array[] = [];
  for (const r of records) {
    const name = Buffer.from(r.name, 'utf8');
    const zip64 = needsZip64(r, opts);
    const version = zip64 ? 45 : 20;
    const centralExtra = zip64 ? zip64Extra([r.size, r.compressedSize, r.localHeaderOffset]) : new Uint8Array(0);
    const cd = new DataView(new ArrayBuffer(46));
    cd.setUint32(0, SIG_CENTRAL, true);
    cd.setUint16(4, (3 << 8) | version, true); // made by: Unix
    cd.setUint16(6, version, true);
    cd.setUint16(8, entryFlags(r.name), true);
    cd.setUint16(10, r.method, true);
    cd.setUint16(12, time, true);
    cd.setUint16(14, date, true);
    cd.setUint32(16, r.crc, true);
    cd.setUint32(20, zip64 ? U32_MAX : r.compressedSize, true);
    cd.setUint32(24, zip64 ? U32_MAX : r.size, true);
    cd.setUint16(28, name.length, true);
    cd.setUint16(30, centralExtra.length, true);
    cd.setUint16(32, 0, true); // comment length
    cd.setUint16(34, 0, true); // disk number
    cd.setUint16(36, 0, true); // internal attributes
    cd.setUint32(38, (0o100644 << 16) >>> 0, true); // external attributes: regular file, rw-r--r--
    cd.setUint32(42, zip64 ? U32_MAX : r.localHeaderOffset, true);
    central.push(new Uint8Array(cd.buffer), name, centralExtra);
  }
  const cdSize = central.reduce((n, p) => n + p.length, 0);
  const count = records.length;
  const needZip64End = opts.forceZip64 === true || count >= U16_MAX || cdOffset >= U32_MAX || cdSize >= U32_MAX;
  const tail: Uint8Array[] = [];
  if (needZip64End) {
    const rec = new DataView(new ArrayBuffer(56));
    rec.setUint32(0, SIG_ZIP64_EOCD, true);
    rec.setBigUint64(4, 44n, true); // size of the remaining record
    rec.setUint16(12, (3 << 8) | 45, true);
    rec.setUint16(14, 45, true);
    rec.setUint32(16, 0, true);
    rec.setUint32(20, 0, true);
    rec.setBigUint64(24, BigInt(count), true);
    rec.setBigUint64(32, BigInt(count), true);
    rec.setBigUint64(40, BigInt(cdSize), true);
    rec.setBigUint64(48, BigInt(cdOffset), true);
    const loc = new DataView(new ArrayBuffer(20));
    loc.setUint32(0, SIG_ZIP64_LOCATOR, true);
    loc.setUint32(4, 0, true);
    loc.setBigUint64(8, BigInt(cdOffset + cdSize), true);
    loc.setUint32(16, 1, true);
    tail.push(new Uint8Array(rec.buffer), new Uint8Array(loc.buffer));
  }
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, SIG_EOCD, true);
  end.setUint16(8, Math.min(count, U16_MAX), true);
  end.setUint16(10, Math.min(count, U16_MAX), true);
  end.setUint32(12, Math.min(cdSize, U32_MAX), true);
  end.setUint32(16, Math.min(cdOffset, U32_MAX), true);
  tail.push(new Uint8Array(end.buffer));
  return concat([...central, ...tail]);
}

function entryFlags(name: string): number {
  return /[^\x20-\x7e]/.test(name) ? FLAG_UTF8 : 0;
}

/** One entry as listed in the central directory. */
export interface ZipEntryInfo {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/**
 * Lists a ZIP archive's entries from its central directory (ZIP64 aware).
 * Throws {@link InvalidArrayError} naming `file` when the archive is malformed.
 */
export function listZip(bytes: Uint8Array, file: string): ZipEntryInfo[] {
  try {
    return listZipUnchecked(bytes, file);
  } catch (err) {
    // A corrupt offset can still make DataView read out of bounds; report it as a bad archive.
    if (err instanceof RangeError) throw new InvalidArrayError(file, `not a valid ZIP archive: ${err.message}`, { cause: err });
    throw err;
  }
}

function listZipUnchecked(bytes: Uint8Array, file: string): ZipEntryInfo[] {
  const end = findZipEnd(bytes, 0, bytes.length, file);
  const dir = 'count' in end ? end : readZip64End(bytes.subarray(end.zip64RecordOffset, end.zip64RecordOffset + 56), file);
  if (dir.cdOffset + dir.cdSize > bytes.length) bad(file, `central directory (offset ${dir.cdOffset}, ${dir.cdSize} bytes) runs past the end of the file (${bytes.length} bytes)`);
  return parseZipDirectory(bytes.subarray(dir.cdOffset, dir.cdOffset + dir.cdSize), dir.count, file);
}

/** Where an archive's central directory lies. */
export interface ZipDirectoryLocation {
  count: number;
  cdSize: number;
  cdOffset: number;
}

/** The most bytes at the end of an archive that can hold its end records (end record, maximal comment, ZIP64 locator). */
export const ZIP_TAIL_BYTES = 22 + U16_MAX + 20;

function bad(file: string, cause: string): never {
  throw new InvalidArrayError(file, `not a valid ZIP archive: ${cause}`);
}

/**
 * Finds the end-of-central-directory record in `tail`, the last bytes of an archive of `fileSize` bytes
 * starting at file offset `tailStart`: the directory's location, or where the ZIP64 end record is
 * (to be read and passed to {@link readZip64End}).
 * @throws InvalidArrayError naming `file` when there is none.
 */
export function findZipEnd(tail: Uint8Array, tailStart: number, fileSize: number, file: string): ZipDirectoryLocation | { zip64RecordOffset: number } {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  if (fileSize < 22) bad(file, fileSize === 0 ? 'the file is empty' : `only ${fileSize} bytes`);
  // The end record sits in the last 22 + 65535 (max comment) bytes; scan backwards for its signature.
  let eocd = -1;
  for (let p = tail.length - 22; p >= Math.max(0, tail.length - 22 - U16_MAX); p--) {
    if (view.getUint32(p, true) === SIG_EOCD) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) bad(file, 'no end-of-central-directory record (truncated, or not a ZIP)');
  if (eocd >= 20 && view.getUint32(eocd - 20, true) === SIG_ZIP64_LOCATOR) {
    const recOffset = safeNumber(view.getBigUint64(eocd - 20 + 8, true));
    if (recOffset + 56 > tailStart + eocd) bad(file, 'bad ZIP64 end record offset');
    return { zip64RecordOffset: recOffset };
  }
  return { count: view.getUint16(eocd + 10, true), cdSize: view.getUint32(eocd + 12, true), cdOffset: view.getUint32(eocd + 16, true) };
}

/** The directory's location from a ZIP64 end record (56 bytes). */
export function readZip64End(record: Uint8Array, file: string): ZipDirectoryLocation {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  if (record.length < 56 || view.getUint32(0, true) !== SIG_ZIP64_EOCD) bad(file, 'bad ZIP64 end record offset');
  return { count: safeNumber(view.getBigUint64(32, true)), cdSize: safeNumber(view.getBigUint64(40, true)), cdOffset: safeNumber(view.getBigUint64(48, true)) };
}

/**
 * Parses `count` entries of a central directory (its bytes alone), ZIP64 extra fields included.
 * @throws InvalidArrayError naming `file` for a corrupt or encrypted entry.
 */
export function parseZipDirectory(cd: Uint8Array, count: number, file: string): ZipEntryInfo[] {
  const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const out: ZipEntryInfo[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || view.getUint32(p, true) !== SIG_CENTRAL) bad(file, `central directory entry ${i} is corrupt`);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localHeaderOffset = view.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) bad(file, `central directory entry ${i} runs past the end`);
    const name = new TextDecoder(flags & FLAG_UTF8 ? 'utf-8' : 'latin1').decode(cd.subarray(p + 46, p + 46 + nameLen));
    if (flags & FLAG_ENCRYPTED) throw new InvalidArrayError(file, `ZIP entry '${name}' is encrypted, which is not supported`);
    if (!isSafeEntryName(name)) throw new InvalidArrayError(file, `ZIP entry name ${JSON.stringify(name)} is not a plain relative path (absolute, '..', a backslash or a control character)`);
    // ZIP64 extra: only the fields whose 32-bit slot holds 0xFFFFFFFF are present, in this order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const tag = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (tag === 0x0001) {
        let q = e + 4;
        const take = (): number => {
          if (q + 8 > e + 4 + len) bad(file, `ZIP64 extra field of '${name}' is too short`);
          const v = safeNumber(view.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (size === U32_MAX) size = take();
        if (compressedSize === U32_MAX) compressedSize = take();
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
      }
      e += 4 + len;
    }
    out.push({ name, method, crc, compressedSize, size, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Offset of an entry's data from its local header's fixed part (the 30 bytes at `localHeaderOffset`). */
export function zipDataOffset(localHeader: Uint8Array, entry: ZipEntryInfo, file: string): number {
  const view = new DataView(localHeader.buffer, localHeader.byteOffset, localHeader.byteLength);
  if (localHeader.length < 30 || view.getUint32(0, true) !== SIG_LOCAL) {
    throw new InvalidArrayError(file, `ZIP entry '${entry.name}': local header at offset ${entry.localHeaderOffset} is missing or corrupt`);
  }
  // Sizes come from the central directory; the local header may defer them to a data descriptor.
  return entry.localHeaderOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
}

/**
 * Whether an entry name is a plain relative path that stays inside whatever folder it might be
 * extracted to ("zip slip"): not absolute, no `..` segment, no backslash or drive letter (Windows reads
 * those as separators), no control characters (a NUL truncates paths in C APIs).
 */
export function isSafeEntryName(name: string): boolean {
  if (name === '' || name.startsWith('/') || /^[A-Za-z]:/.test(name) || /[\\\x00-\x1f\x7f]/.test(name)) return false;
  return !name.split('/').some((seg) => seg === '..');
}

/** Deflate's largest expansion: about 1032 output bytes per input byte (RFC 1951 length/distance codes). */
const DEFLATE_MAX_RATIO = 1032;

/**
 * Reads every entry of a ZIP archive, decompressed and CRC-checked, keyed by name in archive order.
 * Throws {@link InvalidArrayError} naming `file` for a truncated or corrupt archive, an unsupported
 * compression method, or a CRC mismatch.
 */
export function readZip(bytes: Uint8Array, file: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const entry of listZip(bytes, file)) out.set(entry.name, extractZipEntry(bytes, entry, file));
  return out;
}

/** Decompresses and CRC-checks one listed entry. */
export function extractZipEntry(bytes: Uint8Array, entry: ZipEntryInfo, file: string): Uint8Array {
  const at = entry.localHeaderOffset;
  const start = zipDataOffset(bytes.subarray(at, at + 30), entry, file);
  const end = start + entry.compressedSize;
  if (end > bytes.length) throw new InvalidArrayError(file, `ZIP entry '${entry.name}' runs past the end of the file (truncated?)`);
  return inflateZipEntry(bytes.subarray(start, end), entry, file);
}

/** Decompresses (or copies, when stored) an entry's raw bytes and checks its size and CRC-32. */
export function inflateZipEntry(raw: Uint8Array, entry: ZipEntryInfo, file: string): Uint8Array {
  let data: Uint8Array;
  if (entry.method === 0) {
    data = raw.slice();
  } else if (entry.method === 8) {
    // Refused before allocating: a directory may claim any size, deflate data cannot back more than this.
    if (entry.size > raw.length * DEFLATE_MAX_RATIO + 64) {
      throw new InvalidArrayError(file, `ZIP entry '${entry.name}' claims ${entry.size} bytes from ${raw.length} compressed bytes, more than Deflate can produce (corrupt)`);
    }
    try {
      // One output buffer one byte past the declared size: no 16 KiB pieces to concat, and a bomb that
      // inflates past its declared size stops there.
      const inflated = inflateRawSync(raw, { chunkSize: Math.max(64, Math.min(entry.size + 1, 2 ** 30)), maxOutputLength: Math.min(entry.size + 1, kMaxLength) });
      data = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new InvalidArrayError(file, `ZIP entry '${entry.name}' inflates past the ${entry.size} bytes the directory declares (corrupt)`, { cause: err });
      }
      throw new InvalidArrayError(file, `ZIP entry '${entry.name}' has corrupt deflate data: ${(err as Error).message}`, { cause: err });
    }
  } else {
    throw new InvalidArrayError(file, `ZIP entry '${entry.name}' uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
  }
  if (data.length !== entry.size) throw new InvalidArrayError(file, `ZIP entry '${entry.name}' is ${data.length} bytes, the directory says ${entry.size}`);
  if (crc32(data) !== entry.crc) throw new InvalidArrayError(file, `ZIP entry '${entry.name}' fails its CRC-32 check (corrupt)`);
  return data;
}

function zip64Extra(values: number[]): Uint8Array {
  const v = new DataView(new ArrayBuffer(4 + 8 * values.length));
  v.setUint16(0, 0x0001, true);
  v.setUint16(2, 8 * values.length, true);
  values.forEach((x, i) => v.setBigUint64(4 + 8 * i, BigInt(x), true));
  return new Uint8Array(v.buffer);
}

function safeNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`ZIP64 value ${v} is too large`);
  return Number(v);
}

function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

/** Concatenates byte arrays into one. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
