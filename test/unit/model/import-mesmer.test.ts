/** @jest-environment ./test/unit/predict/ort-environment.js */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeZip } from '../../../core/formats/zip';
import { predictArray } from '../../../core/predict/pipeline';
import { releaseSessions } from '../../../core/predict/session';
import { loadModelCollection } from '../../../core/model/collection';
import { importMesmer } from '../../../core/mesmer-import';
import { HeadMeaning } from '../../../core/model/metadata';
import { deepcellPython, describeWithDeepcell, runDeepcellPython, tesselCli } from '../../helpers/deepcell';

/**
 * `tessel model import-mesmer` on small Keras models built by test/fixtures/make_mesmer_variants.py in DeepCell's
 * environment: Mesmer-shaped ones in each format and batch kind, and the bad inputs a user can hand it, each of
 * which must fail with one line naming the file and the cause and leave nothing behind.
 */
const VARIANTS = join(__dirname, '..', '..', 'fixtures', 'make_mesmer_variants.py');
/** Each TensorFlow start costs 5–10 s on an idle 2-core machine, several times that on a busy one. */
const PYTHON_TEST_TIMEOUT = 600_000;

/** Runs the CLI into an empty folder; on failure that folder must stay empty (no bundle, no temporary file). */
async function importInto(dir: string, source: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []) {
  const outDir = mkdtempSync(join(dir, 'out-'));
  const r = await tesselCli(['model', 'import-mesmer', source, '--out', join(outDir, 'm.zip'), ...extra], env);
  return { ...r, outDir, left: readdirSync(outDir), lines: r.stderr.trim().split('\n').filter((l) => l.startsWith('tessel:')) };
}

describe('import-mesmer: inputs refused before any Python runs', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tessel-import-early-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['an empty file', (p: string) => writeFileSync(p, ''), /m\.h5: is empty$/],
    ['a folder without saved_model.pb', (p: string) => mkdirSync(p), /: is a folder without saved_model\.pb \(not a TensorFlow SavedModel\)$/],
    ['a Keras 3 .keras archive', (p: string) => writeFileSync(p, writeZip([{ name: 'config.json', data: new TextEncoder().encode('{}') }])), /: is a Keras 3 \.keras archive, which TensorFlow 2\.8 cannot read/],
    ['a file that is no model at all', (p: string) => writeFileSync(p, 'not a model'), /: is neither an HDF5 Keras model/],
  ])('%s: one line naming it, nothing written', async (_what, make, cause) => {
    const source = join(dir, `${_what.replace(/\W+/g, '-')}-m.h5`);
    make(source);
    const r = await importInto(dir, source);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain(source);
    expect(r.lines[0]).toMatch(cause);
    expect(r.left).toEqual([]);
  });

  test('no Python 3.10: says what to install, names TESSEL_PYTHON310, writes nothing', async () => {
    const source = join(dir, 'ok.h5');
    writeFileSync(source, Buffer.concat([Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'), Buffer.alloc(64)]));
    const r = await importInto(dir, source, { TESSEL_PYTHON310: join(dir, 'no-such-python3.10'), TESSEL_DEEPCELL_HOME: join(dir, 'deepcell-home') });
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/TESSEL_PYTHON310=.*no-such-python3\.10 is not a working Python 3\.10; deepcell 0\.12\.10 \(TensorFlow 2\.8\) needs exactly Python 3\.10: install Python 3\.10 \(Debian\/Ubuntu: apt-get install python3\.10 python3\.10-venv; pyenv: pyenv install 3\.10\)/);
    expect(r.left).toEqual([]);
    expect(existsSync(join(dir, 'deepcell-home'))).toBe(false);
  });
});

