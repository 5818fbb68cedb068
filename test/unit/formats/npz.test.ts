import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, decodeNpz, encodeNpy, encodeNpz, readNpz, writeNpz } from '../../../core/formats/npz';
import type { NdArray } from '../../../core/formats/ndarray';
import { InvalidArrayError } from '../../../core/errors';
import { runPython } from '../../helpers/python';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-npz-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DTYPES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64', 'bool', 'int64'] as const;

/** numpy writes one seeded array per dtype and order; we compare against numpy's own bytes (C order, little-endian). */
const MAKE_PY = `
import numpy as np, sys, json
rng = np.random.default_rng(42)
out = {}
def arr(dt, shape):
    if dt == 'bool': return rng.integers(0, 2, shape).astype(bool)
    if dt.startswith('float'): return (rng.standard_normal(shape) * 1000).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
arrays = {}
for dt in ${JSON.stringify(DTYPES)}:
    a = arr(dt, (3, 4, 5))
    arrays[dt + '_c'] = a
    arrays[dt + '_f'] = np.asfortranarray(a)
    arrays[dt + '_be'] = a.astype(a.dtype.newbyteorder('>'))
arrays['scalar'] = np.array(7.5, dtype=np.float32)
arrays['vec'] = np.arange(10, dtype=np.int32)
arrays['empty'] = np.zeros((0, 3), dtype=np.uint16)
d = sys.argv[1]
np.savez(d + '/stored.npz', **arrays)
np.savez_compressed(d + '/compressed.npz', **arrays)
for k, a in arrays.items():
    np.save(d + '/' + k + '.npy', a)
    np.ascontiguousarray(a.astype(a.dtype.newbyteorder('<'))).tofile(d + '/' + k + '.raw')
`;

function rawOf(a: NdArray): Uint8Array {
  return new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}

describe('npy/npz from numpy', () => {
  beforeAll(() => runPython(MAKE_PY, [dir]));

  it.each(['stored', 'compressed'])('decodes a %s npz: every dtype, C/Fortran order, big-endian', (kind) => {
    const m = decodeNpz(new Uint8Array(readFileSync(join(dir, `${kind}.npz`))), `${kind}.npz`);
    expect(m.size).toBe(DTYPES.length * 3 + 3);
    for (const [name, a] of m) {
      const expected = new Uint8Array(readFileSync(join(dir, `${name}.raw`)));
      expect({ name, bytes: Buffer.from(rawOf(a)).equals(Buffer.from(expected)) }).toEqual({ name, bytes: true });
      if (name.endsWith('_c')) expect(a.dtype).toBe(name.slice(0, -2));
    }
    expect(m.get('uint16_f')!.shape).toEqual([3, 4, 5]);
    expect(m.get('int64_c')!.data).toBeInstanceOf(BigInt64Array);
    expect(m.get('scalar')!.shape).toEqual([]);
    expect(Array.from(m.get('scalar')!.data as Float32Array)).toEqual([7.5]);
    expect(m.get('vec')!.shape).toEqual([10]);
    expect(m.get('empty')!.shape).toEqual([0, 3]);
  });

  it('decodes single .npy files', () => {
    const a = decodeNpy(new Uint8Array(readFileSync(join(dir, 'float32_f.npy'))), 'x.npy');
    expect(a.dtype).toBe('float32');
    expect(Buffer.from(rawOf(a)).equals(readFileSync(join(dir, 'float32_f.raw')))).toBe(true);
  });
});

