/**
 * Creates (or confirms) DeepCell's Python 3.10 environment in .tessel/deepcell/venv, the one
 * `tessel model import-mesmer`, the DeepCell oracle tests and bench/deepcell.ts use (core/model/deepcell-env.ts).
 * `.ci/run` calls it before the tests. Without Python 3.10 it prints what to install and exits 0 with --optional
 * (the tests that need the environment then skip with a note), 1 otherwise.
 *
 *   npx tsx infra/deepcell-env.ts [--optional]
 */
import { ensureDeepcellEnv } from '../core/model/deepcell-env';

const optional = process.argv.includes('--optional');
const t0 = Date.now();
ensureDeepcellEnv({ onProgress: (m) => process.stderr.write(`[deepcell-env] ${m}\n`) }).then((python) => {
  process.stderr.write(`[deepcell-env] ${python} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
}, (e: Error) => {
  process.stderr.write(`[deepcell-env] ${optional ? 'warning: ' : ''}${e.message}${optional ? '; the DeepCell oracle tests will be skipped' : ''}\n`);
  process.exitCode = optional ? 0 : 1;
});
