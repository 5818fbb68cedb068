import { ConfigError, InvalidArrayError } from '../errors';
import type { NdArray } from '../formats/ndarray';
import { diskFootprint } from '../kernels/footprint';
import { fillHoles } from '../kernels/fill-holes';
import { gaussianFilter } from '../kernels/gaussian';
import { hMaxima } from '../kernels/h-maxima';
import { labelComponents } from '../kernels/label';
import { relabelSequential } from '../kernels/relabel';
import { removeSmallObjects } from '../kernels/remove-small-objects';
import { type ConsumedWatershedInputs, watershedConsuming } from '../kernels/watershed';
import { type Compartment, DeepWatershedParams, MESMER_NUCLEAR_DEFAULTS, MESMER_WHOLE_CELL_DEFAULTS } from './params';

/** One compartment's two maps, row-major H×W float32. */
export interface WatershedMaps {
  /** Inner-distance head: peaks mark object centres. */
  maxima: Float32Array;
  /** Interior probability (channel 1 of the pixelwise head). */
  interior: Float32Array;
  width: number;
  height: number;
}

/**
 * Deep watershed for one compartment, exactly deepcell-toolbox's `deep_watershed` recipe with
 * `maxima_algorithm='h_maxima'`, no label erosion and no pixel expansion (Mesmer's settings):
 *
 * 1. maxima ← gaussian(maxima, σ = maximaSmooth); interior ← gaussian(interior, σ = interiorSmooth)
 *    (SciPy `gaussian_filter` semantics; σ = 0 leaves a map as it is);
 * 2. markers ← label(h_maxima(maxima, h = maximaThreshold, footprint = disk(radius))), 8-connected;
 * 3. labels ← watershed(−interior, markers, mask = interior > interiorThreshold), 4-connected, FIFO ties;
 * 4. remove objects with fewer than smallObjectsThreshold pixels (skipped when 0);
 * 5. fill holes with fewer than fillHolesThreshold pixels inside labels (skipped when 0);
 * 6. relabel 1..n in label order.
 *
 * Returns int32 labels, 0 = background. The input maps are not modified (unless handed over with
 * `consumeMaps`, when the labels may be a view of a larger buffer).
 *
 * @throws ConfigError for parameters that fail the schema or maximaThreshold = 0.
 * @see deepcell-toolbox `deepcell_toolbox.deep_watershed.deep_watershed`.
 */
export function deepWatershed(maps: WatershedMaps, params: DeepWatershedParams, opts: DeepWatershedOptions = {}): Int32Array {
  return runDeepWatershed(maps, params, opts.consumeMaps === true, false).labels;
}

/**
 * {@link deepWatershed}'s labels with two of its intermediates: the markers (labelled in raster order)
 * and the labels before relabelling (each object carries its marker's label). Blockwise stitching
 * orders objects by where their marker starts, as a whole-image run numbers them. The maps are not
 * modified; the two intermediates cost a copy each.
 */
export function deepWatershedStages(maps: WatershedMaps, params: DeepWatershedParams): { labels: Int32Array; markers: Int32Array; grown: Int32Array } {
  const r = runDeepWatershed(maps, params, false, true);
  return { labels: r.labels, markers: r.markers!, grown: r.grown! };
}

/** The recipe; with `stages`, copies of the markers and of the labels before relabelling are kept. */
function runDeepWatershed(maps: WatershedMaps, params: DeepWatershedParams, consume: boolean, stages: boolean): { labels: Int32Array; markers?: Int32Array; grown?: Int32Array } {
  const p = validateParams(params);
  const { width, height } = maps;
  if (maps.maxima.length !== width * height || maps.interior.length !== width * height) throw new RangeError(`maps must hold ${width}×${height} pixels`);
  // Each array is dropped as soon as the next step no longer needs it: the peak is one step's working
  // set, not the sum of them all.
  const held: Partial<Pick<WatershedMaps, 'maxima' | 'interior'>> = { maxima: maps.maxima, interior: maps.interior };
  if (consume) (maps as Partial<WatershedMaps>).maxima = (maps as Partial<WatershedMaps>).interior = undefined;
  const inputs: Parameters<typeof floodLabels>[0] = { markers: watershedMarkers(held.maxima!, width, height, p) };
  held.maxima = undefined;
  // The flood takes the markers' buffer over as scratch.
  const keptMarkers = stages ? inputs.markers!.slice() : undefined;
  Object.assign(inputs, floodInputs(held.interior!, width, height, p, consume));
  held.interior = undefined;
  const r = floodLabels(inputs, width, height, p, stages);
  // The labels live in the flood's padded buffer; a caller who kept its maps gets an array of its own
  // (one that can be transferred between threads).
  const labels = consume || r.labels.byteLength === r.labels.buffer.byteLength ? r.labels : r.labels.slice();
  return { labels, markers: keptMarkers, grown: r.grown };
}

