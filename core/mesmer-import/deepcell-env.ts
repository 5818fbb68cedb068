import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TesselError } from '../errors';
import { PACKAGE_ROOT } from '../package-root';

/**
 * DeepCell's own Python environment: Python 3.10 (TensorFlow 2.8 has no wheels for later versions) with
 * deepcell 0.12.10, tensorflow-cpu 2.8, tf2onnx 1.14 and onnx 1.12 from `infra/python/requirements-deepcell.txt`.
 * `tessel model import-mesmer` converts with it; the oracle tests and bench/deepcell.ts run DeepCell itself in it.
 * Created on first use in `.tessel/deepcell/venv` (≈1.6 GB, 1–4 min from PyPI) and reused while a stamp of the
 * requirements file and the interpreter still matches, as infra/bootstrap.mjs does for `.venv`.
 */

/** The lock installed into the venv. */
export const DEEPCELL_REQUIREMENTS = join(PACKAGE_ROOT, 'infra', 'python', 'requirements-deepcell.txt');

/** What to tell a user without Python 3.10. */
export const PYTHON310_HINT = 'install Python 3.10 (Debian/Ubuntu: apt-get install python3.10 python3.10-venv; pyenv: pyenv install 3.10) '
  + 'or point TESSEL_PYTHON310 at a python3.10 executable';

/** `.tessel/deepcell` unless `TESSEL_DEEPCELL_HOME` says otherwise. */
export function deepcellHome(): string {
  return process.env.TESSEL_DEEPCELL_HOME || join(PACKAGE_ROOT, '.tessel', 'deepcell');
}

