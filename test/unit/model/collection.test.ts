import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTesselError } from '../../../core/errors';
import { readZip, writeZip } from '../../../core/formats/zip';
import { bundleModelCollection, encodeModelCollection, loadModelCollection, METADATA_ENTRY, ONNX_ENTRY, sha256Hex } from '../../../core/model/collection';
import { referenceMetadata } from '../../../core/reference';
import { runPython } from '../../helpers/python';

const fakeOnnx = new Uint8Array(Array.from({ length: 1000 }, (_, i) => (i * 7) & 255));

async function expectCode(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isTesselError(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  expect((err as Error).message).toMatch(pattern);
}

describe('model collections', () => {
  let dir: string;
  const metadata = referenceMetadata('0.0.0-test');
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tessel-collection-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('bundle then load round-trips, with a manifest Python can verify', async () => {
    writeFileSync(join(dir, 'm.onnx'), fakeOnnx);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(metadata));
    const out = join(dir, 'model.zip');
    await bundleModelCollection({ onnxPath: join(dir, 'm.onnx'), metadataPath: join(dir, 'meta.json'), out });
    const loaded = await loadModelCollection(out);
    expect(Buffer.from(loaded.onnx).equals(Buffer.from(fakeOnnx))).toBe(true);
    expect(loaded.metadata).toEqual(metadata);
    expect(loaded.sha256).toBe(sha256Hex(readFileSync(out)));
    const verdict = runPython(`
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
m = json.loads(z.read('manifest.json'))
ok = all(hashlib.sha256(z.read(n)).hexdigest() == e['sha256'] and len(z.read(n)) == e['bytes'] for n, e in m['files'].items())
print(ok, sorted(z.namelist()))
`, [out]).trim();
    expect(verdict).toBe("True ['manifest.json', 'segmentation/model.onnx', 'segmentation/model_metadata.json']");
  });

  test('a file that does not match its checksum is refused', async () => {
    const good = encodeModelCollection(fakeOnnx, metadata);
    const entries = readZip(good, 'good');
    const tampered = new Uint8Array(fakeOnnx);
    tampered[500] ^= 1;
    const bad = writeZip([...entries].map(([name, data]) => ({ name, data: name === ONNX_ENTRY ? tampered : data })));
    const path = join(dir, 'tampered.zip');
    writeFileSync(path, bad);
    await expectCode(loadModelCollection(path), 'MODEL_CHECKSUM_MISMATCH', /tampered\.zip.*segmentation\/model\.onnx has SHA-256/);
  });

  test('missing manifest, extra file, and a non-ZIP are refused', async () => {
    const entries = readZip(encodeModelCollection(fakeOnnx, metadata), 'good');
    const noManifest = join(dir, 'nomanifest.zip');
    writeFileSync(noManifest, writeZip([...entries].filter(([n]) => n !== 'manifest.json').map(([name, data]) => ({ name, data }))));
    await expectCode(loadModelCollection(noManifest), 'MODEL_CHECKSUM_MISMATCH', /no manifest\.json/);
    const extra = join(dir, 'extra.zip');
    writeFileSync(extra, writeZip([...[...entries].map(([name, data]) => ({ name, data })), { name: 'segmentation/other.onnx', data: fakeOnnx }]));
    await expectCode(loadModelCollection(extra), 'MODEL_CHECKSUM_MISMATCH', /other\.onnx is not in the manifest/);
    const notZip = join(dir, 'not.zip');
    writeFileSync(notZip, 'hello');
    await expectCode(loadModelCollection(notZip), 'MODEL_CHECKSUM_MISMATCH', /not\.zip: not a readable model collection ZIP/);
    await expectCode(loadModelCollection(join(dir, 'absent.zip')), 'NOT_FOUND', /absent\.zip/);
  });

  test('bad metadata is refused with the failing keys named', async () => {
    const bad = { ...metadata, outputs: metadata.outputs.slice(0, 3), umPerPixel: -1 };
    expect(() => encodeModelCollection(fakeOnnx, JSON.stringify(bad))).toThrow(/outputs.*4|umPerPixel/);
    // A collection whose checksums are right but whose metadata is wrong (built by hand).
    const metaBytes = new TextEncoder().encode(JSON.stringify({ ...metadata, outputs: [...metadata.outputs.slice(0, 3), metadata.outputs[0]] }));
    const manifest = { schemaVersion: 1, files: {
      [ONNX_ENTRY]: { sha256: sha256Hex(fakeOnnx), bytes: fakeOnnx.length },
      [METADATA_ENTRY]: { sha256: sha256Hex(metaBytes), bytes: metaBytes.length } } };
    const path = join(dir, 'badmeta.zip');
    writeFileSync(path, writeZip([{ name: 'manifest.json', data: new TextEncoder().encode(JSON.stringify(manifest)) },
      { name: ONNX_ENTRY, data: fakeOnnx }, { name: METADATA_ENTRY, data: metaBytes }]));
    await expectCode(loadModelCollection(path), 'MODEL_CONTRACT', /badmeta\.zip.*four Mesmer heads/);
    writeFileSync(join(dir, 'broken.json'), '{ not json');
    await expectCode(bundleModelCollection({ onnxPath: join(dir, 'm.onnx'), metadataPath: join(dir, 'broken.json'), out: join(dir, 'x.zip') }),
      'MODEL_CONTRACT', /broken\.json.*not valid JSON/);
  });
});
