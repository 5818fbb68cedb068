import { InvalidArrayError } from '../errors';
import { storeFor, joinUri, type RangeReader } from '../storage';
import { blockKey, type BlockLayout } from './grid';

/**
 * Where a blockwise image keeps its intermediates (one folder per image: `jobs/<run>/<name>/blocks`, or
 * a temporary folder for the standalone commands), and the one binary container they use for arrays.
 * Every file is written atomically, so a retried block task simply writes its files again.
 */
export class BlockFiles {
  constructor(readonly dir: string, readonly layout: BlockLayout) {}

  private at(folder: string, index: number, ext: string): string {
    return joinUri(this.dir, folder, `${blockKey(this.layout, index)}.${ext}`);
  }

  /** The plan: grid, roles, channels (JSON). */
  get plan(): string { return BlockFiles.planIn(this.dir); }
  static planIn(dir: string): string { return joinUri(dir, 'plan.json'); }
  firstPass(index: number): string { return this.at('stats', index, 'first.json'); }
  secondPass(index: number): string { return this.at('stats', index, 'second.json'); }
  /** The first pass summed (the percentile's ranks per channel). */
  get selection(): string { return joinUri(this.dir, 'stats', 'selection.json'); }
  /** The global normalisation (per channel: scaling, 16-bit extremes). */
  get normalization(): string { return joinUri(this.dir, 'stats', 'normalization.json'); }
  /** CLAHE levels over the block's model-tile extent (both channels). */
  levels(index: number): string { return this.at('levels', index, 'bin'); }
  /** The block's model tiles' outputs (the four maps the watershed reads). */
  tiles(index: number): string { return this.at('tiles', index, 'bin'); }
  /** Window labels of both compartments (NPZ: `whole_cell`, `nuclear`, int32). */
  labels(index: number): string { return this.at('labels', index, 'npz'); }
  /** The objects of both compartments that have pixels in the block's core. */
  pieces(index: number): string { return this.at('pieces', index, 'json'); }
  /** Pairs of pieces that are one object, found with the block's right and lower neighbours. */
  matches(index: number): string { return this.at('matches', index, 'json'); }
  /** Local label → global label of every piece (one file per compartment, all blocks). */
  relabel(compartment: 'whole-cell' | 'nuclear'): string { return joinUri(this.dir, 'stitch', `relabel-${compartment}.bin`); }
  get stitch(): string { return joinUri(this.dir, 'stitch', 'summary.json'); }
  /** Cells a block measures (those whose bounding box starts in its core), with their boxes. */
  cells(index: number): string { return this.at('cells', index, 'json'); }
  /** A block's rows of the measurement table and its GeoJSON features, and their summary. */
  reportTsv(index: number): string { return this.at('reports', index, 'tsv'); }
  reportGeoJson(index: number): string { return this.at('reports', index, 'geojson'); }
  reportSummary(index: number): string { return this.at('reports', index, 'json'); }
}

export async function writeJson(uri: string, value: unknown): Promise<void> {
  await storeFor(uri).writeAtomic(uri, JSON.stringify(value));
}

export async function readJson<T>(uri: string): Promise<T> {
  const text = new TextDecoder().decode(await storeFor(uri).readAll(uri));
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new InvalidArrayError(uri, `not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

const MAGIC = 0x314b4254; // 'TBK1'
const HEAD = 8;

/**
 * The array container: 'TBK1', the JSON header's byte length (uint32 LE), the header, zero padding to a
 * multiple of 8, then the arrays back to back (each a multiple of 8 bytes long, or the last). The header
 * says what the bytes are; {@link openBlob} reads parts of a large one by range.
 */
export function encodeBlob(header: object, arrays: ArrayBufferView[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((HEAD + json.length) / 8) * 8;
  const total = arrays.reduce((n, a) => n + a.byteLength, start);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, json.length, true);
  out.set(json, HEAD);
  let at = start;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  return out;
}

/** A decoded container: its header and its data bytes (copied, so 8-byte aligned). */
export function decodeBlob<H>(bytes: Uint8Array, file: string): { header: H; data: ArrayBuffer } {
  const { header, start } = parseHead<H>(bytes, file);
  return { header, data: bytes.slice(start).buffer as ArrayBuffer };
}

function parseHead<H>(bytes: Uint8Array, file: string): { header: H; start: number } {
  if (bytes.length < HEAD) throw new InvalidArrayError(file, 'truncated block file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new InvalidArrayError(file, 'not a Tessel block file');
  const n = view.getUint32(4, true);
  if (HEAD + n > bytes.length) throw new InvalidArrayError(file, 'truncated block file header');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(HEAD, HEAD + n))) as H;
  return { header, start: Math.ceil((HEAD + n) / 8) * 8 };
}

export async function writeBlob(uri: string, header: object, arrays: ArrayBufferView[]): Promise<void> {
  await storeFor(uri).writeAtomic(uri, encodeBlob(header, arrays));
}

export async function readBlob<H>(uri: string): Promise<{ header: H; data: ArrayBuffer }> {
  return decodeBlob<H>(await storeFor(uri).readAll(uri), uri);
}

/** A container opened for range reads: its header, and `read(offset, length)` of its data bytes. */
export interface OpenBlob<H> {
  header: H;
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function openBlob<H>(uri: string): Promise<OpenBlob<H>> {
  const reader: RangeReader = await storeFor(uri).openRange(uri);
  try {
    const first = await reader.read(0, 65536);
    let head = first;
    const n = first.length >= HEAD ? new DataView(first.buffer, first.byteOffset, first.byteLength).getUint32(4, true) : 0;
    if (HEAD + n > first.length) head = await reader.read(0, HEAD + n);
    const { header, start } = parseHead<H>(head, uri);
    return {
      header,
      read: async (offset, length) => {
        const bytes = await reader.read(start + offset, length);
        if (bytes.length !== length) throw new InvalidArrayError(uri, `truncated block file: ${length} bytes at ${offset} asked, ${bytes.length} there`);
        return bytes.slice();
      },
      close: () => reader.close(),
    };
  } catch (e) {
    await reader.close().catch(() => undefined);
    throw e;
  }
}
