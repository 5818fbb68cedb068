import { InvalidArrayError } from '../errors';
import { openMaskWriter, type MaskFormat } from '../formats/mask-writer';
import { NpzFile } from '../formats/npz-stream';
import { runInWorker } from '../parallel/run-in-worker';
import { storeFor } from '../storage';
import { joinUri } from '../storage/types';
import type { CompartmentJob, CompartmentResult } from './compartment-job';
import { checkCompartmentHeads, mesmerDefaults, validateParams } from './deep-watershed';
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
   * Compartments run at once, each on its own thread. 1 runs them one after the other, which halves
   * the stage's peak memory (`tessel segment` does). @default 2
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
 * Postprocess stage: runs deep watershed for the chosen compartments — each on its own worker thread,
 * which reads its two maps from Mesmer's raw predictions (only channel 1 of the pixelwise head is kept)
 * and encodes its mask, so both compartments run in parallel and the caller's event loop stays free —
 * then writes int32 label-mask TIFFs atomically as `<outDir>/<name>_WholeCellMask.tiff` and
 * `<outDir>/<name>_NucleusMask.tiff`, once every compartment has succeeded.
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

  let done = 0;
  const modulePath = require.resolve('./compartment-job');
  const run = async (c: Compartment): Promise<CompartmentResult> => {
    const job: CompartmentJob = { compartment: c, params: params.get(c)!, predictionsUri: opts.predictionsUri, maskFormat: opts.maskFormat ?? 'ome-tiff' };
    const result = await runInWorker<CompartmentResult>(modulePath, 'segmentCompartment', [job], { signal: opts.signal });
    progress(0.05 + (0.85 * ++done) / compartments.length);
    return result;
  };
  const concurrency = Math.max(1, Math.trunc(opts.concurrency ?? 2));
  const results: CompartmentResult[] = [];
  for (let i = 0; i < compartments.length; i += concurrency) {
    results.push(...await Promise.all(compartments.slice(i, i + concurrency).map(run)));
  }

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
