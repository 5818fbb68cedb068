import { maxLabel } from '../kernels/remove-small-objects';
import { readNpz } from '../formats/npz';
import { openMaskWriter, type MaskFormat } from '../formats/mask-writer';
import { writeLabelMask } from '../formats/tiff-write';
import { runInWorker } from '../parallel/run-in-worker';
import { joinUri } from '../storage/types';
import { compartmentMaps, mesmerDefaults, validateParams, type WatershedMaps } from './deep-watershed';
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
const LABEL_NAME: Record<Compartment, string> = { 'whole-cell': 'WholeCell', nuclear: 'Nucleus' };

/** The effective parameters of a compartment: Mesmer's defaults, then the overrides, validated. */
export function resolveParams(compartment: Compartment, overrides: Partial<DeepWatershedParams> = {}): DeepWatershedParams {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return validateParams({ ...mesmerDefaults(compartment), ...defined }, compartment);
}

/**
 * Postprocess stage: reads Mesmer's raw predictions, runs deep watershed for the chosen compartments
 * — each on its own worker thread, so both run in parallel and the caller's event loop stays free —
 * and writes int32 label-mask TIFFs atomically as `<outDir>/<name>_WholeCellMask.tiff` and
 * `<outDir>/<name>_NucleusMask.tiff`.
 *
 * @throws InvalidArrayError naming the file when the NPZ lacks a head or has the wrong shapes.
 * @throws ConfigError for invalid parameter overrides.
 */
export async function postprocess(opts: PostprocessOptions): Promise<PostprocessOutcome> {
  const compartments: Compartment[] = opts.compartment === 'both' ? ['whole-cell', 'nuclear'] : [opts.compartment];
  const params = new Map(compartments.map((c) => [c, resolveParams(c, c === 'nuclear' ? opts.nuclear : opts.wholeCell)] as const));
  const progress = opts.onProgress ?? (() => undefined);
  progress(0);
  let heads: Awaited<ReturnType<typeof readNpz>> | undefined = await readNpz(opts.predictionsUri);
  opts.signal?.throwIfAborted();
  const maps = compartments.map((c) => ownedMaps(compartmentMaps(heads!, c, opts.predictionsUri)));
  heads = undefined; // let the decoded NPZ go before the watershed allocates
  const { width, height } = maps[0];
  progress(0.15);

  let done = 0;
  const modulePath = require.resolve('./deep-watershed');
  const labels = await Promise.all(compartments.map(async (c, i) => {
    const m = maps[i];
    const result = await runInWorker<Int32Array>(modulePath, 'deepWatershed', [m, params.get(c)], {
      transfer: [m.maxima.buffer as ArrayBuffer, m.interior.buffer as ArrayBuffer],
      signal: opts.signal,
    });
    progress(0.15 + (0.7 * ++done) / compartments.length);
    // Re-view the transferred buffer with this realm's Int32Array: under a sandboxed caller (jest's vm)
    // the thread's array fails `instanceof Int32Array` checks downstream. No copy.
    return new Int32Array(result.buffer, result.byteOffset, result.length);
  }));

  const outcome: PostprocessOutcome = { width, height };
  await Promise.all(compartments.map(async (c, i) => {
    let uri: string;
    if (opts.maskFormat === 'ome-zarr') {
      const root = joinUri(opts.outDir, `${opts.name}.ome.zarr`);
      const writer = await openMaskWriter(root, { width, height, format: 'ome-zarr', labelName: LABEL_NAME[c], name: opts.name });
      await writer.writeRegion(0, 0, width, height, labels[i]).then(() => writer.commit(), async (e) => { await writer.abort(); throw e; });
      uri = joinUri(root, 'labels', LABEL_NAME[c]);
    } else {
      uri = joinUri(opts.outDir, `${opts.name}_${MASK_SUFFIX[c]}.tiff`);
      await writeLabelMask(uri, { data: labels[i], width, height });
    }
    const count = maxLabel(labels[i]); // labels are 1..n after relabelling
    if (c === 'whole-cell') { outcome.wholeCellMaskUri = uri; outcome.wholeCellCount = count; }
    else { outcome.nucleusMaskUri = uri; outcome.nucleusCount = count; }
  }));
  progress(1);
  return outcome;
}

/** Maps whose arrays own their whole buffers, so they can move to a worker without copying the NPZ. */
function ownedMaps(m: WatershedMaps): WatershedMaps {
  const own = (a: Float32Array) => (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice());
  return { ...m, maxima: own(m.maxima), interior: own(m.interior) };
}
