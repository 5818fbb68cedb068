import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PYTHON } from '../test/helpers/python';

const ROOT = join(__dirname, '..');

/**
 * Installs what a benchmark needs before it starts, so any of them runs on a fresh clone right after
 * `npm run demo`: `node infra/bootstrap.mjs` (npm packages, the Temporal CLI in .venv) and, with
 * `reference`, `--test` (the reference tools the recipes run on: numpy, tifffile, imagecodecs,
 * scikit-image, scipy in .venv; about a minute the first time). Each step is skipped when its stamp is
 * current, so this costs well under a second once installed. Returns the venv's Python.
 * @throws Error naming the command to run by hand when the install fails (no registry, no python3)
 */
export function ensureBenchTools(opts: { reference: boolean }): string {
  const args = [join(ROOT, 'infra', 'bootstrap.mjs'), ...(opts.reference ? ['--test'] : [])];
  try {
    execFileSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    throw new Error(`could not install the benchmark's tools; run 'node infra/bootstrap.mjs${opts.reference ? ' --test' : ''}' and see its messages`);
  }
  return PYTHON;
}
