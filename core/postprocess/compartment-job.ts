import type { MaskFormat } from '../formats/mask-writer';
import { NpzFile } from '../formats/npz-stream';
import { encodeLabelMaskTiff } from '../formats/tiff-write';
import { releaseBuffers } from '../parallel/release';
import { maxLabel } from '../kernels/remove-small-objects';
import { checkCompartmentHeads, COMPARTMENT_HEADS, deepWatershed, type WatershedMaps } from './deep-watershed';
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
 * Runs one compartment on the calling (worker) thread: reads its two maps from the NPZ — the inner
 * distance head whole and only channel 1 of the pixelwise head, straight from the file — runs
 * {@link deepWatershed} and encodes the mask (a TIFF; an OME-Zarr mask is written by the stage). Reading
 * and encoding here, not on the stage's own thread, lets both compartments do them at once.
 *
 * @throws InvalidArrayError naming the NPZ for a missing head, a wrong dtype or shape, or a CRC mismatch.
 */
export async function segmentCompartment(job: CompartmentJob): Promise<CompartmentResult> {
  let maps: WatershedMaps | undefined = await readCompartmentMaps(job.predictionsUri, job.compartment);
  const { width, height } = maps;
  // The maps are this thread's own: the recipe may drop them as it goes, and their memory is given
  // back once it is done.
  const inputs = [maps.maxima.buffer, maps.interior.buffer];
  const labels = deepWatershed(maps, job.params, { consumeMaps: true });
  maps = undefined;
  releaseBuffers(...inputs.filter((b) => b !== labels.buffer));
  const count = maxLabel(labels);
  if (job.maskFormat === 'ome-zarr') return { labels, count, width, height };
  const tiff = encodeLabelMaskTiff({ data: labels, width, height });
  // This thread waits in the pool afterwards: give the labels' memory back now, not at its next collection.
  releaseBuffers(labels.buffer);
  return { tiff, count, width, height };
}

/**
 * A compartment's maps from `raw_predictions.npz`: the inner-distance head and the interior
 * (channel 1 of the pixelwise head), checked against the NPZ contract.
 */
export async function readCompartmentMaps(uri: string, compartment: Compartment): Promise<WatershedMaps> {
  const npz = await NpzFile.open(uri);
  try {
    const { width, height } = checkCompartmentHeads((name) => npz.info(name), compartment, uri);
    const names = COMPARTMENT_HEADS[compartment];
    const maxima = (await npz.read(names.maxima)).data as Float32Array;
    const interior = (await npz.readChannel(names.pixelwise, 1)).data as Float32Array;
    return { maxima, interior, width, height };
  } finally {
    await npz.close();
  }
}
