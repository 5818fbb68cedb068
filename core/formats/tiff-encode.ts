import { deflateSync } from 'node:zlib';
import type { Plane, TypedArray } from './ndarray';
import { FieldType, Tag } from './tiff-tags';
import { concat } from './zip';

/**
 * A small, general TIFF/BigTIFF page writer: single-sample pages, strips or tiles, uncompressed or
 * Deflate (zlib, code 8), little-endian. Pixel data of each page comes first, then its IFD, so the
 * file is written front to back in one pass. Used by the label-mask and OME-TIFF writers.
 *
 * References: TIFF 6.0 sections 2, 8 and 15; BigTIFF (bigtiff.org).
 */

/** One tag value: numbers (typed by `type`) or an ASCII/UTF-8 string. */
export interface TagValue {
  tag: number;
  type: number;
  value: number[] | string;
}

export interface PageSpec {
  plane: Plane;
  /** 1 unsigned int, 2 signed int, 3 IEEE float. */
  sampleFormat: 1 | 2 | 3;
  compression: 'none' | 'deflate';
  /** Tile edge (multiple of 16) or undefined for strips. */
  tileSize?: number;
  description?: string;
  /** Extra tags (resolution, NewSubfileType…); the writer adds the layout tags itself. */
  extraTags?: TagValue[];
}

export interface EncodeTiffOptions {
  /** Force BigTIFF; otherwise chosen when the classic 4 GiB offset limit would be passed. */
  bigtiff?: boolean;
  /** zlib level 1–9 for Deflate; default 6. */
  deflateLevel?: number;
}

/** Rows per strip aiming at ~256 KiB uncompressed strips: big enough to compress well, small enough to read partially. */
function rowsPerStrip(width: number, bytesPerSample: number): number {
  return Math.max(1, Math.floor((256 * 1024) / Math.max(1, width * bytesPerSample)));
}

function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Cuts a page into encoded chunks (strips or tiles, row-major). */
function encodeChunks(page: PageSpec, level: number): { chunks: Uint8Array[]; rows?: number } {
  const { plane } = page;
  const bps = plane.data.BYTES_PER_ELEMENT;
  const src = bytesOf(plane.data);
  const rowBytes = plane.width * bps;
  const finish = (raw: Uint8Array): Uint8Array => (page.compression === 'deflate' ? new Uint8Array(deflateSync(raw, { level })) : raw);
  const chunks: Uint8Array[] = [];
  if (page.tileSize) {
    const t = page.tileSize;
    const tileRowBytes = t * bps;
    for (let ty = 0; ty < plane.height; ty += t) {
      for (let tx = 0; tx < plane.width; tx += t) {
        // Edge tiles are padded with zeros to full size, as TIFF 6.0 section 15 requires.
        const tile = new Uint8Array(t * tileRowBytes);
        const w = Math.min(t, plane.width - tx) * bps;
        const h = Math.min(t, plane.height - ty);
        for (let r = 0; r < h; r++) {
          const from = (ty + r) * rowBytes + tx * bps;
          tile.set(src.subarray(from, from + w), r * tileRowBytes);
        }
        chunks.push(finish(tile));
      }
    }
    return { chunks };
  }
  const rows = Math.min(plane.height, rowsPerStrip(plane.width, bps));
  for (let y = 0; y < plane.height; y += rows) {
    const h = Math.min(rows, plane.height - y);
    // Slice (copy) so uncompressed strips never alias a caller's buffer after we return.
    chunks.push(finish(src.slice(y * rowBytes, (y + h) * rowBytes)));
  }
  return { chunks, rows };
}

interface Entry {
  tag: number;
  type: number;
  count: number;
  bytes: Uint8Array;
}

function encodeValues(type: number, value: number[] | string): { count: number; bytes: Uint8Array } {
  if (typeof value === 'string') {
    const text = new TextEncoder().encode(value);
    const bytes = new Uint8Array(text.length + 1); // NUL-terminated
    bytes.set(text);
    return { count: bytes.length, bytes };
  }
  const eight = type === FieldType.LONG8 || type === FieldType.IFD8;
  const size = type === FieldType.RATIONAL ? 8 : type === FieldType.SHORT ? 2 : eight ? 8 : type === FieldType.BYTE ? 1 : 4;
  const n = type === FieldType.RATIONAL ? value.length / 2 : value.length;
  const v = new DataView(new ArrayBuffer(n * size));
  value.forEach((x, i) => {
    if (type === FieldType.SHORT) v.setUint16(i * 2, x, true);
    else if (eight) v.setBigUint64(i * 8, BigInt(x), true);
    else if (type === FieldType.BYTE) v.setUint8(i, x);
    else v.setUint32(i * 4, x, true);
  });
  return { count: n, bytes: new Uint8Array(v.buffer) };
}

/**
 * Lays out one IFD to be written at file offset `base` (even): its out-of-line values first, then the
 * IFD that points at them, with a next-IFD pointer of 0. Tags are sorted here, as TIFF requires.
 * Returns the bytes, where the IFD starts and where its next-IFD pointer sits (both absolute), so
 * writers can chain or patch it.
 */
