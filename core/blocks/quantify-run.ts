import { availableParallelism } from 'node:os';
import { openImage } from '../formats/image';
import type { Compartment, Stat } from '../quantify/measure';
import { joinUri } from '../storage';
import { BlockFiles, writeJson } from './files';
import { planGrid } from './grid';
import { cellsPerBlock } from './stitch';
import { computeBoxes, measuringFlags, type ImageReport } from './stage-quantify';
import { Pool } from './test-block';
import { runCpuTask } from './worker-tasks';

/**
 * `tessel quantify --block-size N`: any pair of masks measured block by block without Temporal. One
 * pass over each mask finds every label's box (a small record per label); each block then measures the
 * cells whose box starts in its core (worker threads, `threads` at once) and the parts merge into the
 * table, rows in label order — the numbers of a whole-image `tessel quantify`.
 */
export interface QuantifyBlocksOptions {
  imageUri: string;
  wholeCellMaskUri: string;
  nucleusMaskUri: string;
  tsvUri: string;
  geojsonUri?: string;
  imageName: string;
  legacyNames?: boolean;
  compartments?: Compartment[];
  stats?: Stat[];
  blockSize: number;
  /** Folder for the boxes and the parts. */
  dir: string;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function quantifyBlocks(opts: QuantifyBlocksOptions): Promise<ImageReport & { blocks: number }> {
  const image = await openImage(opts.imageUri);
  const size = { width: image.info.width, height: image.info.height };
  await image.close();
  const layout = planGrid(size.width, size.height, opts.blockSize, 0);
  const files = new BlockFiles(opts.dir, layout);
  // The tasks read the plan's layout only; no model or channels are involved.
  await writeJson(files.plan, { version: 1, inputUri: opts.imageUri, channels: {}, nuclear: [], membrane: [], layout, tiles: { tileSize: 256, strideRatio: 0.75 }, normalization: { clipPercentile: 99.9, kernelSize: 128 }, tissue: { threshold: 0 } });
  const wholeCellBoxesUri = joinUri(opts.dir, 'whole-cell-boxes.npy'), nucleusBoxesUri = joinUri(opts.dir, 'nucleus-boxes.npy');
  const cells = await computeBoxes(opts.wholeCellMaskUri, layout, wholeCellBoxesUri, opts.signal);
  const nuclei = await computeBoxes(opts.nucleusMaskUri, layout, nucleusBoxesUri, opts.signal);
  const per = cellsPerBlock(layout, cells.boxes);
  for (const [b, c] of per) await writeJson(files.cells(b), c);
  const measuring = measuringFlags(layout, new Set(per.keys()));
  const settings = {
    outputs: { wholeCellMaskUri: opts.wholeCellMaskUri, nucleusMaskUri: opts.nucleusMaskUri, wholeCellBoxesUri, nucleusBoxesUri },
    measure: {
      imageUri: opts.imageUri, imageName: opts.imageName, geometry: opts.geojsonUri !== undefined, legacyNames: opts.legacyNames,
      compartments: opts.compartments, stats: opts.stats, tsvUri: opts.tsvUri, geojsonUri: opts.geojsonUri,
    },
    stitched: { measuring, nuclei: nuclei.count },
  };
  const pool = new Pool(opts.threads ?? availableParallelism());
  let done = 0;
  await Promise.all([...per.keys()].map((b) => pool.run(async () => {
    await runCpuTask(opts.dir, { stage: 'quantify', block: b }, settings, { signal: opts.signal });
    opts.onProgress?.(++done, per.size);
  })));
  const report = await runCpuTask<ImageReport>(opts.dir, { stage: 'reports' }, settings, { signal: opts.signal });
  return { ...report, blocks: per.size };
}
