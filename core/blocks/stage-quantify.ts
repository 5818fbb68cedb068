import { ConfigError } from '../errors';
import { openImage } from '../formats/image';
import { measurementCalibration, type QuantifyOutcome } from '../quantify/job';
import { CellMeasurer, type Compartment, type Stat } from '../quantify/measure';
import { formatQuPathTsv } from '../quantify/tsv';
import { storeFor } from '../storage';
import { writeBoxes } from './boxes';
import { readJson, writeJson, type BlockFiles } from './files';
import { blockCount, type BlockLayout } from './grid';
import { quantifyBlock, readMaskRegion, writeBlockReport } from './quantify';
import { mergeReports, type ReportPart } from './reports';

/** What every block of one image measures with (RunSettings['quantify'] and the output names). */
export interface MeasureSettings {
  imageUri: string;
  imageName: string;
  wholeCellMaskUri: string;
  nucleusMaskUri: string;
  nucleusBoxesUri: string;
  geometry: boolean;
  legacyNames?: boolean;
  compartments?: Compartment[];
  stats?: Stat[];
}

interface ReportSummary { cells: number; paired: number }

/** Measures the cells block `b` owns (listed by the stitch) and stores its report parts. */
export async function quantifyBlockTask(files: BlockFiles, b: number, s: MeasureSettings): Promise<ReportSummary> {
  const cells = await readJson<{ labels: number[]; boxes: number[] }>(files.cells(b));
  const r = await quantifyBlock({ ...s, cells });
  await writeBlockReport(r, files.reportTsv(b), s.geometry ? files.reportGeoJson(b) : undefined);
  const summary = { cells: r.cells, paired: r.paired };
  await writeJson(files.reportSummary(b), summary);
  return summary;
}

export interface ReportOutputs {
  tsvUri: string;
  geojsonUri?: string;
  /** Nuclei in the nucleus mask (for the unpaired count). */
  nuclei: number;
  signal?: AbortSignal;
}

/** The image's measurement summary, as a whole-image quantify reports it. */
export type ImageReport = Omit<QuantifyOutcome, 'tsvUri' | 'geojsonUri' | 'projectUri'>;

/** Merges the measuring blocks' parts into the image's TSV and GeoJSON (rows in label order). */
export async function mergeBlockReports(files: BlockFiles, measuring: string, s: MeasureSettings, out: ReportOutputs): Promise<ImageReport> {
  const blocks = [...measuring].flatMap((m, b) => (m === '1' ? [b] : []));
  const parts: ReportPart[] = blocks.map((b) => ({ tsvUri: files.reportTsv(b), featuresUri: s.geometry ? files.reportGeoJson(b) : undefined }));
  let cells = 0, paired = 0;
  for (const b of blocks) {
    const r = await readJson<ReportSummary>(files.reportSummary(b));
    cells += r.cells;
    paired += r.paired;
  }
  const facts = await imageFacts(s);
  await mergeReports({ parts, tsvUri: out.tsvUri, geojsonUri: s.geometry ? out.geojsonUri : undefined, emptyHeader: facts.header, signal: out.signal });
  return {
    cells, unpairedNuclei: out.nuclei - paired, cellsWithoutNucleus: cells - paired,
    umPerPixel: facts.umPerPixel, calibrated: facts.umPerPixel !== undefined, warnings: facts.warnings, channels: facts.names,
  };
}

/** The image's calibration, warnings and channel names, and the table's header line (for an image without cells). */
async function imageFacts(s: MeasureSettings): Promise<{ umPerPixel?: number; warnings: string[]; names: string[]; header: string }> {
  const image = await openImage(s.imageUri);
  try {
    const warnings = [...(image.info.warnings ?? [])];
    const { umPerPixel, names } = measurementCalibration(image.info, s.imageUri, warnings);
    const empty = { data: new Int32Array(1), width: 1, height: 1 };
    const m = new CellMeasurer({ wholeCell: empty, nucleus: empty, umPerPixel, compartments: s.compartments, stats: s.stats });
    for (const name of names) m.addChannel({ name, plane: { data: new Float32Array(1), width: 1, height: 1 } });
    const header = [...formatQuPathTsv(m.table, { imageName: s.imageName, legacyNames: s.legacyNames })].join('').replace(/\n$/, '');
    return { umPerPixel, warnings, names, header };
  } finally {
    await image.close();
  }
}

/**
 * Boxes of every label of a mask from one pass over it, block row by block row (for masks that did not
 * come from a blockwise run, whose boxes are not beside them); written as a boxes table.
 * @throws ConfigError for labels so sparse that a table by label would dwarf the mask.
 */
export async function computeBoxes(maskUri: string, layout: BlockLayout, boxesUri: string, signal?: AbortSignal): Promise<{ count: number; boxes: Int32Array }> {
  let boxes = new Int32Array(4 * 1024);
  let maxLabel = 0, present = 0;
  for (let by = 0; by < layout.rows; by++) {
    signal?.throwIfAborted();
    const y0 = by * layout.blockSize, h = Math.min(layout.blockSize, layout.height - y0);
    const { data } = await readMaskRegion(maskUri, { x: 0, y: y0, width: layout.width, height: h }, layout);
    for (let y = 0, i = 0; y < h; y++) {
      for (let x = 0; x < layout.width; x++, i++) {
        const l = data[i];
        if (l <= 0) continue;
        if (l > maxLabel) {
          if (l > 4 * layout.width * layout.height + (1 << 20)) {
            throw new ConfigError(`${maskUri}: label ${l} is too sparse for blockwise quantification (labels should run 1..n); relabel the mask first`);
          }
          if (4 * l > boxes.length) {
            const grown = new Int32Array(Math.max(4 * l, 2 * boxes.length));
            grown.set(boxes);
            boxes = grown;
          }
          for (let k = maxLabel + 1; k <= l; k++) boxes.set([2 ** 30, 2 ** 30, -1, -1], 4 * (k - 1));
          maxLabel = l;
        }
        const at = 4 * (l - 1), gy = y0 + y;
        if (boxes[at + 2] < 0) present++;
        if (gy < boxes[at]) boxes[at] = gy;
        if (x < boxes[at + 1]) boxes[at + 1] = x;
        if (gy + 1 > boxes[at + 2]) boxes[at + 2] = gy + 1;
        if (x + 1 > boxes[at + 3]) boxes[at + 3] = x + 1;
      }
    }
  }
  const table = boxes.slice(0, 4 * maxLabel);
  await writeBoxes(boxesUri, table);
  return { count: present, boxes: table };
}

/** Whether a stored object exists. */
export async function exists(uri: string): Promise<boolean> {
  return (await storeFor(uri).stat(uri)) !== undefined;
}

/** Every block that measures cells, as the `measuring` flags. */
export function measuringFlags(layout: BlockLayout, blocks: ReadonlySet<number>): string {
  let out = '';
  for (let b = 0; b < blockCount(layout); b++) out += blocks.has(b) ? '1' : '0';
  return out;
}
