import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpz, encodeNpz } from '../../../core/formats/npz';
import { NpzFile, NpzWriter } from '../../../core/formats/npz-stream';
import type { NdArray } from '../../../core/formats/ndarray';
import { InvalidArrayError } from '../../../core/errors';
import { runPython } from '../../helpers/python';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-npz-stream-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytesOf = (a: NdArray) => Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);

describe('NpzFile (ranged reads)', () => {
  beforeAll(() => runPython(`
import numpy as np, sys
rng = np.random.default_rng(3)
heads = {'arr_0': rng.random((1, 37, 29, 1), dtype=np.float32), 'arr_1': rng.random((1, 37, 29, 3), dtype=np.float32),
         'ints': rng.integers(-9, 9, (5, 4, 2)).astype('>i2'), 'fortran': np.asfortranarray(rng.random((6, 7, 3))),
         'bytes': rng.integers(0, 255, (9, 3), dtype=np.uint8)}
np.savez(sys.argv[1] + '/stored.npz', **heads)
np.savez_compressed(sys.argv[1] + '/compressed.npz', **heads)
`, [dir]));

  it.each(['stored', 'compressed'])('reads each array of a %s np.savez file as decodeNpz does, and any channel of the last axis', async (kind) => {
    const path = join(dir, `${kind}.npz`);
    const whole = decodeNpz(new Uint8Array(readFileSync(path)), path);
    const f = await NpzFile.open(path);
    try {
      expect(f.arrays.map((a) => a.name)).toEqual([...whole.keys()]);
      for (const [name, a] of whole) {
        const got = await f.read(name);
        expect({ name, shape: got.shape, dtype: got.dtype, same: bytesOf(got).equals(bytesOf(a)) }).toEqual({ name, shape: a.shape, dtype: a.dtype, same: true });
        const channels = a.shape[a.shape.length - 1];
        for (let c = 0; c < channels; c++) {
          const plane = await f.readChannel(name, c);
          const src = a.data as unknown as ArrayLike<number>;
          const want = Array.from({ length: src.length / channels }, (_, i) => src[i * channels + c]);
          expect({ name, c, shape: plane.shape, values: Array.from(plane.data as unknown as ArrayLike<number>) }).toEqual({ name, c, shape: a.shape.slice(0, -1), values: want });
        }
      }
    } finally {
      await f.close();
    }
  });

  it('names the file and the entry on a CRC mismatch, a missing array or a bad channel', async () => {
    const path = join(dir, 'stored.npz');
    const bytes = new Uint8Array(readFileSync(path));
    const f0 = await NpzFile.open(path);
    const arr1 = f0.info('arr_1')!;
    await f0.close();
    expect(arr1.shape).toEqual([1, 37, 29, 3]);
    // Flip one data byte of arr_1 (its data follows its 128-byte npy header; find it by the entry name).
    const at = Buffer.from(bytes).indexOf('arr_1.npy') + 'arr_1.npy'.length + 20 + 128 + 100;
    const corrupt = bytes.slice();
    corrupt[at] ^= 0xff;
    const bad = join(dir, 'corrupt.npz');
    writeFileSync(bad, corrupt);
    const f = await NpzFile.open(bad);
    try {
      await expect(f.readChannel('arr_1', 1)).rejects.toThrow(/corrupt\.npz.*arr_1\.npy.*CRC/);
      await expect(f.read('arr_1')).rejects.toThrow(InvalidArrayError);
      await expect(f.read('nope')).rejects.toThrow(/no array 'nope'.*arr_0/);
      await expect(f.readChannel('arr_0', 1)).rejects.toThrow(/no channel 1/);
      expect(Array.from((await f.read('arr_0')).data as Float32Array).length).toBe(37 * 29); // the others still read
    } finally {
      await f.close();
    }
    // A stored entry whose directory claims more bytes than it holds: refused at open, before any
    // array of the claimed size is allocated.
    const big = encodeNpz({ a: { data: new Float32Array(4), shape: [4], dtype: 'float32' } });
    const cd = Buffer.from(big).indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    new DataView(big.buffer, big.byteOffset).setUint32(cd + 24, 0x7fff0000, true);
    writeFileSync(join(dir, 'claims.npz'), big);
    await expect(NpzFile.open(join(dir, 'claims.npz'))).rejects.toThrow(/claims\.npz.*'a\.npy' is stored with \d+ bytes but claims 2147418112/);
    writeFileSync(join(dir, 'short.npz'), bytes.subarray(0, 1000));
    await expect(NpzFile.open(join(dir, 'short.npz'))).rejects.toThrow(/short\.npz.*not a valid ZIP/);
  });
});

describe('NpzWriter', () => {
  const arrays = (): Record<string, NdArray> => {
    const a = new Float32Array(11 * 13).map((_, i) => Math.sin(i));
    const b = new Float32Array(11 * 13 * 3).map((_, i) => i / 7);
    const c = new Int32Array([1, -2, 3]);
    return {
      arr_0: { data: a, shape: [1, 11, 13, 1], dtype: 'float32' },
      arr_1: { data: b, shape: [1, 11, 13, 3], dtype: 'float32' },
      labels: { data: c, shape: [3], dtype: 'int32' },
    };
  };

  it('writes, rows interleaved across arrays, the same bytes as encodeNpz, which numpy loads', async () => {
    const want = arrays();
    const path = join(dir, 'out', 'written.npz');
    const w = await NpzWriter.create(path, Object.entries(want).map(([name, a]) => ({ name, dtype: a.dtype, shape: a.shape })));
    // Row by row, alternating arrays, as predict hands over finished rows of its four heads.
    for (let y = 0; y < 11; y++) {
      await w.append('arr_0', (want.arr_0.data as Float32Array).subarray(y * 13, (y + 1) * 13));
      await w.append('arr_1', (want.arr_1.data as Float32Array).subarray(y * 39, (y + 1) * 39));
      if (y === 5) await w.append('labels', want.labels.data);
    }
    expect(existsSync(path)).toBe(false); // nothing published before commit
    await w.commit();
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(encodeNpz(want)))).toBe(true);
    expect(readdirSync(join(dir, 'out'))).toEqual(['written.npz']); // no temporary left behind
    const check = runPython(`
import numpy as np, sys
z = np.load(sys.argv[1])
print(z['arr_1'].shape, float(z['arr_1'][0, 10, 12, 2]), z['labels'].tolist())`, [path]);
    expect(check.trim()).toBe(`(1, 11, 13, 3) ${Math.fround((11 * 13 * 3 - 1) / 7)} [1, -2, 3]`);
  });

  it('publishes nothing when an array is incomplete or the writer is aborted, and rejects overruns', async () => {
    const want = arrays();
    const path = join(dir, 'out2', 'partial.npz');
    const w = await NpzWriter.create(path, Object.entries(want).map(([name, a]) => ({ name, dtype: a.dtype, shape: a.shape })));
    await w.append('arr_0', want.arr_0.data);
    await expect(w.append('arr_0', new Float32Array(1))).rejects.toThrow(/holds/);
    await expect(w.append('labels', new Float32Array(3))).rejects.toThrow(/int32/);
    await expect(w.commit()).rejects.toThrow(/'arr_1' has 0 of its/);
    expect(readdirSync(join(dir, 'out2'))).toEqual([]);
    const w2 = await NpzWriter.create(path, [{ name: 'x', dtype: 'uint8', shape: [2] }]);
    await w2.abort();
    expect(readdirSync(join(dir, 'out2'))).toEqual([]);
  });
});
