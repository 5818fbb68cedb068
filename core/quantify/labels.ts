import { InvalidArrayError } from '../errors';
import type { Plane } from '../formats/ndarray';

/**
 * Per-label summary of a label mask from one pass over its pixels: which labels exist, their pixel
 * counts, bounding boxes and coordinate sums. Rows are the present labels in ascending order.
 *
 * Labels are looked up through a flat table indexed by label value, so the inner loops never hash.
 * When labels are so sparse that the table would dwarf the mask (max label > 2 × pixels + 65536),
 * the mask is copied once with compact values (row + 1) and the table becomes the identity.
 */
export interface LabelIndex {
  width: number;
  height: number;
  /** Label of each row, ascending. */
  ids: Int32Array;
  /** Mask values to scan (the input data, or a compact copy). */
  data: Int32Array;
  /** Value in `data` that marks each row's pixels. */
  values: Int32Array;
  /** Row of a value in `data`; -1 for background or absent. */
  lut: Int32Array;
  count: Int32Array;
  minX: Int32Array; minY: Int32Array; maxX: Int32Array; maxY: Int32Array;
  sumX: Float64Array; sumY: Float64Array;
}

/** Scans a mask (0 = background); negative labels are rejected with an {@link InvalidArrayError} naming `file`. */
export function indexLabels(mask: Plane<Int32Array>, file = 'label mask'): LabelIndex {
  const { width, height } = mask;
  let data = mask.data;
  const n = width * height;
  if (data.length !== n) throw new InvalidArrayError(file, `mask has ${data.length} values for ${width}×${height} pixels`);
  let maxLabel = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (v > maxLabel) maxLabel = v;
    else if (v < 0) throw new InvalidArrayError(file, `negative label ${v} at x=${i % width}, y=${Math.floor(i / width)}`);
  }
  let ids: Int32Array;
  let lut: Int32Array;
  let values: Int32Array;
  if (maxLabel > 2 * n + 65536) {
    const unique = new Set<number>();
    for (let i = 0; i < n; i++) if (data[i] !== 0) unique.add(data[i]);
    ids = Int32Array.from(unique).sort();
    const rowOf = new Map<number, number>();
    ids.forEach((id, r) => rowOf.set(id, r));
    const compact = new Int32Array(n);
    for (let i = 0; i < n; i++) if (data[i] !== 0) compact[i] = rowOf.get(data[i])! + 1;
    data = compact;
    lut = new Int32Array(ids.length + 1);
    lut[0] = -1;
    for (let r = 0; r < ids.length; r++) lut[r + 1] = r;
    values = new Int32Array(ids.length).map((_, r) => r + 1);
  } else {
    const present = new Uint8Array(maxLabel + 1);
    for (let i = 0; i < n; i++) present[data[i]] = 1;
    present[0] = 0;
    let rows = 0;
    for (let v = 1; v <= maxLabel; v++) rows += present[v];
    ids = new Int32Array(rows);
    lut = new Int32Array(maxLabel + 1).fill(-1);
    for (let v = 1, r = 0; v <= maxLabel; v++) if (present[v]) { ids[r] = v; lut[v] = r++; }
    values = ids;
  }
  const rows = ids.length;
  const count = new Int32Array(rows);
  const minX = new Int32Array(rows).fill(width), minY = new Int32Array(rows).fill(height);
  const maxX = new Int32Array(rows).fill(-1), maxY = new Int32Array(rows).fill(-1);
  const sumX = new Float64Array(rows), sumY = new Float64Array(rows);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const r = lut[data[i]];
      if (r < 0) continue;
      count[r]++;
      sumX[r] += x; sumY[r] += y;
      if (x < minX[r]) minX[r] = x;
      if (x > maxX[r]) maxX[r] = x;
      if (y < minY[r]) minY[r] = y;
      maxY[r] = y;
    }
  }
  return { width, height, ids, data, values, lut, count, minX, minY, maxX, maxY, sumX, sumY };
}

/** Result of {@link pairNuclei}. */
export interface NucleusPairing {
  /** Nucleus row paired with each cell row, or -1. */
  nucleusOfCell: Int32Array;
  /** Cell row paired with each nucleus row, or -1. */
  cellOfNucleus: Int32Array;
  unpairedNuclei: number;
  cellsWithoutNucleus: number;
}

/**
 * Pairs nuclei with whole cells the way deepcell-imaging's QuPath step does: a nucleus goes to the
 * cell that covers it entirely; otherwise to the cell it overlaps most (ties: lower cell label).
 * A nucleus touching no cell stays unpaired. When several nuclei choose one cell, the cell keeps
 * one: a covered nucleus before an overlapping one, then the larger overlap, then the lower nucleus
 * label; the others count as unpaired. Nucleus labels need not equal cell labels.
 */
export function pairNuclei(cells: LabelIndex, nuclei: LabelIndex): NucleusPairing {
  const nCells = cells.ids.length, nNuclei = nuclei.ids.length;
  const nucleusOfCell = new Int32Array(nCells).fill(-1);
  const bestOverlap = new Int32Array(nCells);
  const bestCovered = new Uint8Array(nCells);
  const cellOfNucleus = new Int32Array(nNuclei).fill(-1);
  const width = cells.width;
  const tallyCell: number[] = [], tallyCount: number[] = [];
  for (let n = 0; n < nNuclei; n++) {
    tallyCell.length = 0; tallyCount.length = 0;
    const value = nuclei.values[n];
    let outside = 0;
    for (let y = nuclei.minY[n]; y <= nuclei.maxY[n]; y++) {
      for (let x = nuclei.minX[n], i = y * width + x; x <= nuclei.maxX[n]; x++, i++) {
        if (nuclei.data[i] !== value) continue;
        const c = cells.lut[cells.data[i]];
        if (c < 0) { outside++; continue; }
        const k = tallyCell.indexOf(c);
        if (k < 0) { tallyCell.push(c); tallyCount.push(1); } else tallyCount[k]++;
      }
    }
    if (tallyCell.length === 0) continue;
    let best = 0;
    // Rows are in label order, so the lower row wins a tie.
    for (let k = 1; k < tallyCell.length; k++) {
      if (tallyCount[k] > tallyCount[best] || (tallyCount[k] === tallyCount[best] && tallyCell[k] < tallyCell[best])) best = k;
    }
    const c = tallyCell[best], overlap = tallyCount[best];
    const covered = outside === 0 && tallyCell.length === 1 ? 1 : 0;
    const current = nucleusOfCell[c];
    if (current < 0 || covered > bestCovered[c] || (covered === bestCovered[c] && overlap > bestOverlap[c])) {
      if (current >= 0) cellOfNucleus[current] = -1;
      nucleusOfCell[c] = n; bestOverlap[c] = overlap; bestCovered[c] = covered; cellOfNucleus[n] = c;
    }
  }
  let paired = 0;
  for (let c = 0; c < nCells; c++) if (nucleusOfCell[c] >= 0) paired++;
  return { nucleusOfCell, cellOfNucleus, unpairedNuclei: nNuclei - paired, cellsWithoutNucleus: nCells - paired };
}
