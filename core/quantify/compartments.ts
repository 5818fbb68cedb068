import type { LabelIndex, NucleusPairing } from './labels';

/**
 * The pixels of every cell's compartments, built once from the masks; every channel is then measured by
 * gathering through them, so the masks can be dropped and memory stays O(runs + one channel). Cells and
 * nuclei are stored as runs along rows (a 20-px cell is ~25 runs instead of ~450 indices: a quarter of
 * the memory, and gathers read pixels in sequence); the membrane, a thin ring, as pixel indices. All
 * arrays are backed by SharedArrayBuffers, so the structure crosses to worker threads without a copy.
 *
 * - Cell c's runs `cellRuns[c]..cellRuns[c+1]` hold its cytoplasm first (`..cytoRunsEnd[c]`, raster
 *   order), then its own nucleus in reverse raster order (each of those runs is read from its last pixel
 *   back): Cytoplasm is the prefix, Cell the whole. That is the order the values are summed in.
 * - Nucleus: every pixel of the paired nucleus, including any part outside the cell (QuPath measures
 *   the nucleus ROI as it is), in raster order.
 * - Membrane: cell pixels with a 4-neighbour inside the image that carries another whole-cell label
 *   (background included). Pixels on the image edge are not membrane for that reason alone — exactly
 *   QuPath's `ObjectMeasurements.measureCells`.
 */
export interface CompartmentPixels {
  /** Image width, to turn pixel indices into coordinates. */
  width: number;
  cellRuns: Float64Array; cytoRunsEnd: Float64Array;
  /** Pixels of the cell and of its cytoplasm, per cell. */
  cellCount: Float64Array; cytoCount: Float64Array;
  nucleusRuns: Float64Array; nucleusCount: Float64Array;
  /** Runs: first pixel index and length, cells' and nuclei's. */
  runStart: Uint32Array; runLength: Uint32Array;
  membraneStart: Float64Array; membranePixels: Uint32Array;
  /** Most pixels of any one list, for sizing scratch buffers. */
  maxLength: number;
}

/** Builds the compartments of the paired cells and nuclei (see {@link CompartmentPixels}). */
export function indexCompartments(cells: LabelIndex, nuclei: LabelIndex, pairing: NucleusPairing, withMembrane = true): CompartmentPixels {
  const { width } = cells;
  const nCells = cells.ids.length;
  const cellCount = shared(Float64Array, nCells), cytoCount = shared(Float64Array, nCells), nucleusCount = shared(Float64Array, nCells);
  let maxLength = 0;
  for (let c = 0; c < nCells; c++) {
    const nr = pairing.nucleusOfCell[c];
    cellCount[c] = cells.count[c];
    nucleusCount[c] = nr >= 0 ? nuclei.count[nr] : 0;
    maxLength = Math.max(maxLength, cells.count[c], nucleusCount[c]);
  }
  // Pass 1 counts each list's runs, pass 2 lays them out: a run continues when the pixel to the left
  // belongs to the same list.
  const cytoRuns = new Float64Array(nCells), ownNucleusRuns = new Float64Array(nCells), nucleusRunCount = new Float64Array(nCells);
  const membraneCount = new Float64Array(nCells);
  scanRuns(cells, nuclei, pairing, withMembrane,
    (c, own, _i, continues, membrane) => {
      if (!continues) { if (own) ownNucleusRuns[c]++; else cytoRuns[c]++; }
      if (membrane) membraneCount[c]++;
    },
    (owner, _i, continues) => { if (!continues) nucleusRunCount[owner]++; });
  const membraneStart = shared(Float64Array, nCells + 1);
  for (let c = 0; c < nCells; c++) membraneStart[c + 1] = membraneStart[c] + membraneCount[c];
  const membranePixels = shared(Uint32Array, membraneStart[nCells]);
  const membraneCursor = membraneStart.slice(0, nCells);
  const cellRuns = shared(Float64Array, nCells + 1), cytoRunsEnd = shared(Float64Array, nCells), nucleusRuns = shared(Float64Array, nCells + 1);
  let total = 0;
  for (let c = 0; c < nCells; c++) { cellRuns[c] = total; cytoRunsEnd[c] = total + cytoRuns[c]; total += cytoRuns[c] + ownNucleusRuns[c]; }
  cellRuns[nCells] = total;
  for (let c = 0; c < nCells; c++) { nucleusRuns[c] = total; total += nucleusRunCount[c]; }
  nucleusRuns[nCells] = total;
  const runStart = shared(Uint32Array, total), runLength = shared(Uint32Array, total);
  // Cytoplasm runs fill from the front, the cell's own nucleus from the back (so in reverse raster order).
  const front = cellRuns.slice(0, nCells), back = cellRuns.slice(1), nucCursor = nucleusRuns.slice(0, nCells);
  scanRuns(cells, nuclei, pairing, withMembrane,
    (c, own, i, continues, membrane) => {
      if (continues) runLength[own ? back[c] : front[c] - 1]++;
      else { const r = own ? --back[c] : front[c]++; runStart[r] = i; runLength[r] = 1; }
      if (membrane) membranePixels[membraneCursor[c]++] = i;
    },
    (owner, i, continues) => {
      if (continues) runLength[nucCursor[owner] - 1]++;
      else { const r = nucCursor[owner]++; runStart[r] = i; runLength[r] = 1; }
    });
  for (let c = 0; c < nCells; c++) {
    let n = 0;
    for (let r = cellRuns[c]; r < cytoRunsEnd[c]; r++) n += runLength[r];
    cytoCount[c] = n;
  }

  return { width, cellRuns, cytoRunsEnd, cellCount, cytoCount, nucleusRuns, nucleusCount, runStart, runLength, membraneStart, membranePixels, maxLength };
}

