/** Result of {@link sortByValue}. */
export interface ValueOrder {
  /** Indices of the included entries, by increasing value; equal values keep index order (stable). */
  order: Int32Array;
  /**
   * An order-preserving uint32 key of each sorted entry (equal keys ⇔ equal values), relative to the
   * smallest: only comparisons between keys of one result mean anything.
   */
  keys: Uint32Array;
}

/** Radix digits of at most this many bits: 8192 counters (32 KiB) stay in the first-level cache. */
const MAX_DIGIT_BITS = 13;

/**
 * Stable sort of the entries of a float32 array by value (only those with `include[i] ≠ 0` when given).
 * −0 and +0 compare equal, as in float comparisons; NaN is not supported.
 *
 * LSD radix sort of order-preserving uint32 keys, less their minimum, in as few passes of at most
 * 13 bits as the keys' span needs: values of one order of magnitude (a probability map) span ~25 bits,
 * so two passes instead of three of 11 bits.
 *
 * @see P. M. McIlroy, K. Bostic, M. D. McIlroy, "Engineering radix sort", Computing Systems 6(1), 1993.
 */
export function sortByValue(values: Float32Array, include?: Uint8Array): ValueOrder {
  return radixSortKeys(sortKeys(values, include));
}

/** The entries to sort and their keys less their minimum, in index order (see {@link radixSortKeys}). */
export interface SortKeys extends ValueOrder {
  /** Bits the keys span: 32 − clz32(max key). */
  span: number;
}

/**
 * First half of {@link sortByValue}: the order-preserving keys of the included entries, less their
 * minimum. After it, `values` and `include` are no longer needed, so a caller that owns them can let
 * them go before the sort proper doubles the key arrays.
 */
export function sortKeys(values: Float32Array, include?: Uint8Array): SortKeys {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  let m = 0;
  for (let i = 0; i < n; i++) if (include === undefined || include[i] !== 0) m++;
  const keys = new Uint32Array(m);
  const order = new Int32Array(m);
  let lo = 0xffffffff, hi = 0;
  for (let i = 0, j = 0; i < n; i++) {
    if (include !== undefined && include[i] === 0) continue;
    const b = bits[i] === 0x80000000 ? 0 : bits[i];
    const k = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    keys[j] = k;
    order[j++] = i;
    if (k < lo) lo = k;
    if (k > hi) hi = k;
  }
  if (m === 0) return { order, keys, span: 0 };
  for (let j = 0; j < m; j++) keys[j] = (keys[j] - lo) >>> 0;
  return { order, keys, span: 32 - Math.clz32(hi - lo) };
}

/**
 * Second half of {@link sortByValue}: a stable LSD radix sort of the keys (and their entries). `scratch`
 * (at least as long as the keys) holds the other half of each pass instead of two new arrays — e.g.
 * buffers the caller no longer needs; the result may then be in them.
 */
export function radixSortKeys(input: SortKeys, scratch?: { keys: Uint32Array; order: Int32Array }): ValueOrder {
  let keys: Uint32Array = input.keys;
  let order: Int32Array = input.order;
  const { span } = input;
  const m = keys.length;
  const passes = Math.ceil(span / MAX_DIGIT_BITS);
  if (passes === 0) return { order, keys }; // all equal (or none): already in index order
  const digit = Math.ceil(span / passes);
  const buckets = 1 << digit;
  const mask = buckets - 1;
  let keys2: Uint32Array = scratch && scratch.keys.length >= m ? scratch.keys.subarray(0, m) : new Uint32Array(m);
  let order2: Int32Array = scratch && scratch.order.length >= m ? scratch.order.subarray(0, m) : new Int32Array(m);
  const count = new Int32Array(buckets);
  for (let shift = 0; shift < span; shift += digit) {
    count.fill(0);
    for (let j = 0; j < m; j++) count[(keys[j] >>> shift) & mask]++;
    let sum = 0;
    for (let b = 0; b < buckets; b++) { const c = count[b]; count[b] = sum; sum += c; }
    for (let j = 0; j < m; j++) {
      const k = keys[j];
      const d = count[(k >>> shift) & mask]++;
      keys2[d] = k;
      order2[d] = order[j];
    }
    [keys, keys2] = [keys2, keys];
    [order, order2] = [order2, order];
  }
  return { order, keys };
}
