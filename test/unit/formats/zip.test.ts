import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, readZip, writeZip } from '../../../core/formats/zip';
import { runPython } from '../../helpers/python';
import { Random } from '../../../core/synth/random';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-zip-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function seeded(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const r = new Random(seed);
  for (let i = 0; i < n; i++) out[i] = r.int(16); // low entropy so deflate pays off
  return out;
}

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('writeZip → Python zipfile', () => {
  it.each([false, true])('writes stored and deflated entries Python reads back (forceZip64=%s)', (forceZip64) => {
    const entries = [
      { name: 'a.bin', data: seeded(100_000, 1), compress: true },
      { name: 'dir/b.txt', data: new TextEncoder().encode('hello'), compress: false },
      { name: 'empty', data: new Uint8Array(0) },
      { name: 'µm-ünïcode.json', data: seeded(1000, 2) },
    ];
    const path = join(dir, `w${forceZip64}.zip`);
    writeFileSync(path, writeZip(entries, { forceZip64 }));
    const out = JSON.parse(runPython(`
import zipfile, sys, json, hashlib
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps({i.filename: [i.compress_type, hashlib.sha256(z.read(i)).hexdigest()] for i in z.infolist()}))
`, [path])) as Record<string, [number, string]>;
    expect(Object.keys(out)).toEqual(entries.map((e) => e.name));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    for (const e of entries) expect(out[e.name][1]).toBe(createHash('sha256').update(e.data).digest('hex'));
    expect(out['a.bin'][0]).toBe(8);
    expect(out['dir/b.txt'][0]).toBe(0);
  });

  it('switches to ZIP64 past 65,535 entries', () => {
    const entries = Array.from({ length: 65_600 }, (_, i) => ({ name: `e${i}`, data: new Uint8Array([i & 255]), compress: false }));
    const bytes = writeZip(entries);
    const back = readZip(bytes, 'many.zip');
    expect(back.size).toBe(65_600);
    expect(back.get('e65599')).toEqual(new Uint8Array([65_599 & 255]));
    const path = join(dir, 'many.zip');
    writeFileSync(path, bytes);
    expect(runPython('import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(len(z.infolist()), z.read("e65599")[0])', [path]).trim()).toBe(`65600 ${65_599 & 255}`);
  });
});

describe('readZip ← Python zipfile', () => {
  it('reads stored, deflated and ZIP64 entries written by Python', () => {
    const path = join(dir, 'py.zip');
    runPython(`
import zipfile, sys
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('stored.txt', b'abc' * 100, compress_type=zipfile.ZIP_STORED)
    z.writestr('deflated.bin', bytes(range(256)) * 400, compress_type=zipfile.ZIP_DEFLATED)
    with z.open('forced64.bin', 'w', force_zip64=True) as f:
        f.write(b'xyz' * 1000)
`, [path]);
    const m = readZip(new Uint8Array(readFileSync(path)), path);
    expect([...m.keys()]).toEqual(['stored.txt', 'deflated.bin', 'forced64.bin']);
    expect(Buffer.from(m.get('stored.txt')!).toString()).toBe('abc'.repeat(100));
    const expected = new Uint8Array(256 * 400).map((_, i) => i & 255);
    expect(m.get('deflated.bin')).toEqual(expected);
    expect(Buffer.from(m.get('forced64.bin')!).toString()).toBe('xyz'.repeat(1000));
  });

  it('rejects bad archives with one clear message naming the file', () => {
    const good = writeZip([{ name: 'x', data: seeded(5000, 3) }]);
    expect(() => readZip(new Uint8Array(0), 'empty.zip')).toThrow(/empty\.zip: .*empty/);
    expect(() => readZip(new TextEncoder().encode('not a zip at all, just some text here'), 'text.zip')).toThrow(/text\.zip: not a valid ZIP/);
    expect(() => readZip(good.subarray(0, good.length - 30), 'trunc.zip')).toThrow(/trunc\.zip/);
    const corrupt = good.slice();
    corrupt[40] ^= 0xff; // inside the deflate stream
    expect(() => readZip(corrupt, 'corrupt.zip')).toThrow(/corrupt\.zip: ZIP entry 'x'/);
  });
});
