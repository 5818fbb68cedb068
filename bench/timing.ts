/**
 * What the benchmarks share: a spawned command's wall time and peak memory, measured by a Python
 * wrapper (getrusage(RUSAGE_CHILDREN).ru_maxrss: the largest process of the tree, KiB on Linux),
 * and small statistics over rounds.
 */
import { execFileSync } from 'node:child_process';
import { MEMORY_ENV } from '../bin/memory-env';
import type { ModelSession } from '../core/predict/session';
import { ensureBenchTools } from './tools';

export interface Timed {
  seconds: number;
  peakRssBytes: number;
  stdout: string;
}

const WRAPPER = `
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
dt = time.perf_counter() - t
if p.returncode != 0:
    sys.stderr.write(p.stderr); sys.exit(p.returncode)
print(json.dumps({'seconds': dt, 'peakRssBytes': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, 'stdout': p.stdout}))
`;

let python: string | undefined;

/** Runs `cmd` to completion; throws with its stderr when it fails. */
export function timed(cmd: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Timed {
  // Node processes (Tessel's CLI) get the environment bin/tessel.js gives the image commands; the
  // reference recipes (Python) run as they are.
  if (cmd[0] === process.execPath) env = { ...env, ...MEMORY_ENV };
  // The wrapper runs on the project's venv Python, installed here on first use (a fresh clone has none).
  python ??= ensureBenchTools({ reference: true });
  return JSON.parse(execFileSync(python, ['-c', WRAPPER, ...cmd], { cwd, env, encoding: 'utf8', maxBuffer: 1 << 28 })) as Timed;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** "1.23 s (1.10–1.40)": median and range of several rounds. */
export function spread(xs: number[], digits = 2, unit = ' s'): string {
  return xs.length === 1 ? `${xs[0].toFixed(digits)}${unit}` : `${median(xs).toFixed(digits)}${unit} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}

/** The value of `--name` in argv, else the fallback. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/**
 * Raw `session.run` time of `batches` on a model's sessions, laid out as the prediction pipeline lays
 * them out (core/predict/pipeline.ts `runTileBatches`): batch b on session b mod n, each session's
 * batches one after another, the sessions at once; nothing else runs meanwhile. Seconds.
 */
export async function rawRunS(ms: ModelSession, batches: readonly { data: Float32Array; dims: number[] }[]): Promise<number> {
  const inputName = ms.model.metadata.input.name;
  const names = ms.model.metadata.outputs.map((o) => o.name);
  const t0 = performance.now();
  await Promise.all(ms.sessions.map(async (s, i) => {
    for (let b = i; b < batches.length; b += ms.sessions.length) await s.run(inputName, batches[b].data, batches[b].dims, names);
  }));
  return (performance.now() - t0) / 1000;
}
