import { releaseBuffers } from '../../../core/parallel/release';

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('releaseBuffers', () => {
  test('empties every view of the released buffers (their memory goes with them); shared buffers are left alone', async () => {
    const a = new Float32Array(1 << 20).fill(1);
    const view = new Uint8Array(a.buffer, 16, 32);
    const shared = new Int32Array(new SharedArrayBuffer(64)).fill(3);
    const kept = new Int32Array(8).fill(5);
    releaseBuffers(a.buffer, a.buffer, shared.buffer, undefined);
    await turn();
    await turn();
    expect([a.length, view.length, a.buffer.byteLength]).toEqual([0, 0, 0]);
    expect(Array.from(shared)).toEqual(new Array(16).fill(3));
    expect(Array.from(kept)).toEqual(new Array(8).fill(5));
    expect(() => releaseBuffers(a.buffer)).not.toThrow(); // already empty: nothing to do
  });

  test('resolves once the memory is given back, with no other turn of the event loop needed', async () => {
    const MB = 1 << 20;
    const big = new Uint8Array(64 * MB).fill(7);
    const before = process.memoryUsage().arrayBuffers;
    await releaseBuffers(big.buffer);
    expect(before - process.memoryUsage().arrayBuffers).toBeGreaterThanOrEqual(64 * MB);
  });
});