/**
 * Steps 1–2 of {@link deepWatershed}: the markers, label(h_maxima(gaussian(maxima))), numbered in raster
 * order. `maxima` is only read. Parameters must be validated ({@link validateParams}).
 */
export function watershedMarkers(maxima: Float32Array, width: number, height: number, p: DeepWatershedParams): Int32Array {
  // σ = 0 needs no copy: h-maxima only reads its input.
  let smoothed: Float32Array | undefined = p.maximaSmooth > 0 ? gaussianFilter({ data: maxima, width, height }, p.maximaSmooth) : maxima;
  const peaks = hMaxima({ data: smoothed, width, height }, p.maximaThreshold, diskFootprint(p.radius));
  smoothed = undefined; // a smoothed copy is garbage before the labelling
  return labelComponents({ data: peaks, width, height }, 2).labels;
}

/** The flood's surface and mask (see {@link floodInputs}). */
export interface FloodInputs {
  /** −gaussian(interior): the surface the watershed floods. */
  surface: Float32Array;
  /** 1 where gaussian(interior) > interiorThreshold. */
  mask: Uint8Array;
}

/**
 * Step 3's inputs of {@link deepWatershed}: the surface −gaussian(interior) and the mask gaussian(interior)
 * > interiorThreshold. `interior` is only read, unless `takeOver`: then with σ = 0 it becomes the surface
 * instead of a copy of it.
 */
export function floodInputs(interior: Float32Array, width: number, height: number, p: DeepWatershedParams, takeOver = false): FloodInputs {
  const surface = p.interiorSmooth > 0 ? gaussianFilter({ data: interior, width, height }, p.interiorSmooth) : takeOver ? interior : interior.slice();
  const mask = new Uint8Array(width * height);
  const threshold = Math.fround(p.interiorThreshold);
  for (let i = 0; i < surface.length; i++) { mask[i] = surface[i] > threshold ? 1 : 0; surface[i] = -surface[i]; }
  return { surface, mask };
}

/**
 * Steps 3–6 of {@link deepWatershed}: the watershed from the markers over the surface within the mask,
 * then small objects removed, holes filled and labels renumbered 1..n. Takes the three arrays over (their
 * fields are cleared); the labels are a view of the flood's padded buffer. With `keepGrown`, a copy of
 * the labels before renumbering as well.
 */
export function floodLabels(inputs: Partial<FloodInputs> & { markers?: Int32Array }, width: number, height: number, p: DeepWatershedParams, keepGrown = false): { labels: Int32Array; grown?: Int32Array } {
  const consumed: ConsumedWatershedInputs = { surface: inputs.surface, markers: inputs.markers, mask: inputs.mask };
  inputs.surface = inputs.markers = inputs.mask = undefined;
  let labels = watershedConsuming(consumed, width, height);
  if (p.smallObjectsThreshold > 0) labels = removeSmallObjects(labels, p.smallObjectsThreshold, { inPlace: true });
  if (p.fillHolesThreshold > 0) labels = fillHoles({ data: labels, width, height }, p.fillHolesThreshold, { inPlace: true });
  const grown = keepGrown ? labels.slice() : undefined;
  return { labels: relabelSequential(labels, { inPlace: true }).labels, grown };
}

/** Options of {@link deepWatershed}. */
export interface DeepWatershedOptions {
  /**
   * Take the maps over: their fields are cleared and their buffers may be reused or dropped as the
   * recipe goes, so the caller's arrays must not be used afterwards. @default false
   */
  consumeMaps?: boolean;
}

/**
 * Checks parameters against the schema, plus h > 0 (h-maxima with h = 0 is ambiguous).
 * @throws ConfigError naming `what` and every failing field.
 */
