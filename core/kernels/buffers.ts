/** A copy of `a` in a buffer twice as long: growable stacks and queues in the flat inner loops. */
export function growInt32(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
