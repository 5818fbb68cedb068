import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort } from 'node:worker_threads';
import { InvalidImageError } from '../errors';
import type { DType, Plane } from '../formats/ndarray';
import { releaseBuffers } from '../parallel/release';
import { basename, storeFor } from '../storage';
import { runInWorker } from '../parallel/run-in-worker';
import { measureChannelQueue, type ChannelQueueJob, type MeasuredChannel } from './channel-job';
import { CellMeasurer, type CellTable, type Compartment, type Stat } from './measure';
import { upsertProjectEntry } from './qpproj';
import { GeoJsonWriter, MeasurementTableWriter } from './table-writer';
import type { TsvRows } from './tsv';

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
   * Threads measuring channels, this one included (it traces the shapes first, then claims channels
   * too); 1 = everything on this thread.
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
 * and measure the image's channels, one at a time each; with the shapes done the masks are dropped
 * and this thread measures channels too (memory: the masks until then, their pixel indices, shared,
 * one channel per measuring thread, the output columns). Writes the TSV (and GeoJSON, and the QuPath
 * project entry) atomically through the storage layer. Progress goes to the parent thread as
 * `{kind: 'progress'}` messages, or to `onProgress` when called in-thread.
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
    // Helper threads start now, loading their code while this one reads and indexes the masks.
    const helperCount = Math.max(1, Math.min(opts.threads ?? defaultThreads(), info.channels.length));
    const warming = Array.from({ length: helperCount - 1 }, () => runInWorker<void>(channelJob, 'warmUp', []).catch(() => undefined));
    let masks: [Plane<Int32Array>, Plane<Int32Array>] | undefined = await Promise.all([formats.readLabelMask(opts.wholeCellMaskUri), formats.readLabelMask(opts.nucleusMaskUri)]);
    await Promise.all(warming);
    for (const [uri, m] of [[opts.wholeCellMaskUri, masks[0]], [opts.nucleusMaskUri, masks[1]]] as const) {
      if (m.width !== info.width || m.height !== info.height) {
        throw new InvalidImageError(uri, `mask is ${m.width}×${m.height} but image ${opts.imageUri} is ${info.width}×${info.height}`);
      }
    }
    const { umPerPixel, names } = measurementCalibration(info, opts.imageUri, warnings);
    progress(0.02);
    const measurer = new CellMeasurer({
      wholeCell: masks[0], nucleus: masks[1], umPerPixel, withGeometry: !!opts.geojsonUri,
      compartments: opts.compartments as Compartment[] | undefined, stats: opts.stats as Stat[] | undefined,
      wholeCellFile: opts.wholeCellMaskUri, nucleusFile: opts.nucleusMaskUri, deferShapes: true,
    });
    // The measurer keeps none of the masks (8 bytes a pixel): gone now, before the shapes are traced
    // (synchronous: no turn of the event loop to free them in) and the channels read.
    const released = releaseBuffers(masks[0].data.buffer, masks[1].data.buffer);
    masks = undefined;
    await released;
    progress(0.2);
    let measured = 0;
    const channelDone = () => progress(0.2 + (0.7 * ++measured) / names.length);
    // Channels are independent: helper threads claim them one at a time from a shared counter, reading
    // the pixel lists in shared memory, while this thread traces the shapes; then this thread (the
    // masks gone) claims channels too. Columns are appended in channel order.
    const { width, height, compartments, stats } = measurer.table;
    const job: ChannelQueueJob = {
      imageUri: opts.imageUri, names, next: new Int32Array(new SharedArrayBuffer(4)),
      pixels: measurer.compartmentPixels, table: { width, height, compartments, stats },
    };
    const stopHelpers = new AbortController();
    const helpers = Array.from({ length: helperCount - 1 }, () =>
      runInWorker<MeasuredChannel[]>(channelJob, 'measureChannelQueue', [job], { onMessage: channelDone, signal: stopHelpers.signal }));
    helpers.forEach((h) => h.catch(() => undefined)); // awaited below; a failure here must not go unhandled meanwhile
    const results: MeasuredChannel[] = [];
    try {
      measurer.measureShapes();
      results.push(...await measureChannelQueue(job, source, channelDone));
      for (const h of helpers) results.push(...await h);
    } finally {
      stopHelpers.abort(); // no-op once they are done; stops them when shapes or a channel failed
    }
    results.sort((a, b) => a.index - b.index);
    for (const r of results) measurer.addMeasuredChannel(r.columns);
    const table = measurer.table;
    const imageName = opts.imageName ?? basename(opts.imageUri);
    // The helper threads, done with the channels, format every other chunk of the table's rows.
    const formatOffThread = helperCount > 1 ? (rows: TsvRows) => runInWorker<Uint8Array>(tsvModule, 'formatTsvRows', [rows]) : undefined;
    await writeWith(MeasurementTableWriter.open(opts.outTsvUri, { imageName, legacyNames: opts.legacyNames, formatOffThread }), table);
    if (opts.geojsonUri) await writeWith(GeoJsonWriter.open(opts.geojsonUri, { imageName, legacyNames: opts.legacyNames }), table);
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

const channelJob = join(__dirname, 'channel-job');
const tsvModule = join(__dirname, 'tsv');

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

/** Writes a whole table through a measurement writer, publishing it only if every row made it. */
async function writeWith(opening: Promise<{ append(t: CellTable): Promise<void>; commit(): Promise<void>; abort(): Promise<void> }>, table: CellTable): Promise<void> {
  const writer = await opening;
  try {
    await writer.append(table);
  } catch (e) {
    await writer.abort();
    throw e;
  }
  await writer.commit();
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
