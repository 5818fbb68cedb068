/**
 * Creates (or confirms) DeepCell's Python 3.10 environment in .tessel/deepcell/venv, the one
 * `tessel model import-mesmer`, the DeepCell oracle tests and bench/deepcell.ts use (core/mesmer-import/deepcell-env.ts).
 * `.ci/run` calls it before the tests. With --optional, a machine without Python 3.10 gets a warning and exit 0
 * (the tests that need DeepCell then skip with a note); a failed install still exits 1.
 *
 *   npx tsx infra/deepcell-env.ts [--optional]
 */
import { ensureDeepcellEnv, findPython310 } from '../core/mesmer-import/deepcell-env';

const optional = process.argv.includes('--optional') && !findPython310();
const t0 = Date.now();
ensureDeepcellEnv({ onProgress: (m) => process.stderr.write(`[deepcell-env] ${m}\n`) }).then((python) => {
  process.stderr.write(`[deepcell-env] ${python} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
}, (e: Error) => {
  process.stderr.write(`[deepcell-env] ${optional ? 'warning: ' : ''}${e.message}${optional ? '; the DeepCell oracle tests will be skipped' : ''}\n`);
  process.exitCode = optional ? 0 : 1;
});
