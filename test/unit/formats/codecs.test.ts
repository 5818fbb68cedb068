import { deflateSync } from 'node:zlib';
import { inflateZlib } from '../../../core/formats/tiff-codecs';

describe('inflateZlib into a reused scratch buffer', () => {
  const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251);
  const packed = new Uint8Array(deflateSync(data));

  test('gives the same bytes as a fresh inflate, as a view of the scratch', () => {
    const scratch = new Uint8Array(data.length + 1);
    for (let round = 0; round < 3; round++) {
      const out = inflateZlib(packed, data.length, scratch);
      expect(out.buffer === scratch.buffer).toBe(true);
      expect(Buffer.compare(out, data)).toBe(0);
    }
    expect(Buffer.compare(inflateZlib(packed, data.length), data)).toBe(0);
  });

  test('data longer than expected falls back to a whole inflate', () => {
    const scratch = new Uint8Array(1001);
    const out = inflateZlib(packed, 1000, scratch);
    expect(out.buffer === scratch.buffer).toBe(false);
    expect(out.length).toBe(data.length);
  });

  test('corrupt and truncated data throw, and the next tile still inflates', () => {
    const scratch = new Uint8Array(data.length + 1);
    expect(() => inflateZlib(packed.subarray(0, 200), data.length, scratch)).toThrow(/unexpected end of file/);
    const bad = packed.slice();
    bad[0] = 0x12; // not a zlib header
    expect(() => inflateZlib(bad, data.length, scratch)).toThrow(/incorrect header check/);
    expect(Buffer.compare(inflateZlib(packed, data.length, scratch), data)).toBe(0);
  });
});
