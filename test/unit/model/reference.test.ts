/** @jest-environment ./test/unit/predict/ort-environment.js */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModelCollection, loadModelCollection } from '../../../core/model/collection';
import { ensureReferenceModel, REFERENCE_MODEL_NAME, referenceMetadata, referenceVersion } from '../../../core/reference';
import { evaluateOnSynthetic } from '../../../core/reference/evaluate';
import { FEATURE_COUNT } from '../../../core/reference/filters';
import { buildReferenceOnnx } from '../../../core/reference/graph';
import { OUTPUT_ROWS } from '../../../core/reference/network';

/**
 * The reference model end to end on a small held-out synthetic image (a seed the fit never saw), with
 * a bar below the benchmark's (bench/reference-model-quality.ts) but far above what a broken model
 * reaches — shown by the negative control with untrained weights.
 */
describe('reference model', () => {
  let modelUri: string;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessel-reference-'));
    modelUri = await ensureReferenceModel(); // the shared .tessel/models cache: built once (~25 s), then reused
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('is a verified collection that says what it is', async () => {
    const c = await loadModelCollection(modelUri);
    expect(c.metadata.name).toBe(REFERENCE_MODEL_NAME);
    expect(c.metadata.version).toBe(referenceVersion());
    expect(c.metadata.provenance).toMatch(/synthetic/);
    expect(c.metadata.provenance).toMatch(/NOT Mesmer/);
    expect(await ensureReferenceModel()).toBe(modelUri); // cached: no rebuild
  });

  test('segments a held-out synthetic image (nuclear F1 ≥ 0.85, whole-cell F1 ≥ 0.75 at IoU 0.5)', async () => {
    const [r] = await evaluateOnSynthetic({ modelUri, seeds: [424242], size: 256, channels: 6 });
    const by = Object.fromEntries(r.scores.map((s) => [s.compartment, s]));
    expect(by.nuclear.f1).toBeGreaterThanOrEqual(0.85);
    expect(by['whole-cell'].f1).toBeGreaterThanOrEqual(0.75);
    expect(by['whole-cell'].meanMatchedIoU).toBeGreaterThan(0.75);
  });

  test('negative control: the same graph with untrained weights fails the bar', async () => {
    const weights = { hidden: 4, w1: new Float32Array(4 * FEATURE_COUNT), b1: new Float32Array(4), w2: new Float32Array(OUTPUT_ROWS * 4), b2: new Float32Array(OUTPUT_ROWS) };
    const path = join(dir, 'untrained.zip');
    writeFileSync(path, encodeModelCollection(buildReferenceOnnx(weights, { version: 'x', docString: 'x' }), referenceMetadata('untrained')));
    const [r] = await evaluateOnSynthetic({ modelUri: path, seeds: [424242], size: 256, channels: 6 });
    for (const s of r.scores) expect(s.f1).toBeLessThan(0.5);
  });
});