/**
 * One raster pass over both masks: each whole-cell pixel goes to `onCell` (its cell row, whether it is
 * in the cell's own nucleus, its index, whether the pixel to its left is in the same list, whether it
 * is membrane), each pixel of a paired nucleus to `onNucleus` (the cell it is paired with, likewise).
 */
function scanRuns(
  cells: LabelIndex, nuclei: LabelIndex, pairing: NucleusPairing, withMembrane: boolean,
  onCell: (c: number, own: boolean, i: number, continues: boolean, membrane: boolean) => void,
  onNucleus: (owner: number, i: number, continues: boolean) => void,
): void {
  const { width, height } = cells;
  const cData = cells.data, cLut = cells.lut, nData = nuclei.data, nLut = nuclei.lut;
  const { nucleusOfCell, cellOfNucleus } = pairing;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const nv = nData[i];
      const nr = nLut[nv];
      if (nr >= 0) {
        const owner = cellOfNucleus[nr];
        if (owner >= 0) onNucleus(owner, i, x > 0 && nData[i - 1] === nv);
      }
      const v = cData[i];
      const c = cLut[v];
      if (c < 0) continue;
      const own = nr >= 0 && nucleusOfCell[c] === nr;
      let continues = false;
      if (x > 0 && cData[i - 1] === v) {
        const left = nLut[nData[i - 1]];
        continues = (left >= 0 && nucleusOfCell[c] === left) === own;
      }
      onCell(c, own, i, continues, withMembrane && isMembrane(cData, width, height, i, x, y, v));
    }
  }
}

function isMembrane(cData: Int32Array, width: number, height: number, i: number, x: number, y: number, v: number): boolean {
  return (y > 0 && cData[i - width] !== v) || (y < height - 1 && cData[i + width] !== v) ||
    (x > 0 && cData[i - 1] !== v) || (x < width - 1 && cData[i + 1] !== v);
}

/** A typed array in shared memory, so it crosses to worker threads without a copy. */
function shared<T extends Float64Array | Uint32Array>(Type: { new (buffer: SharedArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number }, length: number): T {
  return new Type(new SharedArrayBuffer(Math.max(1, length) * Type.BYTES_PER_ELEMENT), 0, length);
}

/**
 * Copies list `c`'s values of `data` into `buf` in the list's order and returns how many: the cell
 * (`cytoplasmOnly` false) or its cytoplasm, through the runs.
 */
export function gatherCell(px: CompartmentPixels, c: number, data: ArrayLike<number>, buf: Float64Array, cytoplasmOnly = false): number {
  const { runStart, runLength } = px;
  let j = 0;
  const cytoEnd = px.cytoRunsEnd[c];
  for (let r = px.cellRuns[c]; r < cytoEnd; r++) {
    for (let p = runStart[r], e = p + runLength[r]; p < e; p++) buf[j++] = data[p];
  }
  if (cytoplasmOnly) return j;
  for (let r = cytoEnd, end = px.cellRuns[c + 1]; r < end; r++) {
    const s = runStart[r];
    for (let p = s + runLength[r] - 1; p >= s; p--) buf[j++] = data[p];
  }
  return j;
}

/** Copies the values of cell row `c`'s paired nucleus into `buf` (raster order); returns how many. */
export function gatherNucleus(px: CompartmentPixels, c: number, data: ArrayLike<number>, buf: Float64Array): number {
  const { runStart, runLength } = px;
  let j = 0;
  for (let r = px.nucleusRuns[c], end = px.nucleusRuns[c + 1]; r < end; r++) {
    for (let p = runStart[r], e = p + runLength[r]; p < e; p++) buf[j++] = data[p];
  }
  return j;
}
