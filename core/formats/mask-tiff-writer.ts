import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { deflate as deflateCb } from 'node:zlib';
import { basename, isGcsUri, storeFor } from '../storage';
import { freshTempSibling, tempSibling } from '../storage/local';
import { pyramidLevels } from './mask-pyramid';
import { buildOmeXml } from './ome-xml';
import { layoutIfd, type TagValue } from './tiff-encode';
import { FieldType, Tag } from './tiff-tags';
import { resolutionTags } from './tiff-write';

const deflate = promisify(deflateCb);

/**
 * The OME-TIFF half of the streaming mask writer: a tiled, pyramidal int32 (SampleFormat 2) Deflate
 * OME-TIFF written to a local temporary file tile by tile as tiles arrive, in any order. On commit the
 * compressed tiles are copied into a second file in canonical order (level, row, column), so the same
 * mask is the same bytes however its blocks were scheduled, retried or killed; its OME UUID is derived
 * from those bytes rather than drawn at random, for the same reason. Level 0 is
 * the first IFD, with OME-XML (Pixels Type int32, PhysicalSizeX/Y in µm) in its ImageDescription; the
 * lower resolutions are its SubIFDs (NewSubfileType 1), as Bio-Formats 6+, tifffile and QuPath read
 * OME-TIFF pyramids. All IFDs and the tile offset tables go at the end on commit; the header's
 * first-IFD pointer is patched last. Then `Store.putFile` publishes the file atomically.
 *
 * Reference: TIFF 6.0 sections 2 and 15; BigTIFF (bigtiff.org); Adobe TIFF Technical Note 1 (SubIFDs);
 * OME-TIFF specification (sub-resolutions in SubIFDs).
 */

/** What a format writes to; the front (mask-writer.ts) checks regions and builds the pyramid. */
export interface MaskBackend {
  writeTile(level: number, tx: number, ty: number, tile: Int32Array): Promise<void>;
  /** Writes the metadata and publishes the output at its URI. */
  finish(): Promise<void>;
  /** Removes everything written so far; nothing appears at the URI. */
  discard(): Promise<void>;
}

export interface TiffMaskOptions {
  width: number;
  height: number;
  tileSize: number;
  /** Force BigTIFF (or classic TIFF); by default decided up front by {@link needsBigTiff}. */
  bigtiff?: boolean;
  umPerPixel?: number;
  name?: string;
  /** zlib level, 1–9. @default 6 */
  deflateLevel?: number;
}

/** zlib's deflateBound() plus its 6-byte wrapper: the most a Deflate stream of `n` bytes can take. */
function deflateBound(n: number): number {
  return n + Math.floor(n / 4096) + Math.floor(n / 16384) + Math.floor(n / 33554432) + 13 + 6;
}

/**
 * Whether a mask of this size needs BigTIFF: the file must be laid out before the tiles are compressed,
 * so the decision assumes incompressible tiles (Deflate's worst case) at every level, plus the offset
 * tables and metadata. A classic TIFF's 32-bit offsets stop at 4 GiB.
 */
export function needsBigTiff(width: number, height: number, tileSize: number): boolean {
  let bytes = 16 + 64 * 1024; // header, OME-XML and IFDs, generously
  for (const l of pyramidLevels(width, height, tileSize)) {
    const tiles = Math.ceil(l.width / tileSize) * Math.ceil(l.height / tileSize);
    bytes += tiles * (deflateBound(tileSize * tileSize * 4) + 1 + 16); // +1 word alignment, +16 two table entries
  }
  return bytes > 0xffffffff;
}

/**
 * A local file a TIFF for `uri` is assembled in: beside a local target (so publishing is a rename), else in
 * the temp folder. `fresh` first removes what a killed attempt at the same target left (the first file of
 * a write); the second file of the same write must not, or it would remove the first.
 */
async function stagingPath(uri: string, fresh: boolean): Promise<string> {
  if (isGcsUri(uri)) return join(tmpdir(), `tessel-mask-${randomBytes(6).toString('hex')}-${basename(uri)}`);
  const target = resolve(uri.startsWith('file://') ? uri.slice('file://'.length) : uri);
  return fresh ? freshTempSibling(target) : tempSibling(target);
}

