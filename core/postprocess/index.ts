import { InvalidArrayError } from '../errors';
import { openMaskWriter, type MaskFormat } from '../formats/mask-writer';
import { NpzFile } from '../formats/npz-stream';
import { runInWorker } from '../parallel/run-in-worker';
import { storeFor } from '../storage';
import { joinUri } from '../storage/types';
import type { CompartmentJob, CompartmentResult } from './compartment-job';
import { checkCompartmentHeads, type FloodInputs, mesmerDefaults, validateParams } from './deep-watershed';
import type { Compartment, CompartmentSelection, DeepWatershedParams } from './params';

export interface PostprocessOptions {
  /** `raw_predictions.npz` with Mesmer's four heads `arr_0`..`arr_3` (local path or gs://). */
  predictionsUri: string;
  /** Folder that receives `<name>_WholeCellMask.tiff` and/or `<name>_NucleusMask.tiff`. */
  outDir: string;
  /** Image name used in the mask file names. */
  name: string;
  compartment: CompartmentSelection;
  /** Overrides of Mesmer's whole-cell defaults. */
  wholeCell?: Partial<DeepWatershedParams>;
  /** Overrides of Mesmer's nuclear defaults. */
  nuclear?: Partial<DeepWatershedParams>;
  /**
   * `ome-tiff` (default): `<outDir>/<name>_WholeCellMask.tiff` / `_NucleusMask.tiff` as always.
   * `ome-zarr`: NGFF 0.4 labels `WholeCell` / `Nucleus` of `<outDir>/<name>.ome.zarr`, with a pyramid;
   * the outcome's mask URIs then name the label images (`…/labels/WholeCell`), which readLabelMask reads.
   */
  maskFormat?: MaskFormat;
  /** Aborting terminates the worker threads and rejects. */
  signal?: AbortSignal;
  /** Called with the fraction done, 0..1. */
  onProgress?: (fraction: number) => void;
  /**
   * Worker threads working at once; the compartments' steps are spread over them. 1 runs one step after
   * the other, which halves the stage's peak memory (`tessel segment` does above 8 Mpx). @default 2
   */
  concurrency?: number;
}

export interface PostprocessOutcome {
  wholeCellMaskUri?: string;
  nucleusMaskUri?: string;
  wholeCellCount?: number;
  nucleusCount?: number;
  width: number;
  height: number;
}

const MASK_SUFFIX: Record<Compartment, string> = { 'whole-cell': 'WholeCellMask', nuclear: 'NucleusMask' };
/** The NGFF label of each compartment in an image's OME-Zarr masks: `<name>.ome.zarr/labels/<label>`. */
export const ZARR_LABEL: Record<Compartment, string> = { 'whole-cell': 'WholeCell', nuclear: 'Nucleus' };

/** Where a compartment's OME-Zarr mask is read from: the label `<outDir>/<name>.ome.zarr/labels/<WholeCell|Nucleus>`. */
export function zarrMaskUri(outDir: string, name: string, c: Compartment): string {
  return joinUri(outDir, `${name}.ome.zarr`, 'labels', ZARR_LABEL[c]);
}

/** The effective parameters of a compartment: Mesmer's defaults, then the overrides, validated. */
export function resolveParams(compartment: Compartment, overrides: Partial<DeepWatershedParams> = {}): DeepWatershedParams {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return validateParams({ ...mesmerDefaults(compartment), ...defined }, compartment);
}

/**
 * Postprocess stage: runs deep watershed for the chosen compartments on worker threads — each
 * compartment's markers, flood inputs and flood as three tasks, which read their maps from Mesmer's raw
 * predictions themselves (only channel 1 of the pixelwise head is kept) and encode the mask, so the
 * threads share the work and the caller's event loop stays free — then writes int32 label-mask TIFFs
 * atomically as `<outDir>/<name>_WholeCellMask.tiff` and `<outDir>/<name>_NucleusMask.tiff`, once every
 * compartment has succeeded.
 *
 * @throws InvalidArrayError naming the file when the NPZ lacks a head or has the wrong shapes.
 * @throws ConfigError for invalid parameter overrides.
 */
