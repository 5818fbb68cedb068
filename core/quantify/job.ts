import { createWriteStream, promises as fs } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isMainThread, parentPort } from 'node:worker_threads';
import { InvalidImageError } from '../errors';
import type { DType, Plane } from '../formats/ndarray';
import { basename, storeFor } from '../storage';
import { formatGeoJson } from './geojson';
import { runInWorker } from '../parallel/run-in-worker';
import type { ChannelShareJob } from './channel-job';
import { CellMeasurer, type ChannelColumns, type Compartment, type Stat } from './measure';
import { upsertProjectEntry } from './qpproj';
import { formatQuPathTsv } from './tsv';

/** What {@link quantifyJob} needs; plain data so it can cross into a worker thread. */
export interface QuantifyJobOptions {
  imageUri: string;
  wholeCellMaskUri: string;
  nucleusMaskUri: string;
  outTsvUri: string;
  geojsonUri?: string;
  /** QuPath project to add the image to (created when absent). */
  projectUri?: string;
  /** URI QuPath should open the image from (default: `file:` URI of a local imageUri). */
  projectImageUri?: string;
  imageName?: string;
  legacyNames?: boolean;
  compartments?: string[];
  stats?: string[];
  /**
   * Helper threads measuring channels while this one traces shapes; 1 = everything on this thread.
   * @default TESSEL_QUANTIFY_THREADS, else min(cores, 4)
   */
  threads?: number;
}

export interface QuantifyOutcome {
  cells: number;
  unpairedNuclei: number;
  cellsWithoutNucleus: number;
  umPerPixel?: number;
  calibrated: boolean;
  warnings: string[];
  tsvUri: string;
  geojsonUri?: string;
  projectUri?: string;
  channels: string[];
}

/** The part of the image reader (`core/formats/image.ts`) this stage uses. */
interface ImageSourceLike {
  info: { width: number; height: number; channels: string[]; dtype: DType; physicalSizeX?: number; physicalSizeY?: number; calibrated: boolean; warnings?: string[] };
  readChannel(index: number): Promise<Plane>;
  close(): Promise<void>;
}
interface ImageModule {
  openImage(uri: string): Promise<ImageSourceLike>;
  readLabelMask(uri: string): Promise<Plane<Int32Array>>;
}

/**
 * The whole quantification of one image, meant to run on a worker thread (see `quantify` in
 * `index.ts`): reads both masks and indexes their pixels, then traces shapes while helper threads read
 * and measure the image's channels, one at a time each (memory: masks' pixel indices, shared, + one
 * channel per helper + the output columns), and writes the TSV (and
 * GeoJSON, and the QuPath project entry) atomically through the storage layer. Progress goes to the
 * parent thread as `{kind: 'progress'}` messages, or to `onProgress` when called in-thread.
 */
export async function quantifyJob(opts: QuantifyJobOptions, onProgress?: (fraction: number) => void): Promise<QuantifyOutcome> {
  let reported = 0;
  const progress = (f: number) => {
    if (f <= reported) return; // monotone, whichever thread finishes a channel first
    reported = f;
    if (onProgress) onProgress(f);
    else if (!isMainThread && parentPort) parentPort.postMessage({ kind: 'progress', value: f });
  };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const formats = require('../formats/image') as ImageModule;
  const source = await formats.openImage(opts.imageUri);
  try {
    const { info } = source;
    const warnings = [...(info.warnings ?? [])];
    const [wholeCell, nucleus] = await Promise.all([formats.readLabelMask(opts.wholeCellMaskUri), formats.readLabelMask(opts.nucleusMaskUri)]);
    for (const [uri, m] of [[opts.wholeCellMaskUri, wholeCell], [opts.nucleusMaskUri, nucleus]] as const) {
      if (m.width !== info.width || m.height !== info.height) {
        throw new InvalidImageError(uri, `mask is ${m.width}×${m.height} but image ${opts.imageUri} is ${info.width}×${info.height}`);
      }
    }
    const { umPerPixel, names } = measurementCalibration(info, opts.imageUri, warnings);
    progress(0.02);
    const threads = Math.max(1, Math.min(opts.threads ?? defaultThreads(), names.length));
    const measurer = new CellMeasurer({
      wholeCell, nucleus, umPerPixel, withGeometry: !!opts.geojsonUri,
      compartments: opts.compartments as Compartment[] | undefined, stats: opts.stats as Stat[] | undefined,
      wholeCellFile: opts.wholeCellMaskUri, nucleusFile: opts.nucleusMaskUri, deferShapes: threads > 1,
    });
    progress(0.2);
    let measured = 0;
    const channelDone = () => progress(0.2 + (0.7 * ++measured) / names.length);
    if (threads === 1) {
      for (let i = 0; i < names.length; i++) {
        measurer.addChannel({ name: names[i], plane: await source.readChannel(i) });
        channelDone();
      }
    } else {
      // Channels are independent: `threads` helper threads measure a contiguous share each, reading the
      // pixel lists in shared memory, while this thread traces the cell and nucleus shapes. Columns are
      // appended in channel order.
      const share = Math.ceil(names.length / threads);
      const helpers: Promise<ChannelColumns[]>[] = [];
      const stopHelpers = new AbortController();
      const { width, height, compartments, stats } = measurer.table;
      const all = names.map((name, index) => ({ index, name }));
      for (let t = 0; t < threads; t++) {
        const channels = all.slice(t * share, (t + 1) * share);
        if (channels.length === 0) break;
        const job: ChannelShareJob = { imageUri: opts.imageUri, channels, pixels: measurer.compartmentPixels, table: { width, height, compartments, stats } };
        helpers.push(runInWorker<ChannelColumns[]>(join(__dirname, 'channel-job'), 'measureChannelShare', [job], { onMessage: channelDone, signal: stopHelpers.signal }));
      }
      helpers.forEach((h) => h.catch(() => undefined)); // awaited below; a failure here must not go unhandled meanwhile
      try {
        measurer.measureShapes();
        for (const h of helpers) for (const columns of await h) measurer.addMeasuredChannel(columns);
      } finally {
        stopHelpers.abort(); // no-op once they are done; stops them when shapes or a share failed
      }
    }
    const table = measurer.table;
    const imageName = opts.imageName ?? basename(opts.imageUri);
    await writeChunks(opts.outTsvUri, formatQuPathTsv(table, { imageName, legacyNames: opts.legacyNames }));
    if (opts.geojsonUri) await writeChunks(opts.geojsonUri, formatGeoJson(table, { imageName, legacyNames: opts.legacyNames }));
    if (opts.projectUri) await addToProject(opts.projectUri, opts.projectImageUri ?? toFileUri(opts.imageUri), imageName);
    progress(1);
    return {
      cells: table.labels.length, unpairedNuclei: table.unpairedNuclei, cellsWithoutNucleus: table.cellsWithoutNucleus,
      umPerPixel, calibrated: umPerPixel !== undefined, warnings, tsvUri: opts.outTsvUri, geojsonUri: opts.geojsonUri,
      projectUri: opts.projectUri, channels: names,
    };
  } finally {
    await source.close();
  }
}

