import { isMainThread, parentPort } from 'node:worker_threads';
import type { Plane } from '../formats/ndarray';
import type { CompartmentPixels } from './intensity';
import { measureChannelColumns, type CellTable, type ChannelColumns } from './measure';

/**
 * Channels of an image measured by whichever thread is free: every taker (the stage's thread and its
 * helpers) claims the next channel from one shared counter, so the work balances itself whatever each
 * thread did before (the stage's thread traces the shapes first). The pixel lists are in shared memory.
 */
export interface ChannelQueueJob {
  imageUri: string;
  /** Channel names by index. */
  names: string[];
  /** Shared counter: the next channel index to claim (Atomics.add). */
  next: Int32Array;
  pixels: CompartmentPixels;
  table: Pick<CellTable, 'width' | 'height' | 'compartments' | 'stats'>;
}

/** A measured channel and its index. */
export interface MeasuredChannel {
  index: number;
  columns: ChannelColumns;
}

/** The part of the image reader a channel taker needs. */
interface ChannelSource {
  readChannel(i: number, opts?: { into?: Plane['data'] }): Promise<Plane>;
  close(): Promise<void>;
}

/**
 * Claims channels from the queue until none are left, reading and measuring each; returns what it
 * measured. `source` is the caller's open image, else the image is opened here (a helper thread).
 * Posts a progress message per channel when on a worker thread; calls `onChannel` otherwise.
 */
export async function measureChannelQueue(job: ChannelQueueJob, source?: ChannelSource, onChannel?: () => void): Promise<MeasuredChannel[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { openImage } = require('../formats/image') as { openImage(uri: string): Promise<ChannelSource> };
  const own = source ? undefined : await openImage(job.imageUri);
  const image = source ?? own!;
  try {
    const scratch = new Float64Array(Math.max(1, job.pixels.maxLength));
    const out: MeasuredChannel[] = [];
    let last: Plane['data'] | undefined; // measured, so its buffer takes the next channel
    for (let index = Atomics.add(job.next, 0, 1); index < job.names.length; index = Atomics.add(job.next, 0, 1)) {
      const name = job.names[index];
      const plane = await image.readChannel(index, { into: last });
      last = plane.data;
      out.push({ index, columns: { name, compartments: measureChannelColumns(job.pixels, { name, plane }, job.table, scratch) } });
      if (onChannel) onChannel();
      else if (!isMainThread) parentPort?.postMessage({ kind: 'progress', value: index });
    }
    return out;
  } finally {
    await own?.close();
  }
}

/** Loads the reader and measurement code, so a helper started early is ready when the pixel lists are. */
export function warmUp(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../formats/image');
}