/** An RFC 9562 version 8 UUID from the first 16 bytes of a SHA-256 digest. */
function uuidFromDigest(d: Buffer): string {
  const b = Buffer.from(d.subarray(0, 16));
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export async function openTiffMaskBackend(uri: string, o: TiffMaskOptions): Promise<MaskBackend> {
  const big = o.bigtiff ?? needsBigTiff(o.width, o.height, o.tileSize);
  const levels = pyramidLevels(o.width, o.height, o.tileSize).map((l) => {
    const n = Math.ceil(l.width / o.tileSize) * Math.ceil(l.height / o.tileSize);
    return { ...l, tilesAcross: Math.ceil(l.width / o.tileSize), offsets: new Float64Array(n), counts: new Float64Array(n) };
  });
  const header = Buffer.alloc(big ? 16 : 8);
  header.write('II', 0, 'latin1');
  header.writeUInt16LE(big ? 43 : 42, 2);
  if (big) header.writeUInt16LE(8, 4);
  const path = await stagingPath(uri, true);
  await fs.mkdir(dirname(path), { recursive: true });
  const fh = await fs.open(path, 'w+'); // read back on commit
  // Space is reserved synchronously, then written at its offset, so concurrent tiles never overlap.
  let end = header.length;
  const reserve = (n: number): number => {
    const at = end;
    end += n + (n % 2); // every value on a word boundary
    if (!big && end > 0xffffffff) throw new Error(`classic TIFF passed 4 GiB at ${end} bytes; the BigTIFF decision was wrong`);
    return at;
  };
  const tileBytes = o.tileSize * o.tileSize * 4;
  const level = o.deflateLevel ?? 6;
  let closed = false;
  let out: { path: string; fh: fs.FileHandle } | undefined;

  const discard = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      await fh.close().catch(() => undefined);
      await out?.fh.close().catch(() => undefined);
    }
    await fs.rm(path, { force: true });
    if (out) await fs.rm(out.path, { force: true });
  };

  /**
   * Copies the tiles into the published file in canonical order (level, row, column), one tile in
   * memory at a time, rewriting the offset tables; returns the digest of what was copied and where the
   * file's end now is.
   */
  const canonical = async (dest: fs.FileHandle): Promise<{ digest: Buffer; end: number }> => {
    await dest.write(header, 0, header.length, 0);
    const hash = createHash('sha256').update(JSON.stringify([o.width, o.height, o.tileSize, big, o.umPerPixel ?? null, o.name ?? null]));
    let at = header.length;
    let buf = Buffer.alloc(0);
    for (const l of levels) {
      for (let i = 0; i < l.offsets.length; i++) {
        const n = l.counts[i];
        if (buf.length < n) buf = Buffer.alloc(n);
        const { bytesRead } = await fh.read(buf, 0, n, l.offsets[i]);
        if (bytesRead !== n) throw new Error(`internal: mask tile ${i} of level ${l.width}×${l.height} read ${bytesRead} of ${n} bytes back from the staging file`);
        hash.update(buf.subarray(0, n));
        await dest.write(buf, 0, n, at);
        l.offsets[i] = at;
        at += n + (n % 2);
      }
    }
    return { digest: hash.digest(), end: at };
  };

  return {
    async writeTile(lv, tx, ty, tile) {
      const raw = Buffer.from(tile.buffer, tile.byteOffset, tileBytes);
      const packed = await deflate(raw, { level });
      const at = reserve(packed.length);
      await fh.write(packed, 0, packed.length, at);
      const l = levels[lv];
      l.offsets[ty * l.tilesAcross + tx] = at;
      l.counts[ty * l.tilesAcross + tx] = packed.length;
    },

    async finish() {
      try {
        const outPath = await stagingPath(uri, false);
        out = { path: outPath, fh: await fs.open(outPath, 'w') };
        const dest = out.fh;
        const copied = await canonical(dest);
        end = copied.end;
        const offType = big ? FieldType.LONG8 : FieldType.LONG;
        const pageTags = (l: (typeof levels)[number], k: number): TagValue[] => [
          { tag: Tag.NewSubfileType, type: FieldType.LONG, value: [k === 0 ? 0 : 1] },
          { tag: Tag.ImageWidth, type: FieldType.LONG, value: [l.width] },
          { tag: Tag.ImageLength, type: FieldType.LONG, value: [l.height] },
          { tag: Tag.BitsPerSample, type: FieldType.SHORT, value: [32] },
          { tag: Tag.Compression, type: FieldType.SHORT, value: [8] },
          { tag: Tag.Photometric, type: FieldType.SHORT, value: [1] },
          { tag: Tag.SamplesPerPixel, type: FieldType.SHORT, value: [1] },
          { tag: Tag.PlanarConfiguration, type: FieldType.SHORT, value: [1] },
          { tag: Tag.Software, type: FieldType.ASCII, value: 'tessel' },
          { tag: Tag.SampleFormat, type: FieldType.SHORT, value: [2] },
          { tag: Tag.TileWidth, type: FieldType.LONG, value: [o.tileSize] },
          { tag: Tag.TileLength, type: FieldType.LONG, value: [o.tileSize] },
          { tag: Tag.TileOffsets, type: offType, value: Array.from(l.offsets) },
          { tag: Tag.TileByteCounts, type: offType, value: Array.from(l.counts) },
          ...resolutionTags(o.umPerPixel === undefined ? undefined : o.umPerPixel * 2 ** k, o.umPerPixel === undefined ? undefined : o.umPerPixel * 2 ** k),
        ];
        // Reduced resolutions first, so level 0 can point at them.
        const subIfds: number[] = [];
        for (let k = 1; k < levels.length; k++) {
          const base = end;
          const laidK = layoutIfd(pageTags(levels[k], k), big, base);
          reserve(laidK.bytes.length);
          await dest.write(laidK.bytes, 0, laidK.bytes.length, base);
          subIfds.push(laidK.ifdOffset);
        }
        const xml = buildOmeXml({
          width: o.width, height: o.height, dtype: 'int32', channelNames: ['labels'],
          physicalSizeX: o.umPerPixel, physicalSizeY: o.umPerPixel, imageName: o.name ?? basename(uri).split('.')[0],
          uuid: uuidFromDigest(copied.digest),
        });
        const tags = [...pageTags(levels[0], 0), { tag: Tag.ImageDescription, type: FieldType.ASCII, value: xml }];
        if (subIfds.length) tags.push({ tag: Tag.SubIFDs, type: big ? FieldType.IFD8 : FieldType.IFD, value: subIfds });
        const at = end;
        const laid = layoutIfd(tags, big, at);
        reserve(laid.bytes.length);
        await dest.write(laid.bytes, 0, laid.bytes.length, at);
        const first = Buffer.alloc(big ? 8 : 4);
        if (big) first.writeBigUInt64LE(BigInt(laid.ifdOffset));
        else first.writeUInt32LE(laid.ifdOffset);
        await dest.write(first, 0, first.length, big ? 8 : 4);
        await dest.sync();
        await dest.close();
        await fh.close();
        closed = true;
        await storeFor(uri).putFile(outPath, uri, { move: true });
      } finally {
        await discard();
      }
    },

    discard,
  };
}