describe('npz written by Tessel, read by numpy', () => {
  it.each([false, true])('round-trips every dtype (compress=%s)', async (compress) => {
    const arrays: Record<string, NdArray> = {};
    const sample = (i: number) => (i * 2654435761) % 1000;
    for (const dt of DTYPES) {
      const n = 2 * 3 * 7;
      let data;
      switch (dt) {
        case 'uint8': case 'bool': data = Uint8Array.from({ length: n }, (_, i) => (dt === 'bool' ? sample(i) & 1 : sample(i) & 255)); break;
        case 'int8': data = Int8Array.from({ length: n }, (_, i) => (sample(i) & 255) - 128); break;
        case 'uint16': data = Uint16Array.from({ length: n }, (_, i) => sample(i) * 60); break;
        case 'int16': data = Int16Array.from({ length: n }, (_, i) => sample(i) * 30 - 15000); break;
        case 'uint32': data = Uint32Array.from({ length: n }, (_, i) => sample(i) * 4_000_000); break;
        case 'int32': data = Int32Array.from({ length: n }, (_, i) => sample(i) * 2_000_000 - 1_000_000_000); break;
        case 'float32': data = Float32Array.from({ length: n }, (_, i) => sample(i) / 7); break;
        case 'float64': data = Float64Array.from({ length: n }, (_, i) => sample(i) / 7); break;
        case 'int64': data = BigInt64Array.from({ length: n }, (_, i) => BigInt(sample(i)) * 10_000_000_000n - 5n); break;
      }
      arrays[dt] = { data, shape: [2, 3, 7], dtype: dt };
    }
    const path = join(dir, `tessel-${compress}.npz`);
    await writeNpz(path, arrays, { compress });
    expect(readdirSync(dir).some((f) => f.startsWith('.tessel-tmp-'))).toBe(false);
    const report = JSON.parse(runPython(`
import numpy as np, sys, json, zipfile
z = np.load(sys.argv[1])
ct = {i.filename: i.compress_type for i in zipfile.ZipFile(sys.argv[1]).infolist()}
print(json.dumps({k: [str(z[k].dtype), list(z[k].shape), z[k].ravel().tolist() if z[k].dtype.kind != 'b' else z[k].astype(int).ravel().tolist(), ct[k + '.npy']] for k in z.files}, default=str))
`, [path])) as Record<string, [string, number[], (number | string)[], number]>;
    for (const dt of DTYPES) {
      const [pdt, shape, values, method] = report[dt];
      expect(pdt).toBe(dt);
      expect(shape).toEqual([2, 3, 7]);
      const ours = Array.from(arrays[dt].data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? Number(v) : v));
      expect(values.map(Number)).toEqual(dt === 'float32' ? ours.map((v) => Math.fround(v)) : ours);
      expect(method).toBe(compress ? 8 : 0);
    }
    const back = await readNpz(path);
    expect(back.get('int32')!.data).toEqual(arrays.int32.data);
  });

  it('encodeNpy header is 64-byte aligned and numpy-compatible', () => {
    const bytes = encodeNpy({ data: new Float32Array(6), shape: [2, 3], dtype: 'float32' });
    const headerLen = bytes[8] | (bytes[9] << 8);
    expect((10 + headerLen) % 64).toBe(0);
    const path = join(dir, 'one.npy');
    writeFileSync(path, bytes);
    expect(runPython('import numpy as np,sys; a=np.load(sys.argv[1]); print(a.dtype, a.shape)', [path]).trim()).toBe('float32 (2, 3)');
  });
});

describe('malformed input', () => {
  const good = encodeNpz({ a: { data: new Int32Array([1, 2, 3]), shape: [3], dtype: 'int32' } });
  it.each([
    ['empty', new Uint8Array(0)],
    ['garbage', new TextEncoder().encode('this is definitely not a numpy file................')],
    ['truncated', good.subarray(0, good.length - 40)],
  ])('%s npz → InvalidArrayError naming the file', (_, bytes) => {
    expect(() => decodeNpz(bytes, 'bad.npz')).toThrow(InvalidArrayError);
    expect(() => decodeNpz(bytes, 'bad.npz')).toThrow(/^bad\.npz/);
  });
  it('short npy data and unknown dtypes are refused', () => {
    const npy = encodeNpy({ data: new Int32Array([1, 2, 3]), shape: [3], dtype: 'int32' });
    expect(() => decodeNpy(npy.subarray(0, npy.length - 1), 'short.npy')).toThrow(/short\.npy: .npy data is truncated/);
    const complex = npy.slice();
    const text = Buffer.from(complex).toString('latin1').replace("'<i4'", "'<c8'");
    expect(() => decodeNpy(new Uint8Array(Buffer.from(text, 'latin1')), 'c.npy')).toThrow(/c\.npy: unsupported dtype '<c8'/);
  });
  it('missing file gives NOT_FOUND and writes nothing', async () => {
    await expect(readNpz(join(dir, 'nope.npz'))).rejects.toThrow(/nope\.npz/);
    expect(existsSync(join(dir, 'nope.npz'))).toBe(false);
  });
});