export function validateParams(params: unknown, what = 'deep-watershed'): DeepWatershedParams {
  const r = DeepWatershedParams.safeParse(params);
  if (!r.success) throw new ConfigError(`${what} parameters: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (r.data.maximaThreshold === 0) throw new ConfigError(`${what} parameters: maximaThreshold must be > 0 (h-maxima with h = 0 is ambiguous)`);
  return r.data;
}

/** Mesmer's four heads by name (`arr_0`..`arr_3`), as `readNpz` returns them. */
export type MesmerHeads = ReadonlyMap<string, NdArray> | Readonly<Record<string, NdArray>>;

/** Which heads feed a compartment: inner distance (maxima) and pixelwise (interior = channel 1). */
export const COMPARTMENT_HEADS: Record<Compartment, { maxima: string; pixelwise: string }> = {
  'whole-cell': { maxima: 'arr_0', pixelwise: 'arr_1' },
  nuclear: { maxima: 'arr_2', pixelwise: 'arr_3' },
};

/** Mesmer's defaults for a compartment. */
export function mesmerDefaults(compartment: Compartment): DeepWatershedParams {
  return compartment === 'nuclear' ? MESMER_NUCLEAR_DEFAULTS : MESMER_WHOLE_CELL_DEFAULTS;
}

/**
 * Pulls one compartment's maps out of Mesmer's heads, checking the shapes of the NPZ contract
 * (inner distance (1,H,W,1) float32, pixelwise (1,H,W,3) float32, both the same H×W).
 *
 * @throws InvalidArrayError naming `file` for a missing head, a wrong dtype or a wrong shape.
 */
export function compartmentMaps(heads: MesmerHeads, compartment: Compartment, file = 'raw predictions'): WatershedMaps {
  const get = (k: string): NdArray | undefined => (heads instanceof Map ? heads.get(k) : (heads as Record<string, NdArray>)[k]);
  const { width, height } = checkCompartmentHeads(get, compartment, file);
  const names = COMPARTMENT_HEADS[compartment];
  const pixelwise = get(names.pixelwise)!.data as Float32Array;
  const interior = new Float32Array(width * height);
  for (let i = 0, j = 1; i < interior.length; i++, j += 3) interior[i] = pixelwise[j];
  return { maxima: get(names.maxima)!.data as Float32Array, interior, width, height };
}

/** The dtype and shape of a head, as an NDArray or an NPZ listing gives them. */
export interface HeadInfo {
  dtype: string;
  shape: readonly number[];
}

/**
 * Checks a compartment's two heads against the NPZ contract (see {@link compartmentMaps}) and returns
 * the image size.
 * @throws InvalidArrayError naming `file` for a missing head, a wrong dtype or a wrong shape.
 */
export function checkCompartmentHeads(get: (name: string) => HeadInfo | undefined, compartment: Compartment, file = 'raw predictions'): { width: number; height: number } {
  const names = COMPARTMENT_HEADS[compartment];
  const check = (a: HeadInfo | undefined, name: string, channels: number): HeadInfo => {
    if (!a) throw new InvalidArrayError(file, `missing array '${name}' (${compartment} head; expected arr_0..arr_3 from Mesmer)`);
    if (a.dtype !== 'float32') throw new InvalidArrayError(file, `array '${name}' has dtype ${a.dtype}, expected float32`);
    const s = a.shape;
    if (s.length !== 4 || s[0] !== 1 || s[3] !== channels || s[1] < 1 || s[2] < 1) {
      throw new InvalidArrayError(file, `array '${name}' has shape (${s.join(',')}), expected (1,H,W,${channels})`);
    }
    return a;
  };
  const d = check(get(names.maxima), names.maxima, 1);
  const q = check(get(names.pixelwise), names.pixelwise, 3);
  if (d.shape[1] !== q.shape[1] || d.shape[2] !== q.shape[2]) {
    throw new InvalidArrayError(file, `'${names.maxima}' is ${d.shape[1]}×${d.shape[2]} but '${names.pixelwise}' is ${q.shape[1]}×${q.shape[2]}`);
  }
  return { width: d.shape[2], height: d.shape[1] };
}

/**
 * Deep watershed of one compartment straight from Mesmer's heads (see {@link deepWatershed}).
 * Parameters not given take Mesmer's defaults for the compartment.
 */
export function postprocessMaps(heads: MesmerHeads, compartment: Compartment, params: Partial<DeepWatershedParams> = {}): Int32Array {
  return deepWatershed(compartmentMaps(heads, compartment), { ...mesmerDefaults(compartment), ...params });
}