export async function postprocess(opts: PostprocessOptions): Promise<PostprocessOutcome> {
  const compartments: Compartment[] = opts.compartment === 'both' ? ['whole-cell', 'nuclear'] : [opts.compartment];
  const params = new Map(compartments.map((c) => [c, resolveParams(c, c === 'nuclear' ? opts.nuclear : opts.wholeCell)] as const));
  const progress = opts.onProgress ?? (() => undefined);
  progress(0);
  const size = await checkInputs(opts, compartments);
  opts.signal?.throwIfAborted();
  progress(0.05);

  // Each compartment is three tasks on worker threads: its markers and its flood inputs, which are
  // independent, then the flood from both. A free thread takes the first task in this list whose inputs
  // are ready, so a compartment's flood starts as soon as it can and the other compartment's first steps
  // fill the wait: at 4096² the whole-cell flood is ~1.6× the nuclear one, and with a thread per
  // compartment the nuclear thread idled for a fifth of the stage.
  const modulePath = require.resolve('./compartment-job');
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const call = <R>(name: string, args: unknown[], transfer: ArrayBuffer[] = []): Promise<R> => runInWorker<R>(modulePath, name, args, { signal, transfer });
  const results: CompartmentResult[] = [];
  const tasks: Task[] = compartments.flatMap((c, i): Task[] => {
    const job: CompartmentJob = { compartment: c, params: params.get(c)!, predictionsUri: opts.predictionsUri, maskFormat: opts.maskFormat ?? 'ome-tiff' };
    let markers: Int32Array | undefined, flood: FloodInputs | undefined;
    const first = 3 * i;
    return [
      { after: [], run: async () => { markers = await call<Int32Array>('compartmentMarkers', [job]); } },
      { after: [], run: async () => { flood = await call<FloodInputs>('compartmentFloodInputs', [job]); } },
      {
        after: [first, first + 1],
        run: async () => {
          const moved = [markers!.buffer, flood!.surface.buffer, flood!.mask.buffer] as ArrayBuffer[];
          const args = [job, markers, flood, size];
          markers = flood = undefined;
          results[i] = await call<CompartmentResult>('compartmentLabels', args, moved);
        },
      },
    ];
  });
  let done = 0;
  await runTasks(tasks, Math.max(1, Math.trunc(opts.concurrency ?? 2)), () => progress(0.05 + (0.85 * ++done) / tasks.length))
    .catch((e) => { stop.abort(e); throw e; });

  const outcome: PostprocessOutcome = size;
  await Promise.all(compartments.map(async (c, i) => {
    const r = results[i];
    let uri: string;
    if (r.labels) {
      const root = joinUri(opts.outDir, `${opts.name}.ome.zarr`);
      const writer = await openMaskWriter(root, { width: r.width, height: r.height, format: 'ome-zarr', labelName: ZARR_LABEL[c], name: opts.name });
      // Re-viewed with this realm's Int32Array: under a sandboxed caller (jest's vm) the thread's array
      // fails `instanceof Int32Array` checks downstream. No copy.
      const labels = new Int32Array(r.labels.buffer, r.labels.byteOffset, r.labels.length);
      await writer.writeRegion(0, 0, r.width, r.height, labels).then(() => writer.commit(), async (e) => { await writer.abort(); throw e; });
      uri = zarrMaskUri(opts.outDir, opts.name, c);
    } else {
      uri = joinUri(opts.outDir, `${opts.name}_${MASK_SUFFIX[c]}.tiff`);
      await storeFor(uri).writeAtomic(uri, r.tiff!);
    }
    const count = r.count; // labels are 1..n after relabelling
    if (c === 'whole-cell') { outcome.wholeCellMaskUri = uri; outcome.wholeCellCount = count; }
    else { outcome.nucleusMaskUri = uri; outcome.nucleusCount = count; }
  }));
  progress(1);
  return outcome;
}

/** A task of {@link runTasks}: the indices of the tasks it needs done first, and its work. */
interface Task {
  after: number[];
  run: () => Promise<void>;
}

/**
 * Runs `tasks`, at most `concurrency` at once: whenever one is free, the first task in the list whose
 * `after` tasks are done starts. Rejects with the first failure (the caller stops the others).
 */
function runTasks(tasks: Task[], concurrency: number, onDone: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = new Set<number>(), done = new Set<number>();
    let running = 0, failed = false;
    const pump = (): void => {
      if (failed) return;
      if (done.size === tasks.length) return resolve();
      for (let i = 0; i < tasks.length && running < concurrency; i++) {
        if (started.has(i) || !tasks[i].after.every((d) => done.has(d))) continue;
        started.add(i);
        running++;
        tasks[i].run().then(() => { running--; done.add(i); onDone(); pump(); }, (e: unknown) => { failed = true; reject(e); });
      }
    };
    pump();
  });
}

/** Checks the heads the compartments need in the NPZ's listing and returns the image size. */
async function checkInputs(opts: PostprocessOptions, compartments: Compartment[]): Promise<{ width: number; height: number }> {
  const npz = await NpzFile.open(opts.predictionsUri);
  try {
    const sizes = compartments.map((c) => checkCompartmentHeads((name) => npz.info(name), c, opts.predictionsUri));
    if (sizes.some((s) => s.width !== sizes[0].width || s.height !== sizes[0].height)) {
      throw new InvalidArrayError(opts.predictionsUri, `the compartments' maps differ in size: ${sizes.map((s) => `${s.width}×${s.height}`).join(', ')}`);
    }
    return { ...sizes[0] };
  } finally {
    await npz.close();
  }
}
