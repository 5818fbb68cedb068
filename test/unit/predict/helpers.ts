import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ModelMetadata } from '../../../core/model/metadata';
import type { InferenceModel } from '../../../core/predict/session';
import { runPython } from '../../helpers/python';

export const FIXTURES = join(__dirname, 'fixtures');

/** A fresh temp dir for one test file. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tessel-${prefix}-`));
}

/** Builds a test ONNX model with make_test_model.py and loads it as an InferenceModel. */
export function makeTestModel(dir: string, kind: 'linear' | 'conv' | 'wrong', ...args: string[]): InferenceModel {
  runPython(join(FIXTURES, 'make_test_model.py'), [dir, kind, ...args]);
  const onnx = new Uint8Array(readFileSync(join(dir, `${kind}.onnx`)));
  const metadata = ModelMetadata.parse(JSON.parse(readFileSync(join(dir, `${kind}.json`), 'utf8')));
  return { uri: join(dir, `${kind}.onnx`), sha256: createHash('sha256').update(onnx).digest('hex'), onnx, metadata };
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