describeWithDeepcell('import-mesmer on Keras models built in DeepCell\'s environment', () => {
  let dir: string;
  let models: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessel-import-mesmer-'));
    models = join(dir, 'models');
    await runDeepcellPython(await deepcellPython(), VARIANTS, [models]);
  }, 30 * 60_000);
  afterAll(async () => {
    await releaseSessions();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a SavedModel folder: one command writes a verified bundle that segments', async () => {
    const r = await importInto(dir, join(models, 'tiny_savedmodel'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*m\.zip \(mesmer imported\+[0-9a-f]{12}, float32; tile 64, batch dynamic\)$/m);
    const c = await loadModelCollection(join(r.outDir, 'm.zip'));
    expect(c.metadata.outputs.map((o) => [o.name, o.meaning, o.shape[3]])).toEqual(HeadMeaning.options.map((m, k) => [`semantic_${k}`, m, k % 2 ? 3 : 1]));
    expect(c.metadata).toMatchObject({ tileSize: 64, umPerPixel: 0.5, strideRatio: 0.75, input: { shape: [null, 64, 64, 2] } });
    expect(c.metadata.provenance).toMatch(/tensorflow 2\.8\.\d+, tf2onnx 1\.14\.0 \(from_keras, opset 13\)/);
    const v = await tesselCli(['model', 'inspect', '--verify', join(r.outDir, 'm.zip')]);
    expect(v.code).toBe(0);
    expect(v.stdout.match(/^ {2}OK {3}.*max \|Δ\|/gm)).toHaveLength(4);
    const p = await predictArray({ input: new Float32Array(150 * 130 * 2).map((_, i) => (i * 7919) % 255), width: 150, height: 130, model: c });
    expect(p.headChannels).toEqual([1, 3, 1, 3]);
    expect(p.heads[1].length).toBe(150 * 130 * 3);
  }, PYTHON_TEST_TIMEOUT);

  test('an .h5 file, and a Keras 2 .keras file with a fixed batch of 2 (zero-filled last batch)', async () => {
    const h5 = await importMesmer({ source: join(models, 'tiny.h5'), out: join(dir, 'h5.zip') });
    expect(h5.bundles[0].metadata.input.shape).toEqual([null, 64, 64, 2]);
    const fixed = await importMesmer({ source: join(models, 'tiny_fixed.keras'), out: join(dir, 'fixed.zip') });
    expect(fixed.bundles[0].metadata.input.shape).toEqual([2, 64, 64, 2]);
    const c = await loadModelCollection(join(dir, 'fixed.zip'));
    expect(c.testTensors!.input.shape).toEqual([2, 64, 64, 2]);
    const p = await predictArray({ input: new Float32Array(150 * 150 * 2).map((_, i) => (i * 104729) % 97), width: 150, height: 150, model: c });
    expect([p.tiles, p.batchSize]).toEqual([9, 2]); // 9 tiles in batches of 2: the last one padded
  }, PYTHON_TEST_TIMEOUT);

  test.each([
    ['three_channels.h5', /: input has 3 channels \[None, 64, 64, 3\]; Mesmer takes 2 \(nuclear, membrane\)$/],
    ['heads_1312.h5', /: has 4 outputs with channels \[1, 3, 1, 2\]; Mesmer has four heads with 1, 3, 1, 3/],
    ['nchw.h5', /: input \[None, 2, 64, 64\] is channels-first \(NCHW\); Mesmer takes NHWC \(N, H, W, 2\)$/],
    ['unconvertible.h5', /: tf2onnx could not express every operation in ONNX opset 13 \(No Op registered for Lgamma/],
  ])('%s: one line naming the file and the cause, nothing written', async (file, cause) => {
    const r = await importInto(dir, join(models, file), {}, ['--half']);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain(join(models, file));
    expect(r.lines[0]).toMatch(cause);
    expect(r.left).toEqual([]);
  }, PYTHON_TEST_TIMEOUT);

  test('a truncated .h5 and a SavedModel with a corrupt saved_model.pb: "cannot be read", nothing written', async () => {
    const truncated = join(dir, 'truncated.h5');
    copyFileSync(join(models, 'tiny.h5'), truncated);
    truncateSync(truncated, Math.floor(readFileSync(truncated).length / 2));
    const corrupt = join(dir, 'corrupt_savedmodel');
    cpSync(join(models, 'tiny_savedmodel'), corrupt, { recursive: true });
    const pb = readFileSync(join(corrupt, 'saved_model.pb'));
    writeFileSync(join(corrupt, 'saved_model.pb'), pb.subarray(0, Math.floor(pb.length / 3)));
    for (const source of [truncated, corrupt]) {
      const r = await importInto(dir, source);
      expect(r.code).toBe(1);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toMatch(new RegExp(`^tessel: ${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot be read as a Keras model \\(\\w+`));
      expect(r.left).toEqual([]);
    }
  }, PYTHON_TEST_TIMEOUT);
});