export function layoutIfd(tags: TagValue[], big: boolean, base: number): { bytes: Uint8Array; ifdOffset: number; nextPointerAt: number } {
  if (base % 2) throw new Error(`an IFD must start on a word boundary, got offset ${base}`);
  const inline = big ? 8 : 4;
  const entrySize = big ? 20 : 12;
  const parts: Uint8Array[] = [];
  let pos = base;
  const push = (b: Uint8Array): number => {
    const at = pos;
    parts.push(b);
    pos += b.length;
    if (pos % 2) {
      parts.push(new Uint8Array(1)); // TIFF wants values on word boundaries
      pos++;
    }
    return at;
  };
  const entries: Entry[] = [...tags].sort((a, b) => a.tag - b.tag).map((t) => ({ tag: t.tag, type: t.type, ...encodeValues(t.type, t.value) }));
  const valueOffsets = entries.map((e) => (e.bytes.length <= inline ? -1 : push(e.bytes)));
  const ifd = new DataView(new ArrayBuffer((big ? 8 : 2) + entries.length * entrySize + (big ? 8 : 4)));
  let p = 0;
  if (big) {
    ifd.setBigUint64(0, BigInt(entries.length), true);
    p = 8;
  } else {
    ifd.setUint16(0, entries.length, true);
    p = 2;
  }
  entries.forEach((e, k) => {
    ifd.setUint16(p, e.tag, true);
    ifd.setUint16(p + 2, e.type, true);
    if (big) ifd.setBigUint64(p + 4, BigInt(e.count), true);
    else ifd.setUint32(p + 4, e.count, true);
    const slot = p + (big ? 12 : 8);
    if (valueOffsets[k] < 0) new Uint8Array(ifd.buffer).set(e.bytes, slot);
    else if (big) ifd.setBigUint64(slot, BigInt(valueOffsets[k]), true);
    else ifd.setUint32(slot, valueOffsets[k], true);
    p += entrySize;
  });
  const ifdOffset = push(new Uint8Array(ifd.buffer));
  return { bytes: concat(parts), ifdOffset, nextPointerAt: ifdOffset + p };
}

/**
 * Encodes pages into one TIFF (or BigTIFF) file. Pages are chained in order; the first page's
 * IFD is the file's first IFD.
 */
export function encodeTiffPages(pages: PageSpec[], opts: EncodeTiffOptions = {}): Uint8Array {
  const level = opts.deflateLevel ?? 6;
  const encoded = pages.map((p) => encodeChunks(p, level));
  const payload = encoded.reduce((n, e) => n + e.chunks.reduce((m, c) => m + c.length + 1, 0), 0);
  const overhead = pages.reduce((n, p, i) => n + 4096 + (p.description?.length ?? 0) * 3 + encoded[i].chunks.length * 16, 0);
  const big = opts.bigtiff ?? payload + overhead > 0xffffffff - 1024;
  const offType = big ? FieldType.LONG8 : FieldType.LONG;

  const parts: Uint8Array[] = [];
  let pos = 0;
  const push = (b: Uint8Array): number => {
    const at = pos;
    parts.push(b);
    pos += b.length;
    return at;
  };
  const align = (): void => {
    if (pos % 2) push(new Uint8Array(1)); // TIFF wants values on word boundaries
  };
  const header = new DataView(new ArrayBuffer(big ? 16 : 8));
  header.setUint8(0, 0x49);
  header.setUint8(1, 0x49);
  header.setUint16(2, big ? 43 : 42, true);
  if (big) header.setUint16(4, 8, true);
  push(new Uint8Array(header.buffer));
  // Where each "next IFD" pointer lives, patched once the following IFD's offset is known.
  let nextPointer = big ? 8 : 4;
  const patches: { at: number; value: number }[] = [];

  pages.forEach((page, i) => {
    const { chunks, rows } = encoded[i];
    const offsets: number[] = [];
    for (const c of chunks) {
      align();
      offsets.push(push(c));
    }
    const { plane } = page;
    const bits = plane.data.BYTES_PER_ELEMENT * 8;
    const tags: TagValue[] = [
      { tag: Tag.ImageWidth, type: FieldType.LONG, value: [plane.width] },
      { tag: Tag.ImageLength, type: FieldType.LONG, value: [plane.height] },
      { tag: Tag.BitsPerSample, type: FieldType.SHORT, value: [bits] },
      { tag: Tag.Compression, type: FieldType.SHORT, value: [page.compression === 'deflate' ? 8 : 1] },
      { tag: Tag.Photometric, type: FieldType.SHORT, value: [1] }, // BlackIsZero
      { tag: Tag.SamplesPerPixel, type: FieldType.SHORT, value: [1] },
      { tag: Tag.PlanarConfiguration, type: FieldType.SHORT, value: [1] },
      { tag: Tag.Software, type: FieldType.ASCII, value: 'tessel' },
      { tag: Tag.SampleFormat, type: FieldType.SHORT, value: [page.sampleFormat] },
      ...(page.extraTags ?? []),
    ];
    if (page.description !== undefined) tags.push({ tag: Tag.ImageDescription, type: FieldType.ASCII, value: page.description });
    const counts = chunks.map((c) => c.length);
    if (page.tileSize) {
      tags.push(
        { tag: Tag.TileWidth, type: FieldType.LONG, value: [page.tileSize] },
        { tag: Tag.TileLength, type: FieldType.LONG, value: [page.tileSize] },
        { tag: Tag.TileOffsets, type: offType, value: offsets },
        { tag: Tag.TileByteCounts, type: offType, value: counts },
      );
    } else {
      tags.push(
        { tag: Tag.RowsPerStrip, type: FieldType.LONG, value: [rows!] },
        { tag: Tag.StripOffsets, type: offType, value: offsets },
        { tag: Tag.StripByteCounts, type: offType, value: counts },
      );
    }
    align();
    const laid = layoutIfd(tags, big, pos);
    push(laid.bytes);
    patches.push({ at: nextPointer, value: laid.ifdOffset });
    nextPointer = laid.nextPointerAt;
  });

  const out = concat(parts);
  const view = new DataView(out.buffer);
  for (const { at, value } of patches) {
    if (big) view.setBigUint64(at, BigInt(value), true);
    else view.setUint32(at, value, true);
  }
  return out;
}
