import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultChannels } from '../../core/convert/default-channels';
import { writeNpz } from '../../core/formats/npz';
import { DEEPCELL_REQUIREMENTS, deepcellHome, ensureDeepcellEnv, findPython310, PYTHON310_HINT } from '../../core/mesmer-import/deepcell-env';
import { generateTissue } from '../../core/synth/tissue';

const exec = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
export const ORACLE_SCRIPT = join(ROOT, 'infra', 'python', 'deepcell_oracle.py');

/** Seed of the oracle's Mesmer network: one whose random heads are not dead ReLUs on synthetic tissue. */
export const ORACLE_SEED = 4;

/**
 * `describe` when Python 3.10 is there (DeepCell's environment is then created on first use, or was by .ci/run),
 * else `describe.skip` with a note saying why and how to run it.
 */
export function describeWithDeepcell(name: string, fn: () => void): void {
  if (findPython310()) {
    describe(name, fn);
    return;
  }
  console.warn(`skipping '${name}': no Python 3.10, which DeepCell (TensorFlow 2.8) needs; ${PYTHON310_HINT}`);
  describe.skip(name, fn);
}

/** DeepCell's venv Python, creating the venv when needed (minutes; .ci/run does it before the tests). */
export function deepcellPython(): Promise<string> {
  return ensureDeepcellEnv({ onProgress: (m) => process.stderr.write(`${m}\n`) });
}

/** Runs a Python script with arguments in DeepCell's venv; returns the last stdout line parsed as JSON when it is JSON. */
export async function runDeepcellPython(python: string, script: string, args: string[]): Promise<Record<string, unknown>> {
  try {
    const { stdout } = await exec(python, [script, ...args], { maxBuffer: 1 << 26, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
    const last = stdout.trim().split('\n').pop() ?? '';
    return last.startsWith('{') ? JSON.parse(last) as Record<string, unknown> : {};
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${script} ${args[0]} failed: ${(err.stderr ?? err.message).slice(-3000)}`);
  }
}

/**
 * deepcell's Mesmer network with seeded random weights as a SavedModel, built once (≈45 s) and kept in
 * `.tessel/deepcell/fixtures` until the oracle's build_mesmer or DeepCell's lock changes, so suites and
 * bench/deepcell.ts share it.
 */
export async function oracleMesmerSavedModel(python: string, seed = ORACLE_SEED): Promise<string> {
  const script = readFileSync(ORACLE_SCRIPT, 'utf8');
  const recipe = /\ndef build_mesmer\(.*?(?=\ndef )/s.exec(script)?.[0] ?? script;
  const digest = createHash('sha256').update(recipe).update(readFileSync(DEEPCELL_REQUIREMENTS)).digest('hex').slice(0, 12);
  const dir = join(deepcellHome(), 'fixtures');
  const target = join(dir, `mesmer-seed${seed}-${digest}`);
  if (existsSync(join(target, 'saved_model.pb'))) return target;
  mkdirSync(dir, { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  await runDeepcellPython(python, ORACLE_SCRIPT, ['build-mesmer', '--out', tmp, '--seed', String(seed)]);
  try {
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true }); // another process built it first
    if (!existsSync(join(target, 'saved_model.pb'))) throw e;
  }
  return target;
}

/**
 * A synthetic tissue image (core/synth, seeded) as Tessel's NPZ intermediate: the convert stage's default channels
 * (DAPI as nuclear, the known membrane stains summed), raw intensities. DeepCell's oracle script reads the same file.
 */
export async function writeSyntheticNpz(path: string, size: number, seed: number): Promise<void> {
  const tissue = generateTissue({ width: size, height: size, seed, channels: 6 });
  const pick = defaultChannels(tissue.channelNames);
  const n = size * size;
  const raw = new Float32Array(n * 2);
  pick.nuclear.forEach((c) => tissue.channels[c].data.forEach((v, i) => { raw[2 * i] += v; }));
  pick.membrane.forEach((c) => tissue.channels[c].data.forEach((v, i) => { raw[2 * i + 1] += v; }));
  await writeNpz(path, { input_channels: { data: raw, shape: [size, size, 2], dtype: 'float32' } });
}

/** `tessel …` from the sources (tsx), asynchronously: exit code and output. */
export async function tesselCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, ['--require', require.resolve('tsx/cjs'), join(ROOT, 'cli', 'main.ts'), ...args],
      { cwd: ROOT, maxBuffer: 1 << 26, env: { ...process.env, ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
