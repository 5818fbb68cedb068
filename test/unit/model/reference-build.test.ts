import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readZip } from '../../../core/formats/zip';
import { ensureReferenceModel } from '../../../core/reference';

/**
 * Reproducibility: building the reference model from scratch in another folder gives the same ONNX
 * and metadata bytes as the shared cache (ZIP entry timestamps aside, which the ZIP writer stamps).
 */
test('a fresh build of the reference model has the same model and metadata bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessel-reference-build-'));
  try {
    const cached = await ensureReferenceModel();
    const fresh = await ensureReferenceModel({ cacheDir: dir });
    expect(fresh).not.toBe(cached);
    const a = readZip(readFileSync(cached), cached), b = readZip(readFileSync(fresh), fresh);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, data] of a) expect(Buffer.from(b.get(name)!).equals(Buffer.from(data))).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
