import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The project virtualenv's Python (made by `node infra/bootstrap.mjs --test`), with numpy, tifffile, scikit-image. */
export const PYTHON = join(__dirname, '..', '..', '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');

export function requirePython(): string {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run 'node infra/bootstrap.mjs --test' first`);
  return PYTHON;
}

/** Run a Python snippet (`-c`) or script with arguments; returns stdout as a string. Throws with stderr on failure. */
export function runPython(codeOrScript: string, args: string[] = [], opts: ExecFileSyncOptions = {}): string {
  const py = requirePython();
  const argv = codeOrScript.endsWith('.py') ? [codeOrScript, ...args] : ['-c', codeOrScript, ...args];
  try {
    return execFileSync(py, argv, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts }) as string;
  } catch (e) {
    const err = e as { stderr?: Buffer | string; message: string };
    throw new Error(`python failed: ${err.stderr?.toString() ?? err.message}`);
  }
}
