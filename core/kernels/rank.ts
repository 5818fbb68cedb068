/**
 * Dense ranks of float32 values: equal values share a rank, smaller values get smaller ranks
 * (−0 and +0 are equal, as comparisons say; NaN is not supported). Only entries with `include[i] ≠ 0`
 * are ranked; the others get −1. Returns the ranks and the number of distinct values.
 *
 * LSD radix sort of order-preserving uint32 keys (three passes of 11 bits), then one sweep.
 *
 * @see P. M. McIlroy, K. Bostic, M. D. McIlroy, "Engineering radix sort", Computing Systems 6(1), 1993.
 */
export function denseRanks(values: Float32Array, include?: Uint8Array): { ranks: Int32Array; distinct: number } {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  let m = 0;
  for (let i = 0; i < n; i++) if (include === undefined || include[i] !== 0) m++;
  let keys = new Uint32Array(m);
  let idx = new Int32Array(m);
  for (let i = 0, j = 0; i < n; i++) {
    if (include !== undefined && include[i] === 0) continue;
    const b = bits[i] === 0x80000000 ? 0 : bits[i]; // −0 sorts with +0
    keys[j] = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    idx[j++] = i;
  }
  let keys2 = new Uint32Array(m);
  let idx2 = new Int32Array(m);
  const count = new Int32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let j = 0; j < m; j++) count[(keys[j] >>> shift) & 2047]++;
    let sum = 0;
    for (let b = 0; b < 2048; b++) { const c = count[b]; count[b] = sum; sum += c; }
    for (let j = 0; j < m; j++) {
      const k = keys[j];
      const d = count[(k >>> shift) & 2047]++;
      keys2[d] = k;
      idx2[d] = idx[j];
    }
    [keys, keys2] = [keys2, keys];
    [idx, idx2] = [idx2, idx];
  }
  const ranks = new Int32Array(n).fill(-1);
  let distinct = 0;
  for (let j = 0; j < m; j++) {
    if (j > 0 && keys[j] !== keys[j - 1]) distinct++;
    ranks[idx[j]] = distinct;
  }
  return { ranks, distinct: m === 0 ? 0 : distinct + 1 };
}
