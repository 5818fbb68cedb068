import { growInt32 } from './buffers';
import type { Plane } from '../formats/ndarray';
import { maxLabel, type InPlaceOption } from './remove-small-objects';

/**
 * deepcell-toolbox's `fill_holes(label_img, size, connectivity=1)`, replicated: for each label, in
 * increasing order, that has a hole (Euler number < 1 with 8-connected foreground, computed on the
 * input), every 4-connected component of pixels *not* carrying that label inside the label's bounding
 * box (from the input) with fewer than `maxHoleSize` pixels is given the label. The components are
 * taken on the image as filled so far, so earlier labels' fills are seen by later ones. Note what
 * deepcell's recipe implies: a small component touching the bounding-box edge, or a small piece of
 * another label enclosed in the box, is filled as well. "Fewer than" is the exclusive threshold of the
 * scikit-image versions deepcell uses (`remove_small_holes(area_threshold=size)` before 0.26).
 *
 * Returns a new array and leaves the input as it was, or with `inPlace` fills the input itself.
 *
 * @see deepcell-toolbox `deepcell_toolbox.utils.fill_holes`.
 * @see S. B. Gray, "Local properties of binary images in two dimensions", IEEE Trans. Computers
 *   C-20(5):551–561, 1971 (Euler number from 2×2 bit-quad counts). doi:10.1109/T-C.1971.223289
 */
export function fillHoles(labels: Plane<Int32Array>, maxHoleSize: number, opts: InPlaceOption = {}): Int32Array {
  const { data, width } = labels;
  if (maxHoleSize <= 1 || data.length === 0) return opts.inPlace ? data : data.slice();
  const max = maxLabel(data);
  // Both from the input, before any fill (in place, `out` is the input).
  const euler = eulerNumbers(labels, max);
  const box = boundingBoxes(labels, max);
  const out = opts.inPlace ? data : data.slice();
  let stamp: Int32Array | undefined;
  let stack = new Int32Array(1024);
  let component = new Int32Array(1024);
  for (let l = 1; l <= max; l++) {
    if (box[4 * l] > box[4 * l + 2] || euler[l] >= 1) continue; // absent, or no hole
    stamp ??= new Int32Array(data.length);
    const y0 = box[4 * l], x0 = box[4 * l + 1], y1 = box[4 * l + 2], x1 = box[4 * l + 3];
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const start = y * width + x;
        if (out[start] === l || stamp[start] === l) continue;
        // Flood one 4-connected component of non-l pixels, clipped to the box.
        let size = 0;
        let top = 0;
        stamp[start] = l;
        stack[top++] = start;
        while (top > 0) {
          const p = stack[--top];
          if (size === component.length) component = growInt32(component);
          component[size++] = p;
          const py = (p / width) | 0;
          const px = p - py * width;
          if (top + 4 > stack.length) stack = growInt32(stack);
          if (py > y0) { const q = p - width; if (out[q] !== l && stamp[q] !== l) { stamp[q] = l; stack[top++] = q; } }
          if (px > x0) { const q = p - 1; if (out[q] !== l && stamp[q] !== l) { stamp[q] = l; stack[top++] = q; } }
          if (px < x1) { const q = p + 1; if (out[q] !== l && stamp[q] !== l) { stamp[q] = l; stack[top++] = q; } }
          if (py < y1) { const q = p + width; if (out[q] !== l && stamp[q] !== l) { stamp[q] = l; stack[top++] = q; } }
        }
        if (size < maxHoleSize) for (let k = 0; k < size; k++) out[component[k]] = l;
      }
    }
  }
  return out;
}

/**
 * Euler number (objects − holes, 8-connected foreground, 4-connected background) of every label
 * 1..max in one pass over the 2×2 quads of the zero-padded image: E = (Q1 − Q3 − 2·QD) / 4.
 */
export function eulerNumbers(labels: Plane<Int32Array>, max = maxLabel(labels.data)): Float64Array {
  const { data, width, height } = labels;
  const q1 = new Int32Array(max + 1);
  const q3 = new Int32Array(max + 1);
  const qd = new Int32Array(max + 1);
  const at = (y: number, x: number) => (y < 0 || x < 0 || y >= height || x >= width ? 0 : data[y * width + x]);
  const count = (l: number, a: number, b: number, c: number, d: number) => {
    const n = (a === l ? 1 : 0) + (b === l ? 1 : 0) + (c === l ? 1 : 0) + (d === l ? 1 : 0);
    if (n === 1) q1[l]++;
    else if (n === 3) q3[l]++;
    else if (n === 2 && ((a === l && d === l) || (b === l && c === l))) qd[l]++;
  };
  for (let y = -1; y < height; y++) {
    const inner = y >= 0 && y + 1 < height;
    for (let x = -1; x < width; x++) {
      let a: number, b: number, c: number, d: number;
      if (inner && x >= 0 && x + 1 < width) {
        const p = y * width + x;
        a = data[p]; b = data[p + 1]; c = data[p + width]; d = data[p + width + 1];
        if (a === b && a === c && a === d) continue; // uniform quads add nothing
      } else {
        a = at(y, x); b = at(y, x + 1); c = at(y + 1, x); d = at(y + 1, x + 1);
      }
      if (a !== 0) count(a, a, b, c, d);
      if (b !== 0 && b !== a) count(b, a, b, c, d);
      if (c !== 0 && c !== a && c !== b) count(c, a, b, c, d);
      if (d !== 0 && d !== a && d !== b && d !== c) count(d, a, b, c, d);
    }
  }
  const euler = new Float64Array(max + 1);
  for (let l = 1; l <= max; l++) euler[l] = (q1[l] - q3[l] - 2 * qd[l]) / 4;
  return euler;
}

/** Per label l: [minY, minX, maxY, maxX] at 4l..4l+3; absent labels have minY > maxY. */
export function boundingBoxes(labels: Plane<Int32Array>, max = maxLabel(labels.data)): Int32Array {
  const { data, width, height } = labels;
  const box = new Int32Array(4 * (max + 1));
  for (let l = 0; l <= max; l++) { box[4 * l] = height; box[4 * l + 1] = width; box[4 * l + 2] = -1; box[4 * l + 3] = -1; }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const l = data[row + x];
      if (l === 0) continue;
      const b = 4 * l;
      if (y < box[b]) box[b] = y;
      if (x < box[b + 1]) box[b + 1] = x;
      box[b + 2] = y;
      if (x > box[b + 3]) box[b + 3] = x;
    }
  }
  return box;
}
