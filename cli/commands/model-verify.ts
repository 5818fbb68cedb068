import type { ModelMetadata } from '../../core/model/metadata';
import { describeCheck, readTestTensors } from '../../core/model/test-tensors';
import type { VerifyReport } from '../../core/model/verify';
import { verifyOnnx } from '../../core/model/verify-onnx';

/** `tessel model inspect --verify`'s part of the report. */
export type InspectVerification = ({ ok: true } & VerifyReport) | ({ ok: false; error: string } & Partial<VerifyReport>);

/** Runs a collection's test tensors (when it has any) through onnxruntime on `device`. */
export async function verifyForInspect(uri: string, entries: Map<string, Uint8Array>, metadata: ModelMetadata | undefined, onnx: Uint8Array | undefined,
  device: 'cpu' | 'cuda'): Promise<InspectVerification> {
  if (!metadata || !onnx) return { ok: false, error: 'cannot verify: the metadata or the model is unreadable' };
  if (!metadata.testTensors) return { ok: false, error: 'no test tensors in this collection (bundled without them; `tessel model import-mesmer` and `build-reference` add them)' };
  let tests;
  try {
    tests = readTestTensors(entries, metadata.testTensors, uri);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const report = await verifyOnnx(onnx, tests, { device, file: uri });
  return report.ok ? { ...report, ok: true } : { ...report, ok: false, error: `test tensors fail on ${device}` };
}

/** Text lines for the verification (one per output). */
export function verificationLines(v: InspectVerification, metadata: ModelMetadata | undefined, device: string): string[] {
  if (!v.checks) return [`verify: FAIL: ${'error' in v ? v.error : 'no report'}`];
  const meaning = (name: string) => metadata?.outputs.find((o) => o.name === name)?.meaning;
  return [
    `verify on ${device}: test input [${v.inputDims!.join(', ')}], expected outputs from ${v.source} (${v.runS!.toFixed(2)} s)`,
    ...v.checks.map((c) => `  ${c.ok ? 'OK  ' : 'FAIL'} ${describeCheck(c, meaning(c.name) ? `${meaning(c.name)} (${c.name})` : c.name)}`),
  ];
}
