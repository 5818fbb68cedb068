/**
 * 1 where a labelled pixel has a 4-neighbour with another label or background (the image edge is not
 * a neighbour): the inner boundary of every object. QuPath's membrane compartment, and deepcell's
 * inner-boundary target.
 */
export function innerBoundary(labels: Int32Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const id = labels[i];
      if (!id) continue;
      if ((x > 0 && labels[i - 1] !== id) || (x < width - 1 && labels[i + 1] !== id)
        || (y > 0 && labels[i - width] !== id) || (y < height - 1 && labels[i + width] !== id)) out[i] = 1;
    }
  }
  return out;
}
