import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NdArray } from '../../../core/formats/ndarray';
import { readNpz, writeNpz } from '../../../core/formats/npz';
import { runPython } from '../../helpers/python';
import { Random } from '../../../core/synth/random';

/**
 * Runs a Python snippet on arrays: `inputs` are saved as `in.npz`; the snippet sees them as `I`
 * (an NpzFile) and fills the dict `O`, which comes back as arrays. numpy is `np`.
 */
export async function python(code: string, inputs: Record<string, NdArray>): Promise<Map<string, NdArray>> {
  const dir = mkdtempSync(join(tmpdir(), 'tessel-kernels-'));
  try {
    await writeNpz(join(dir, 'in.npz'), inputs);
    const script = [
      'import sys, warnings', 'import numpy as np', 'warnings.simplefilter("ignore")',
      'I = np.load(sys.argv[1] + "/in.npz")', 'O = {}', code, 'np.savez(sys.argv[1] + "/out.npz", **O)',
    ].join('\n');
    runPython(script, [dir]);
    return await readNpz(join(dir, 'out.npz'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A seeded generator so test inputs are reproducible. */
export function rng(seed: number): () => number {
  const r = new Random(seed);
  return () => r.next();
}

export const f32 = (data: Float32Array, h: number, w: number): NdArray => ({ data, shape: [h, w], dtype: 'float32' });
export const i32 = (data: Int32Array, h: number, w: number): NdArray => ({ data, shape: [h, w], dtype: 'int32' });
export const u8 = (data: Uint8Array, h: number, w: number): NdArray => ({ data, shape: [h, w], dtype: 'uint8' });

/** Number of positions where two arrays differ (NaN never equal). */
export function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
