import { createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeFor } from '../storage';

/**
 * The image's measurement table and GeoJSON streamed together from the blocks' parts, rows in label
 * order (as a whole-image run writes them): a k-way merge of the parts (each sorted by label), at most
 * {@link FAN_IN} parts at a time — more parts are merged in rounds through temporary parts — so memory
 * holds one read buffer per open part and open files stay few, whatever the number of cells or blocks.
 */

/** Parts merged at once. */
export const FAN_IN = 64;

/** One block's part: its TSV (header line, then rows) and, optionally, its features (one per line, same order). */
export interface ReportPart {
  tsvUri: string;
  featuresUri?: string;
}

export interface MergeReportsOptions {
  parts: ReportPart[];
  tsvUri: string;
  /** Also the GeoJSON FeatureCollection (every part must then have features). */
  geojsonUri?: string;
  /** The header line to write when no part has one (an image without cells). */
  emptyHeader: string;
  signal?: AbortSignal;
}

/** Merges the parts into the final TSV (and GeoJSON), each written to a temporary file then published atomically. */
export async function mergeReports(opts: MergeReportsOptions): Promise<{ rows: number }> {
  const scratch = await fs.mkdtemp(join(tmpdir(), 'tessel-reports-'));
  try {
    let parts = opts.parts;
    let round = 0;
    while (parts.length > FAN_IN) {
      const next: ReportPart[] = [];
      for (let g = 0; g < parts.length; g += FAN_IN) {
        const tsvUri = join(scratch, `r${round}-${g}.tsv`), featuresUri = opts.geojsonUri ? join(scratch, `r${round}-${g}.features`) : undefined;
        await mergeInto(parts.slice(g, g + FAN_IN), new LocalText(tsvUri), featuresUri ? new LocalText(featuresUri) : undefined, opts, false);
        next.push({ tsvUri, featuresUri });
      }
      parts = next;
      round++;
    }
    const tsv = new LocalText(join(scratch, 'out.tsv'));
    const geo = opts.geojsonUri ? new LocalText(join(scratch, 'out.geojson')) : undefined;
    const rows = await mergeInto(parts, tsv, geo, opts, true);
    await storeFor(opts.tsvUri).putFile(tsv.path, opts.tsvUri);
    if (geo) await storeFor(opts.geojsonUri!).putFile(geo.path, opts.geojsonUri!);
    return { rows };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** One merge round into `tsv` (and `geo`); the final round writes the header and the collection around the features. */
async function mergeInto(parts: ReportPart[], tsv: LocalText, geo: LocalText | undefined, opts: MergeReportsOptions, final: boolean): Promise<number> {
  const sources = await Promise.all(parts.map(async (p) => {
    const rows = readLines(p.tsvUri);
    const header = await rows.next();
    return { rows, features: p.featuresUri ? readLines(p.featuresUri) : undefined, header: header.done ? undefined : header.value };
  }));
  const header = sources.find((s) => s.header !== undefined)?.header ?? opts.emptyHeader;
  await tsv.write(header + '\n');
  if (geo && final) await geo.write('{"type":"FeatureCollection","features":[\n');
  // A binary heap of each source's current row, by label (the 4th column, Name).
  const heap: { label: number; row: string; source: number }[] = [];
  const pull = async (k: number) => {
    const r = await sources[k].rows.next();
    if (r.done) return;
    heap.push({ label: labelOf(r.value), row: r.value, source: k });
    siftUp(heap, heap.length - 1);
  };
  for (let k = 0; k < sources.length; k++) await pull(k);
  let written = 0;
  while (heap.length > 0) {
    opts.signal?.throwIfAborted();
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) { heap[0] = last; siftDown(heap, 0); }
    await tsv.write(top.row + '\n');
    if (geo) {
      const f = await sources[top.source].features!.next();
      if (f.done) throw new Error(`${parts[top.source].featuresUri}: fewer features than rows`);
      await geo.write((final && written > 0 ? ',\n' : '') + f.value + (final ? '' : '\n'));
    }
    written++;
    await pull(top.source);
  }
  if (geo && final) await geo.write('\n]}\n');
  await tsv.close();
  await geo?.close();
  return written;
}

function labelOf(row: string): number {
  let at = 0;
  for (let k = 0; k < 3; k++) at = row.indexOf('\t', at) + 1;
  return Number(row.slice(at, row.indexOf('\t', at)));
}

type Entry = { label: number };
function siftUp(h: Entry[], i: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p].label <= h[i].label) return;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}
function siftDown(h: Entry[], i: number): void {
  for (;;) {
    const l = 2 * i + 1, r = l + 1;
    let m = i;
    if (l < h.length && h[l].label < h[m].label) m = l;
    if (r < h.length && h[r].label < h[m].label) m = r;
    if (m === i) return;
    [h[m], h[i]] = [h[i], h[m]];
    i = m;
  }
}

/** The lines of a stored text file, read by range in 1 MiB pieces (local or gs://). */
export async function* readLines(uri: string): AsyncGenerator<string> {
  const reader = await storeFor(uri).openRange(uri);
  try {
    const size = await reader.size();
    const decoder = new TextDecoder();
    let rest = '';
    for (let at = 0; at < size; at += 1 << 20) {
      rest += decoder.decode(await reader.read(at, Math.min(1 << 20, size - at)), { stream: true });
      const lines = rest.split('\n');
      rest = lines.pop()!;
      for (const l of lines) yield l;
    }
    rest += decoder.decode();
    if (rest.length > 0) yield rest;
  } finally {
    await reader.close();
  }
}

/** A local text file written with back-pressure. */
class LocalText {
  private readonly out: WriteStream;
  private failed?: Error;

  constructor(readonly path: string) {
    this.out = createWriteStream(path);
    this.out.on('error', (e) => { this.failed = e; });
  }

  async write(text: string): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.out.write(text)) await new Promise<void>((resolve) => this.out.once('drain', () => resolve()));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    if (this.failed) throw this.failed;
  }
}
