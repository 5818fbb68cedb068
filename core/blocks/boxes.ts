import { InvalidArrayError } from '../errors';
import { encodeNpy } from '../formats/npz';
import { storeFor } from '../storage';

/**
 * Per-label bounding boxes, written beside the masks as a numpy array (`np.load` reads it): int32,
 * shape (n, 4), row `label − 1` = [y0, x0, y1, x1) — a label's pixels are `mask[y0:y1, x0:x1] == label`
 * (Cellpose's `boxes` as slices). A label without pixels would have y0 ≥ y1; stitched masks have none.
 */

/** The `.npy` bytes of a boxes table. */
export function encodeBoxes(boxes: Int32Array): Uint8Array {
  return encodeNpy({ data: boxes, shape: [boxes.length / 4, 4], dtype: 'int32' });
}

export async function writeBoxes(uri: string, boxes: Int32Array): Promise<void> {
  await storeFor(uri).writeAtomic(uri, encodeBoxes(boxes));
}

/**
 * Reads the boxes of `labels` by range (the rows between the smallest and largest asked for, in one
 * read), without reading the whole table.
 * @throws InvalidArrayError for a file that is not an int32 (n, 4) npy, or a label past its end.
 */
export async function readBoxRows(uri: string, labels: readonly number[]): Promise<Map<number, [number, number, number, number]>> {
  const out = new Map<number, [number, number, number, number]>();
  if (labels.length === 0) return out;
  const reader = await storeFor(uri).openRange(uri);
  try {
    const head = await reader.read(0, 128);
    const { dataStart, rows } = parseBoxesHeader(head, uri);
    let lo = Infinity, hi = -Infinity;
    for (const l of labels) { if (l < lo) lo = l; if (l > hi) hi = l; }
    if (lo < 1 || hi > rows) throw new InvalidArrayError(uri, `label ${lo < 1 ? lo : hi} has no box (the table holds labels 1–${rows})`);
    const bytes = (await reader.read(dataStart + (lo - 1) * 16, (hi - lo + 1) * 16)).slice();
    const v = new Int32Array(bytes.buffer, 0, (hi - lo + 1) * 4);
    for (const l of labels) {
      const k = 4 * (l - lo);
      out.set(l, [v[k], v[k + 1], v[k + 2], v[k + 3]]);
    }
    return out;
  } finally {
    await reader.close();
  }
}

function parseBoxesHeader(head: Uint8Array, uri: string): { dataStart: number; rows: number } {
  const bad = (why: string): never => { throw new InvalidArrayError(uri, `not a boxes table: ${why}`); };
  if (head.length < 10 || head[0] !== 0x93 || String.fromCharCode(...head.subarray(1, 6)) !== 'NUMPY') bad('not a .npy file');
  if (head[6] !== 1) bad(`npy version ${head[6]} (expected 1)`);
  const len = head[8] | (head[9] << 8);
  const text = new TextDecoder('latin1').decode(head.subarray(10, Math.min(head.length, 10 + len)));
  if (!/'descr':\s*'<i4'/.test(text)) bad('dtype is not int32');
  const m = /'shape':\s*\((\d+),\s*4\)/.exec(text);
  if (!m) bad('shape is not (n, 4)');
  return { dataStart: 10 + len, rows: Number(m![1]) };
}