/**
 * The pixel size measurements use (µm, or undefined for pixel units) and the channels' column names;
 * adds the calibration warnings to `warnings` (one, in this stage's words, when uncalibrated).
 */
export function measurementCalibration(info: ImageSourceLike['info'], imageUri: string, warnings: string[]): { umPerPixel?: number; names: string[] } {
  let umPerPixel: number | undefined;
  if (info.calibrated && info.physicalSizeX) {
    umPerPixel = info.physicalSizeX;
    const py = info.physicalSizeY ?? umPerPixel;
    if (Math.abs(py - umPerPixel) > 1e-6 * umPerPixel) {
      warnings.push(`${imageUri}: anisotropic pixels (${umPerPixel} × ${py} µm); using ${umPerPixel} µm/pixel for all measurements`);
    }
  } else {
    // One calibration warning, in this stage's words (the reader may already have said it).
    for (let i = warnings.length - 1; i >= 0; i--) if (/calibrat/i.test(warnings[i])) warnings.splice(i, 1);
    warnings.push(`${imageUri}: no physical pixel size in the image metadata; measurements are in pixels (px)`);
  }
  return { umPerPixel, names: info.channels.map((n, i) => (n && n.trim() ? n : `Channel ${i + 1}`)) };
}

function defaultThreads(): number {
  const env = Number(process.env.TESSEL_QUANTIFY_THREADS);
  return Number.isInteger(env) && env > 0 ? env : Math.min(availableParallelism(), 4);
}

/** Streams text chunks to a local temporary file, then hands it to the store (atomic rename or upload). */
async function writeChunks(uri: string, chunks: Iterable<string>): Promise<void> {
  const tmp = join(tmpdir(), `.tessel-quant-${randomBytes(6).toString('hex')}`);
  try {
    const out = createWriteStream(tmp);
    const failed = new Promise<never>((_, reject) => out.once('error', reject));
    failed.catch(() => undefined); // observed through the races below
    for (const chunk of chunks) {
      if (!out.write(chunk)) await Promise.race([new Promise<void>((r) => out.once('drain', () => r())), failed]);
    }
    await Promise.race([new Promise<void>((r) => out.end(r)), failed]);
    await storeFor(uri).putFile(tmp, uri);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

async function addToProject(projectUri: string, imageUri: string, imageName: string): Promise<void> {
  const store = storeFor(projectUri);
  const existing = (await store.stat(projectUri)) ? Buffer.from(await store.readAll(projectUri)).toString('utf8') : undefined;
  const next = upsertProjectEntry(existing, { uri: imageUri, name: imageName }, { projectUri: toFileUri(projectUri) });
  if (next !== existing) await store.writeAtomic(projectUri, next);
}

/** QuPath opens images by URI: local paths become `file:` URIs; other schemes pass through. */
export function toFileUri(uri: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) return uri;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { pathToFileURL } = require('node:url') as typeof import('node:url');
  return pathToFileURL(uri).href;
}
