import { isMainThread, parentPort } from 'node:worker_threads';
import type { Plane } from '../formats/ndarray';
import type { CompartmentPixels } from './intensity';
import { measureChannelColumns, type CellTable, type ChannelColumns } from './measure';

/** A share of an image's channels, measured on a helper thread over the owner's pixel lists (shared memory). */
export interface ChannelShareJob {
  imageUri: string;
  channels: { index: number; name: string }[];
  pixels: CompartmentPixels;
  table: Pick<CellTable, 'width' | 'height' | 'compartments' | 'stats'>;
}

/** Reads and measures each channel of the share in turn; posts a progress message per channel. */
export async function measureChannelShare(job: ChannelShareJob): Promise<ChannelColumns[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { openImage } = require('../formats/image') as { openImage(uri: string): Promise<{ readChannel(i: number): Promise<Plane>; close(): Promise<void> }> };
  const source = await openImage(job.imageUri);
  try {
    const scratch = new Float64Array(Math.max(1, job.pixels.maxLength));
    const out: ChannelColumns[] = [];
    for (const { index, name } of job.channels) {
      const plane = await source.readChannel(index);
      out.push({ name, compartments: measureChannelColumns(job.pixels, { name, plane }, job.table, scratch) });
      if (!isMainThread) parentPort?.postMessage({ kind: 'progress', value: index });
    }
    return out;
  } finally {
    await source.close();
  }
}
