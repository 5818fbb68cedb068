/** Result of {@link sortByValue}. */
export interface ValueOrder {
  /** Indices of the included entries, by increasing value; equal values keep index order (stable). */
  order: Int32Array;
  /** The order-preserving uint32 key of each sorted entry (equal keys ⇔ equal values). */
  keys: Uint32Array;
}

/**
 * Stable sort of the entries of a float32 array by value (only those with `include[i] ≠ 0` when given).
 * −0 and +0 compare equal, as in float comparisons; NaN is not supported.
 *
 * LSD radix sort of order-preserving uint32 keys: three passes of 11 bits.
 *
 * @see P. M. McIlroy, K. Bostic, M. D. McIlroy, "Engineering radix sort", Computing Systems 6(1), 1993.
 */
export function sortByValue(values: Float32Array, include?: Uint8Array): ValueOrder {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  let m = 0;
  for (let i = 0; i < n; i++) if (include === undefined || include[i] !== 0) m++;
  let keys = new Uint32Array(m);
  let order = new Int32Array(m);
  for (let i = 0, j = 0; i < n; i++) {
    if (include !== undefined && include[i] === 0) continue;
    const b = bits[i] === 0x80000000 ? 0 : bits[i];
    keys[j] = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    order[j++] = i;
  }
  let keys2 = new Uint32Array(m);
  let order2 = new Int32Array(m);
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
      order2[d] = order[j];
    }
    [keys, keys2] = [keys2, keys];
    [order, order2] = [order2, order];
  }
  return { order, keys };
}
