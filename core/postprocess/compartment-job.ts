import type { MaskFormat } from '../formats/mask-writer';
import { NpzFile } from '../formats/npz-stream';
import { encodeLabelMaskTiff } from '../formats/tiff-write';
import { releaseBuffers } from '../parallel/release';
import { maxLabel } from '../kernels/remove-small-objects';
import { checkCompartmentHeads, COMPARTMENT_HEADS, type FloodInputs, floodInputs, floodLabels, type WatershedMaps, watershedMarkers } from './deep-watershed';
import type { Compartment, DeepWatershedParams } from './params';

/** One compartment of the postprocess stage, as it crosses to its worker thread (plain data). */
export interface CompartmentJob {
  compartment: Compartment;
  /** Validated parameters. */
  params: DeepWatershedParams;
  /** The raw predictions (Mesmer's four heads) to read the compartment's maps from. */
  predictionsUri: string;
  /** `ome-tiff`: the thread encodes the mask; `ome-zarr`: it hands the labels back for the stage's writer. */
  maskFormat: MaskFormat;
}

/**
 * What a compartment's thread hands back: for `ome-tiff`, the encoded mask (a few MB), not the labels;
 * for `ome-zarr`, the labels (moved, not copied), which the stage writes into the image's one Zarr root.
 */
export interface CompartmentResult {
  /** `ome-tiff`: the int32 label mask as a TIFF file's bytes, ready to be written. */
  tiff?: Uint8Array;
  /** `ome-zarr`: the int32 labels, row-major. */
  labels?: Int32Array;
  /** Objects, labelled 1..count. */
  count: number;
  width: number;
  height: number;
}

/**
 * A compartment's markers (steps 1–2 of {@link deepWatershed}), on the calling (worker) thread: reads
 * the inner-distance head from the NPZ and returns the markers, which move to the thread that floods.
 *
 * @throws InvalidArrayError naming the NPZ for a missing head, a wrong dtype or shape, or a CRC mismatch.
 */
export async function compartmentMarkers(job: CompartmentJob): Promise<Int32Array> {
  const { data, width, height } = await readCompartmentHead(job.predictionsUri, job.compartment, 'maxima');
  const markers = watershedMarkers(data, width, height, job.params);
  releaseBuffers(data.buffer);
  return markers;
}

/**
 * A compartment's flood surface and mask (step 3's inputs of {@link deepWatershed}), on the calling
 * (worker) thread: reads channel 1 of the pixelwise head, straight from the NPZ.
 *
 * @throws InvalidArrayError as {@link compartmentMarkers}.
 */
export async function compartmentFloodInputs(job: CompartmentJob): Promise<FloodInputs> {
  const { data, width, height } = await readCompartmentHead(job.predictionsUri, job.compartment, 'interior');
  const flood = floodInputs(data, width, height, job.params, true);
  if (flood.surface.buffer !== data.buffer) releaseBuffers(data.buffer);
  return flood;
}

/**
 * The rest of a compartment (steps 3–6 of {@link deepWatershed}) from its markers and flood inputs,
 * which this thread takes over, and its mask encoded (a TIFF; an OME-Zarr mask is written by the stage).
 * Encoding here, not on the stage's own thread, lets both compartments do it at once.
 */
export async function compartmentLabels(job: CompartmentJob, markers: Int32Array, flood: FloodInputs, size: { width: number; height: number }): Promise<CompartmentResult> {
  const { width, height } = size;
  const { labels } = floodLabels({ markers, ...flood }, width, height, job.params);
  const count = maxLabel(labels);
  if (job.maskFormat === 'ome-zarr') return { labels, count, width, height };
  const tiff = encodeLabelMaskTiff({ data: labels, width, height });
  // This thread waits in the pool afterwards: give the labels' memory back now, not at its next collection.
  releaseBuffers(labels.buffer);
  return { tiff, count, width, height };
}

/** One of a compartment's two maps from `raw_predictions.npz`, checked against the NPZ contract. */
async function readCompartmentHead(uri: string, compartment: Compartment, map: 'maxima' | 'interior'): Promise<{ data: Float32Array; width: number; height: number }> {
  const npz = await NpzFile.open(uri);
  try {
    const { width, height } = checkCompartmentHeads((name) => npz.info(name), compartment, uri);
    const names = COMPARTMENT_HEADS[compartment];
    const head = map === 'maxima' ? await npz.read(names.maxima) : await npz.readChannel(names.pixelwise, 1);
    return { data: head.data as Float32Array, width, height };
  } finally {
    await npz.close();
  }
}

/**
 * A compartment's maps from `raw_predictions.npz`: the inner-distance head and the interior
 * (channel 1 of the pixelwise head), checked against the NPZ contract.
 */
export async function readCompartmentMaps(uri: string, compartment: Compartment): Promise<WatershedMaps> {
  const { data: maxima, width, height } = await readCompartmentHead(uri, compartment, 'maxima');
  const { data: interior } = await readCompartmentHead(uri, compartment, 'interior');
  return { maxima, interior, width, height };
}