/** The venv's interpreter (present or not). */
export function deepcellPython(home = deepcellHome()): string {
  return join(home, 'venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
}

/** `major.minor` of an interpreter, or undefined when it does not run (a pyenv shim for an unselected version fails). */
function pythonVersion(exe: string): string | undefined {
  const r = spawnSync(exe, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * A working Python 3.10: `TESSEL_PYTHON310` when set (and then only it), else `python3.10` or `python3` on PATH,
 * else the newest 3.10 under pyenv's root (`PYENV_ROOT`, default ~/.pyenv), which is where a pyenv install lives
 * even when the shim on PATH selects another version. Undefined when none runs.
 */
export function findPython310(): string | undefined {
  const explicit = process.env.TESSEL_PYTHON310;
  if (explicit) return pythonVersion(explicit) === '3.10' ? explicit : undefined;
  for (const name of ['python3.10', 'python3']) if (pythonVersion(name) === '3.10') return name;
  const root = process.env.PYENV_ROOT || join(homedir(), '.pyenv');
  const versions = join(root, 'versions');
  if (!existsSync(versions)) return undefined;
  const found = readdirSync(versions).filter((v) => /^3\.10(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
  for (const v of found) {
    const exe = join(versions, v, 'bin', 'python3.10');
    if (existsSync(exe) && pythonVersion(exe) === '3.10') return exe;
  }
  return undefined;
}

/** Stamp content: the lock file and the base interpreter, so a new lock or a new Python rebuilds the venv. */
function stampFor(python: string): string {
  const real = execFileSync(python, ['-c', 'import sys; print(sys.executable, sys.version)'], { encoding: 'utf8' }).trim();
  return createHash('sha256').update(readFileSync(DEEPCELL_REQUIREMENTS)).update(real).digest('hex');
}

/** True when the venv exists and its stamp matches the current lock (no install needed). */
export function deepcellEnvReady(home = deepcellHome()): boolean {
  const stamp = join(home, 'venv.stamp');
  if (!existsSync(stamp) || !existsSync(deepcellPython(home))) return false;
  const [digest, base] = readFileSync(stamp, 'utf8').split('\n');
  return !!base && existsSync(base) && digest === stampFor(base);
}

export interface DeepcellEnvOptions {
  /** Progress lines (install steps). */
  onProgress?: (message: string) => void;
  /** Folder holding `venv/` and its stamp. @default {@link deepcellHome} */
  home?: string;
}

/**
 * The path of the venv's Python, creating or updating the venv first when needed. Concurrent callers (two
 * test suites, two imports) wait for one install through a lock folder; a lock left by a dead process is
 * taken over. The stamp is written last, so an interrupted install is redone from scratch next time.
 *
 * @throws TesselError `TOOL_UNAVAILABLE` when no Python 3.10 is found or the install fails (the message says why
 *   and what to install).
 */
export async function ensureDeepcellEnv(opts: DeepcellEnvOptions = {}): Promise<string> {
  const home = opts.home ?? deepcellHome();
  const log = opts.onProgress ?? (() => undefined);
  if (deepcellEnvReady(home)) return deepcellPython(home);
  const base = findPython310();
  if (!base) {
    const where = process.env.TESSEL_PYTHON310 ? `TESSEL_PYTHON310=${process.env.TESSEL_PYTHON310} is not a working Python 3.10` : 'no Python 3.10 found';
    throw new TesselError('TOOL_UNAVAILABLE', `${where}; deepcell 0.12.10 (TensorFlow 2.8) needs exactly Python 3.10: ${PYTHON310_HINT}`, { retryable: false });
  }
  mkdirSync(home, { recursive: true });
  const release = await acquireLock(join(home, 'install.lock'), log);
  try {
    if (deepcellEnvReady(home)) return deepcellPython(home); // another process installed it while we waited
    const venv = join(home, 'venv');
    rmSync(join(home, 'venv.stamp'), { force: true });
    rmSync(venv, { recursive: true, force: true });
    log(`deepcell env: creating ${venv} with ${base}`);
    await run(base, ['-m', 'venv', venv], 'python3.10 -m venv failed (Debian/Ubuntu: apt-get install python3.10-venv)');
    log(`deepcell env: installing ${DEEPCELL_REQUIREMENTS} (tensorflow-cpu 2.8, deepcell 0.12.10, tf2onnx 1.14; ≈1.6 GB, a few minutes)`);
    const t0 = Date.now();
    await run(deepcellPython(home), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '-r', DEEPCELL_REQUIREMENTS],
      `pip could not install ${DEEPCELL_REQUIREMENTS} (PyPI unreachable?)`);
    const resolved = execFileSync(base, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
    writeFileSync(join(home, 'venv.stamp'), `${stampFor(resolved)}\n${resolved}\n`);
    log(`deepcell env: ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return deepcellPython(home);
  } finally {
    release();
  }
}

/** Runs a command with its output on our stderr; rejects with a TOOL_UNAVAILABLE error saying `what` failed. */
function run(cmd: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    child.stderr.on('data', (d: Buffer) => { tail = (tail + d.toString()).slice(-2000); });
    child.on('error', (e) => reject(new TesselError('TOOL_UNAVAILABLE', `${what}: ${e.message}`, { retryable: false })));
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const last = tail.trim().split('\n').filter((l) => !/^\s*(WARNING|DEPRECATION|\[notice\])/i.test(l)).pop() ?? `exit ${code}`;
      reject(new TesselError('TOOL_UNAVAILABLE', `${what}: ${last.trim()}`, { retryable: false }));
    });
  });
}

/** A lock folder holding the owner's pid; waits while a live process holds it. Returns the release function. */
async function acquireLock(lock: string, log: (m: string) => void): Promise<() => void> {
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = Number(existsSync(join(lock, 'pid')) ? readFileSync(join(lock, 'pid'), 'utf8') : NaN);
    if (Number.isInteger(pid) && !alive(pid)) {
      rmSync(lock, { recursive: true, force: true }); // its owner died mid-install
      continue;
    }
    if (!told) log(`deepcell env: waiting for another install (${dirname(lock)})`);
    told = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
