import { join } from 'node:path';
import { runInWorker } from '../parallel/run-in-worker';
import type { QuantifyJobOptions, QuantifyOutcome } from './job';

export type { QuantifyOutcome } from './job';

export interface QuantifyOptions extends QuantifyJobOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /**
   * Run the job on the calling thread (its helpers still get threads of their own): for a caller with
   * no event loop to keep free, such as the CLI, this saves a thread's memory. `signal` is then only
   * checked before starting. @default false
   */
  inThread?: boolean;
}

/**
 * QuPath-style quantification of one image: whole-cell and nucleus label masks plus the OME-TIFF →
 * `<name>_QUANT.tsv` (QuPath ≥ 0.6 export layout), optionally a GeoJSON FeatureCollection and a
 * QuPath project entry. All work (reading, measuring, writing) runs on a worker thread so the
 * calling event loop keeps heartbeating; `signal` terminates it, `onProgress` receives 0…1.
 * An image without calibration is measured in pixels (`px` columns) with a warning; masks whose
 * size differs from the image fail with an InvalidImageError naming both files.
 */
export async function quantify(opts: QuantifyOptions): Promise<QuantifyOutcome> {
  const { signal, onProgress, inThread, ...job } = opts;
  if (inThread) {
    signal?.throwIfAborted();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { quantifyJob } = require('./job') as typeof import('./job');
    return quantifyJob(job, (f) => onProgress?.(f));
  }
  return runInWorker<QuantifyOutcome>(join(__dirname, 'job'), 'quantifyJob', [job], {
    signal,
    onMessage: (f) => onProgress?.(f as number),
  });
}
