import { ModelTestError } from '../errors';
import { compareOutput, describeCheck, type HeadCheck, type TestTensorData } from './test-tensors';

/**
 * Self-verifying bundles: run a collection's test input through an onnxruntime session and compare every
 * output with what the source framework computed (core/model/test-tensors.ts). A worker does it once, when it
 * creates the session a bundle will run on (core/predict/session.ts), so a bundle that computes wrong on that
 * machine's execution provider is refused before it writes a single mask; `tessel model inspect --verify`
 * prints the same report.
 */

/** Runs one batch: the input as N×H×W×C float32, returns the named outputs. */
export type TestRunner = (input: Float32Array, dims: number[], fetches: string[]) => Promise<Record<string, { dims: readonly number[]; data: Float32Array }>>;

export interface VerifyReport {
  /** True when every output is within its tolerances. */
  ok: boolean;
  /** What computed the expected outputs. */
  source: string;
  /** Input dimensions of the test batch. */
  inputDims: number[];
  checks: HeadCheck[];
  /** Seconds the run took. */
  runS: number;
}

/** Run the test tensors through `run` and compare. A runner that throws counts as a failed check of every output. */
export async function runTestTensors(tests: TestTensorData, run: TestRunner): Promise<VerifyReport> {
  const names = tests.spec.outputs.map((o) => o.name);
  const t0 = performance.now();
  let outputs: Awaited<ReturnType<TestRunner>> | undefined;
  let problem: string | undefined;
  try {
    outputs = await run(tests.input.data.slice(), tests.input.shape, names);
  } catch (e) {
    problem = `the test input does not run: ${((e as Error).message ?? String(e)).split('\n')[0].slice(0, 300)}`;
  }
  const runS = (performance.now() - t0) / 1000;
  const checks = tests.spec.outputs.map((o, k) => {
    if (problem) {
      const c = compareOutput(o.name, undefined, tests.expected[k], o);
      return { ...c, problem };
    }
    return compareOutput(o.name, outputs![o.name], tests.expected[k], o);
  });
  return { ok: checks.every((c) => c.ok), source: tests.spec.source, inputDims: tests.input.shape, checks, runS };
}

/**
 * Verify a bundle on the session it will run on; a no-op for a bundle without test tensors.
 * @throws ModelTestError when any output is outside its tolerances (or the test input does not run).
 */
export async function verifyOnLoad(model: { uri: string; testTensors?: TestTensorData }, device: string, run: TestRunner): Promise<VerifyReport | undefined> {
  if (!model.testTensors) return undefined;
  const report = await runTestTensors(model.testTensors, run);
  if (!report.ok) {
    const bad = report.checks.filter((c) => !c.ok).map((c) => describeCheck(c));
    throw new ModelTestError(model.uri, `test tensors fail on ${device}, so this bundle does not compute what ${report.source} did: ${bad.join('; ')}; `
      + 're-import or rebuild the model (tessel model inspect --verify shows the report)', { report });
  }
  return report;
}
