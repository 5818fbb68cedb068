import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { assembleWat, wasmModuleSource, wasmSources } from '../../../infra/build-wasm';

describe('WebAssembly kernels (core/kernels/wasm)', () => {
  const sources = wasmSources();

  test('there are sources to check', () => {
    expect(sources.map((s) => basename(s.wat))).toContain('gaussian.wat');
  });

  // An edited .wat whose embedded binary was not rebuilt would leave the kernels running old code.
  test.each(sources.map((s) => [basename(s.wat), s] as const))('%s is embedded as assembled (else run npx tsx infra/build-wasm.ts)', async (_name, s) => {
    const binary = await assembleWat(s.wat);
    expect(readFileSync(s.module, 'utf8')).toBe(wasmModuleSource(basename(s.wat), binary));
  });
});
